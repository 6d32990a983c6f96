// Package audit is the append-only, tamper-evident audit trail of every
// disaster-recovery action: backups, verifies, drills, restores, each SSO
// switch and restore per user, failover steps, settings changes and refused
// non-admin attempts.
//
// The trail lives in the plugin KV store and is shared by every node of a
// Mattermost cluster: several plugin processes append to it concurrently
// through the same store, and any of them can query, verify or export it.
//
// # Storage layout
//
//	audit/r/<seq>   one Record, JSON, seq written as 16 zero-padded decimal
//	                digits (audit/r/0000000000000001, ...). Insert-only: a
//	                record key is written once with SetAtomic(nil) and never
//	                overwritten or deleted by this package.
//	audit/head      {"seq":N,"hash":"<hash of record N>"}: the last record
//	                known to be committed. Only moved forward, and only with
//	                compare-and-set (SetAtomic(old bytes)).
//
// # Append protocol (why there are no gaps)
//
// The record is written first, the head is advanced second:
//
//  1. read the head (seq n, hash h);
//  2. insert record n+1, with prev_hash h, under audit/r/<n+1> using
//     SetAtomic(nil) (insert-only);
//  3. compare-and-set the head from {n,h} to {n+1, hash of record n+1}.
//
// The insert in step 2 is the commit point: exactly one writer can create a
// given record key, and once it exists it is part of the chain. If the insert
// finds the key taken, another node won seq n+1 (or a writer died after its
// insert, see below). The loser checks that the record it found really chains
// onto the head it read (seq field, prev_hash, hash recomputed); if it does,
// it "helps": it moves the head forward over it with compare-and-set, backs
// off a little (jittered exponential) and retries from step 1. If the record
// it found does not chain, the store is corrupted and Append returns
// ErrCorrupt instead of writing anywhere else. Retries are bounded; running
// out of attempts returns ErrContention. Within one process appends of a
// Trail are serialized by a mutex, so contention only comes from other nodes.
//
// AppendBatch runs the same protocol for several records: the head is read
// once, then each record is inserted at the next seq (chained onto the one
// before it) and the head moved over it before the next one is inserted, so
// the invariant below holds during a batch too. A record that finds its key
// taken makes the batch catch up over the winner's records, as Append does,
// and the rest of the batch is appended after them.
//
// The head compare-and-set in step 3 is best effort: if it fails, someone
// already moved the head (helping) or will do so on the next Append. Because
// a record n+1 is only ever inserted by a writer that saw the head at n, and
// the head only reaches n+1 once record n+1 exists, at any instant at most
// one committed record lies beyond the head.
//
// # The crash window
//
// A process killed (kill -9) between steps 2 and 3 leaves a complete,
// correctly chained record at head+1 and a head that lags by one. Nothing is
// missing and nothing is half-written: Verify reports OK with Pending set and
// a Note saying that the record beyond the head was committed but the head
// not yet advanced (an append in flight, or a writer that died), Query and
// the exports include that record, and the next Append by any node advances
// the head over it before appending its own record. A process killed before
// step 2 leaves nothing at all (the action was not recorded, and its caller
// never saw a successful Append). A KV error on the insert is ambiguous (the
// write may have landed): the retry first looks whether the record it tried
// to write is there and, if so, reports success instead of writing a
// duplicate. A retry at the same seq builds the very same record (same
// prev_hash, same time), so finding it there also counts as success.
//
// Mattermost serves KVGet from a read replica when one is configured, while
// the atomic writes go to the master. Stale reads only cost retries: a stale
// head makes the insert collide and the writer catch up; a compare-and-set
// with stale head bytes simply fails. Verify looks at a missing record twice
// and confirms a lagging head several times before reporting either.
//
// A head more than one record behind the chain (rolled back or deleted by
// hand) is reported by Verify as a problem; Append walks the head forward
// over the existing records before appending, so nothing is overwritten. A
// record where the next one must go that does not chain onto the head stops
// Append with ErrCorrupt (it never writes anywhere else); so does an
// unreadable head. Both need an administrator: run Verify.
//
// # Reading
//
// Query walks back from the end of the chain (the head, or the record just
// past it) a page of records at a time, reading each page with a few
// concurrent KV reads; Verify walks forward from seq 1 and the exports
// forward from the first record that can match, also a page at a time.
// None of them holds more than a page of records, whatever the trail's size.
// Verify also lists the store's keys (names only, a page at a time) to find
// records stored past a gap at the end of the chain. Query and the exports
// skip missing or unreadable records; Verify is what reports them.
//
// # Canonical encoding and hash chain
//
// Record.Hash is the lower-case hex SHA-256 of the record's canonical
// encoding, and Record.PrevHash is the Hash of the record before it ("" for
// seq 1). The canonical encoding is compact JSON (no spaces, no trailing
// newline) of an object with exactly these members, in this order:
//
//	seq        number
//	time       string, UTC, layout 2006-01-02T15:04:05.000Z (always three
//	           fraction digits)
//	actor_id, actor, node, action, target, outcome, reason
//	           strings (always present, "" when empty)
//	details    object with string values, members sorted by key (always
//	           present, {} when empty)
//	prev_hash  string
//
// The stored record (and each line of ExportJSONL) is the same object plus
// "hash", with "reason" and "details" left out when empty, and "time" in
// the same layout, so a checker can copy "time" verbatim.
//
// Strings are escaped as Go's encoding/json does with HTML escaping turned
// off: '"' and '\\' are backslash-escaped, control characters as \b, \f,
// \n, \r, \t or \u00XX, U+2028 and U+2029 as \u2028 and \u2029, and
// everything else (including non-ASCII) as raw UTF-8; Append stores only
// valid UTF-8. Hash is not part of its own input. An external checker
// re-reads each audit/r/<seq> value, rebuilds that object from the stored
// fields, hashes it and compares with "hash", and compares "prev_hash" with
// the previous record's "hash". CanonicalJSON and ComputeHash expose the
// exact encoding.
//
// The chain makes edits, deletions and reordering of records evident. It
// cannot, on its own, prove that the newest records were not cut off together
// with a matching rewrite of the head, nor that a record was not rewritten
// with every record after it re-hashed: the hash is a plain SHA-256, and
// anyone who can write the KV store can do either. Copies of the head kept
// outside the store (Anchor: the plugin writes one into every backup
// manifest, the server log and a daily post) close that gap up to the
// anchor's seq: Verify(anchors...) reports a chain that ends before an anchor
// (ProblemAnchorTruncated) or holds another hash at its seq
// (ProblemAnchorMismatch). Records appended after the newest anchor remain
// as exposed as before.
//
// # Secrets
//
// Records never hold passwords, tokens or other secrets. Append replaces the
// value of every Details entry whose key looks secret with "[redacted]": keys
// that, lower-cased and with '_', '-', '.' and spaces removed, contain
// password, passwd, secret, token, privatekey, encryptionkey, signingkey,
// sshkey, credential, apikey, accesskey, authorization, bearer, cookie, salt,
// datasource, dsn or connectionstring (see IsSecretKey). Values are not inspected: a Mattermost
// session token cannot be recognised reliably by its shape, so callers must
// not put secrets under innocuous keys, nor in Reason or Target (free text
// written by code). WithRedactor adds a further redaction step; it cannot
// disable the key-based one.
//
// # Time
//
// Record.Time comes from the appending node's clock (WithClock in tests),
// in UTC, truncated to milliseconds so it round-trips JSON exactly and the
// hash stays stable. Records are ordered by seq, not by time; clocks of
// different nodes may disagree slightly. Query and the exports use time
// bounds to stop walking early and assume no two nodes' clocks differ by more
// than 5 minutes.
package audit
