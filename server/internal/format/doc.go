// Package format is the on-storage format of a backup, shared by its writer (backup), its
// verifier (verify) and restore: the manifest and its checksum, the object stream (zstd, then
// age), the pool keys and the file index, the age identities that read them, the signature
// sidecars and the trust rule that decides which backups the caller vouches for, and the
// verification record.
//
// # Layout
//
// Each destination (a storage.Store: a local folder or an S3 bucket) holds:
//
//	backups/<id>/run.json                     while the backup runs (written and removed by package backup); removed at the end
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
// store's S3 client can copy into (see backup.setupCopies); each index entry records which encoding
// it uses at that destination (IndexEntry.Enc), and manifests whose index names a raw object
// have format version 2. The manifest
// is plain JSON, never encrypted and free of secrets, so listing and checking backups need no
// private key; it lists every object of the backup with its stored size and the SHA-256 of
// the stored bytes, but not the pool objects (the file index is that list).
package format
