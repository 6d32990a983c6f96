// Package pgdump takes a consistent, streaming, online dump of Mattermost's
// PostgreSQL database with pg_dump --format=custom, together with the row
// count of every table taken in the same snapshot, so that a restore can later
// be verified against them.
//
// # Consistency
//
// Dump opens one connection of its own, starts a
// REPEATABLE READ READ ONLY transaction, exports its snapshot
// (pg_export_snapshot), counts the rows of every ordinary table in that
// transaction, and only then starts pg_dump with --snapshot=<id>. pg_dump
// imports the snapshot, so its data and the counts see exactly the same
// committed transactions, however busy the server is. The exporting
// transaction stays open until pg_dump has exited:
//
//   - an exported snapshot can only be imported while the exporting
//     transaction is open, and Dump cannot tell when pg_dump has imported it;
//   - the counts leave ACCESS SHARE locks on every table until the
//     transaction ends. No TRUNCATE or table-rewriting ALTER TABLE can commit
//     between the counts and pg_dump taking its own locks; those are not
//     MVCC-safe and would make the table look empty to the older snapshot.
//
// Holding those locks has one hazard: DDL that queues for an exclusive lock
// behind them makes pg_dump's own lock requests queue behind the DDL, and the
// database cannot see the cycle (Dump waits for pg_dump in Go). pg_dump runs
// with --lock-wait-timeout so that such a cycle fails the dump after
// lockWaitTimeout instead of blocking the DDL, and Mattermost's queries behind
// it, forever. The counts themselves give up after lockWaitTimeout waiting
// for a lock, and the transaction turns off idle_in_transaction_session_timeout,
// statement_timeout (and transaction_timeout on PostgreSQL 17+) for itself,
// since it idles while pg_dump runs.
//
// The counts are exact (count(*)): they read every table once more, which on
// a large Posts table takes about as long as pg_dump's own read of it.
//
// Options.InSnapshot runs the caller's own queries in that same transaction,
// while pg_dump runs: the backup engine lists the file paths the dumped rows
// refer to this way, so that the list matches the archive exactly.
//
// # Secrets
//
// The connection settings are parsed from Mattermost's SqlSettings.DataSource
// (URL or key=value form) and handed to pg_dump in PG* environment variables,
// never on its command line (which any local user can read in ps). Every
// error that quotes the DataSource or pg_dump's output has the password
// replaced by "xxxxx".
//
// # Streaming
//
// pg_dump writes to a pipe that Dump copies to the caller's writer as the
// bytes come: nothing is buffered whole or written to a temporary file.
// Canceling the context, or a failing writer, kills pg_dump's process group.
package pgdump
