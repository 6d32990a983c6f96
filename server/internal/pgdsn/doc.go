// Package pgdsn parses a PostgreSQL connection string (Mattermost's
// SqlSettings.DataSource, URL or key=value form) once, and from that one value
// gives the pgx connection configuration, the PG* environment of the client
// programs (pg_dump, pg_restore, psql) and the form with passwords masked for
// messages.
//
// Driver-only parameters (lib/pq's, pgx's, pgxpool's pool_* keys) are dropped
// when parsing: neither libpq nor the server knows them, and a DataSource
// written for Mattermost may carry them. libpq keywords pgx does not take
// (keepalives, sslcrl, ...) go only to the client programs.
//
// The hand-written parser keeps every keyword as written, which pgx's parser
// does not expose; the pgx configuration itself is still pgx.ParseConfig's.
package pgdsn
