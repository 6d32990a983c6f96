// Package backup takes backups and expires them (retention) of a Mattermost server: its PostgreSQL
// database, its configuration and its file store, online, streamed, compressed, optionally
// encrypted, to one or more destinations at once.
//
// The layout of a backup at a destination (manifest, objects, pool, file index, signatures)
// is package format's; this package writes it.
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
