// Package backup takes, lists and expires backups of a Mattermost server: its PostgreSQL
// database, its configuration and its file store, online, streamed, compressed, optionally
// encrypted, to one or more destinations at once.
//
// # Layout
//
// Each destination (a storage.Store: a local folder or an S3 bucket) holds:
//
//	backups/<id>/run.json                     while the backup runs (see runMarker); removed at the end
//	backups/<id>/database.dump.zst[.age]      pg_dump -Fc, uncompressed by pg_dump, then zstd (then age)
//	backups/<id>/referenced.jsonl.zst[.age]   the file paths the dumped database refers to (Reference)
//	backups/<id>/config.tar.zst[.age]         effective-config.json and files/<name> of the config directory
//	backups/<id>/files.jsonl.zst[.age]        the file index, one IndexEntry per line, by path
//	backups/<id>/manifest.json                written last: no manifest, no backup
//	pool/<sha[0:2]>/<sha256>                  file content by the SHA-256 of the plain content, zstd (+age)
//	pool/<sha[0:2]>/<sha256>.raw              the same, as is: copied server-side from an S3 file store
//
// The pool is shared by every backup at that destination: content already there is not
// uploaded again, so a backup of an unchanged file store uploads no file bytes. A raw object
// is written only by unencrypted backups, when the destination is an S3 bucket the file
// store's S3 client can copy into (see setupCopies); each index entry records which encoding
// it uses at that destination (IndexEntry.Enc), and manifests whose index names a raw object
// have format version 2. The manifest
// is plain JSON, never encrypted and free of secrets, so listing and checking backups need no
// private key; it lists every object of the backup with its stored size and the SHA-256 of
// the stored bytes, but not the pool objects (the file index is that list).
//
// # Streaming and memory
//
// Nothing is staged on disk or held whole in memory: pg_dump's output, the config tar, the
// file index and each file flow through a zstd encoder (one goroutine, 4 MiB window), an age
// encrypter (64 KiB chunks) and a hasher into one io.Pipe per destination, each read by that
// destination's Put. The file walk, the previous index and the new index are streamed side
// by side in path order. What grows with the file store is the pool listing (32 bytes per
// object per destination) and nothing else.
//
// # Encryption
//
// With recipients (age public keys) every object but the manifest is encrypted; the server
// never needs the private key to write. The file index is also encrypted to the plugin's own
// index key (Options.IndexIdentity), so that later runs can find unchanged files and PrunePool
// can tell which pool objects are in use, without the backup's private key.
package backup
