package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mattermost/mattermost/server/public/pluginapi"
)

// KV is the part of the plugin KV store the trail needs.
// *pluginapi.KVService and *pluginapi.MemoryStore both satisfy it.
type KV interface {
	Set(key string, value any, options ...pluginapi.KVSetOption) (bool, error)
	Get(key string, o any) error
	ListKeys(page, count int, options ...pluginapi.ListKeysOption) ([]string, error)
}

var (
	_ KV = (*pluginapi.KVService)(nil)
	_ KV = (*pluginapi.MemoryStore)(nil)
)

// Outcome says how an action ended (or that it began).
type Outcome string

// Outcomes.
const (
	OutcomeStarted   Outcome = "started"
	OutcomeSucceeded Outcome = "succeeded"
	OutcomeFailed    Outcome = "failed"
	OutcomeRefused   Outcome = "refused"
	OutcomeSkipped   Outcome = "skipped"
)

// Valid reports whether o is one of the known outcomes.
func (o Outcome) Valid() bool {
	switch o {
	case OutcomeStarted, OutcomeSucceeded, OutcomeFailed, OutcomeRefused, OutcomeSkipped:
		return true
	}
	return false
}

// ActorSystem is the ActorID (and Actor) of scheduled work not started by a user.
const ActorSystem = "system"

// Errors returned by the trail. They are wrapped; test with errors.Is.
var (
	// ErrInvalidEntry: the Entry given to Append is not acceptable (programming error).
	ErrInvalidEntry = errors.New("audit: invalid entry")
	// ErrCorrupt: the stored trail is damaged where Append needs to write (run Verify).
	ErrCorrupt = errors.New("audit: trail corrupted")
	// ErrContention: Append gave up after its bounded number of attempts.
	ErrContention = errors.New("audit: append gave up")
)

// Record is one stored audit record.
type Record struct {
	Seq      uint64            `json:"seq"`      // 1, 2, 3… without gaps
	Time     time.Time         `json:"time"`     // UTC, millisecond precision, from the appending node's clock
	ActorID  string            `json:"actor_id"` // Mattermost user id, or "system" for scheduled work
	Actor    string            `json:"actor"`    // username at the time
	Node     string            `json:"node"`     // cluster node id / hostname that appended the record
	Action   string            `json:"action"`   // dotted, e.g. "backup.start", "sso.fallback", "auth.refused"
	Target   string            `json:"target"`   // what it acted on: backup id, user id, region…
	Outcome  Outcome           `json:"outcome"`
	Reason   string            `json:"reason,omitempty"`
	Details  map[string]string `json:"details,omitempty"`
	PrevHash string            `json:"prev_hash"` // Hash of the previous record; "" for seq 1
	Hash     string            `json:"hash"`      // hex SHA-256 of this record's canonical encoding
}

// recordJSON is Record's JSON form: the same members, with time always in
// CanonicalTimeLayout (three fraction digits), so stored records and exports
// carry exactly the time string the hash covers.
type recordJSON struct {
	Seq      uint64            `json:"seq"`
	Time     string            `json:"time"`
	ActorID  string            `json:"actor_id"`
	Actor    string            `json:"actor"`
	Node     string            `json:"node"`
	Action   string            `json:"action"`
	Target   string            `json:"target"`
	Outcome  Outcome           `json:"outcome"`
	Reason   string            `json:"reason,omitempty"`
	Details  map[string]string `json:"details,omitempty"`
	PrevHash string            `json:"prev_hash"`
	Hash     string            `json:"hash"`
}

// MarshalJSON writes the record with its time in CanonicalTimeLayout.
// (Decoding needs no counterpart: time.Time reads that layout.)
func (r Record) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(recordJSON{
		Seq:      r.Seq,
		Time:     r.Time.UTC().Format(CanonicalTimeLayout),
		ActorID:  r.ActorID,
		Actor:    r.Actor,
		Node:     r.Node,
		Action:   r.Action,
		Target:   r.Target,
		Outcome:  r.Outcome,
		Reason:   r.Reason,
		Details:  r.Details,
		PrevHash: r.PrevHash,
		Hash:     r.Hash,
	})
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), err
}

// Entry holds the fields of a record that the caller sets; the trail fills
// in Seq, Time, Node, PrevHash and Hash.
type Entry struct {
	ActorID string // required: user id, or ActorSystem
	Actor   string // username at the time (ActorSystem for scheduled work)
	Action  string // required: lower-case dotted name, [a-z0-9_-] segments, e.g. "restore.user"
	Target  string
	Outcome Outcome // required
	Reason  string
	Details map[string]string // copied; secret-looking keys are redacted
}

// Size limits applied by Append. Longer free text is truncated (marked with
// truncatedMark) rather than rejected, so that an action is never left
// unrecorded because of a long error message.
const (
	maxIDLen          = 128
	maxActionLen      = 128
	maxTargetLen      = 1024
	maxReasonLen      = 4096
	maxDetails        = 64
	maxDetailKeyLen   = 128
	maxDetailValueLen = 2048

	truncatedMark = "…[truncated]"
)

// Redactor may rewrite a Details value before it is stored; it returns the
// value to store.
type Redactor func(key, value string) string

// Option configures a Trail.
type Option func(*Trail)

// WithClock sets the clock (tests use a fixed or stepping clock).
func WithClock(now func() time.Time) Option {
	return func(t *Trail) {
		if now != nil {
			t.now = now
		}
	}
}

// WithRedactor adds a redaction step that runs after the built-in key-based
// one (which cannot be turned off).
func WithRedactor(r Redactor) Option {
	return func(t *Trail) {
		if r != nil {
			t.redactors = append(t.redactors, r)
		}
	}
}

// Trail is the audit trail of one node. It is safe for concurrent use, and
// several Trails (on several nodes) may share one KV store.
type Trail struct {
	kv        KV
	node      string
	now       func() time.Time
	redactors []Redactor
	skew      time.Duration // how far apart two nodes' clocks may be: Query stops this far past a bound

	// tuning; fixed in production, lowered by tests
	maxAttempts int
	backoffBase time.Duration
	backoffMax  time.Duration
	pageSize    int
	readers     int
	listPage    int
	settleDelay time.Duration

	mu sync.Mutex // serializes this process's appends
}

// New returns the trail stored in kv, appended to by this node. An empty
// node falls back to the hostname.
func New(kv KV, node string, opts ...Option) *Trail {
	if node == "" {
		node, _ = os.Hostname()
		if node == "" {
			node = "unknown"
		}
	}
	t := &Trail{
		kv:          kv,
		node:        node,
		now:         time.Now,
		skew:        5 * time.Minute,
		maxAttempts: 40,
		backoffBase: time.Millisecond,
		backoffMax:  200 * time.Millisecond,
		pageSize:    100,
		readers:     4,
		listPage:    10000,
		settleDelay: 20 * time.Millisecond,
	}
	for _, o := range opts {
		if o != nil {
			o(t)
		}
	}
	return t
}

// Node returns the node name written into this trail's records.
func (t *Trail) Node() string { return t.node }

const (
	recordPrefix = "audit/r/"
	headKey      = "audit/head"
	seqDigits    = 16
)

func recordKey(seq uint64) string { return fmt.Sprintf("%s%0*d", recordPrefix, seqDigits, seq) }

// head is the value stored at headKey.
type head struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

func (h head) encode() []byte {
	b, _ := json.Marshal(h) // cannot fail; deterministic, so every node produces the same bytes
	return b
}

// Append records one action and returns the stored record. It returns only
// once the record is committed (see the package documentation for the
// protocol). On error the record was not committed, with one exception: if
// the store failed with an error on a write that did land and kept hiding it
// until Append gave up, the record is in the trail (Query and Verify show it).
func (t *Trail) Append(e Entry) (Record, error) {
	rec, err := t.prepare(e)
	if err != nil {
		return Record{}, err
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	// Read the clock under the lock so that one node's records are in time
	// order.
	rec.Time = t.now().UTC().Truncate(time.Millisecond)

	var (
		lastErr error
		// Inserts that failed with a KV error: the write may have landed
		// anyway (seq -> hash of what was written).
		ambiguous = map[uint64]string{}
	)
attempts:
	for attempt := 1; attempt <= t.maxAttempts; attempt++ {
		if attempt > 1 {
			t.sleep(attempt - 1)
		}

		headRaw, h, err := t.readHead()
		if err != nil {
			if errors.Is(err, ErrCorrupt) {
				return Record{}, err
			}
			lastErr = err
			continue
		}

		// Did an ambiguous insert land after all? Then it is committed:
		// report it instead of appending a duplicate.
		for seq, hash := range ambiguous {
			got, found, err := t.readRecord(seq)
			switch {
			case err != nil && !errors.Is(err, ErrCorrupt):
				lastErr = err
				continue attempts
			case found && err == nil && got.Hash == hash:
				t.advanceHeadTo(got)
				return got, nil
			case found:
				delete(ambiguous, seq) // another record holds that seq: ours did not land
			case h.Seq >= seq:
				// The head is past seq, so a record exists there, but this
				// read does not show it (a lagging read replica): look again.
				lastErr = fmt.Errorf("record %d not visible yet", seq)
				continue attempts
			}
		}

		rec.Seq = h.Seq + 1
		rec.PrevHash = h.Hash
		raw, err := seal(&rec)
		if err != nil {
			return Record{}, err
		}
		inserted, err := t.kv.Set(recordKey(rec.Seq), raw, pluginapi.SetAtomic(nil))
		if err != nil {
			lastErr = fmt.Errorf("audit: insert record %d: %w", rec.Seq, err)
			ambiguous[rec.Seq] = rec.Hash
			continue
		}
		if inserted {
			// Committed. Moving the head is best effort: if it fails, the
			// next Append (of any node) moves it.
			t.casHead(headRaw, head{Seq: rec.Seq, Hash: rec.Hash})
			return rec, nil
		}

		// The key is taken: by another writer that won seq n+1 (or one that
		// died before moving the head), or by our own earlier insert that
		// reported an error but landed (same seq and prev_hash give the same
		// record, hence the same hash).
		if ambiguous[rec.Seq] == rec.Hash {
			if got, found, err := t.readRecord(rec.Seq); err == nil && found && got.Hash == rec.Hash {
				t.casHead(headRaw, head{Seq: rec.Seq, Hash: rec.Hash})
				return got, nil
			}
		}
		// Check what is there and move the head over it.
		if err := t.catchUp(headRaw, h); err != nil {
			if errors.Is(err, ErrCorrupt) {
				return Record{}, err
			}
			lastErr = err
		} else {
			lastErr = fmt.Errorf("seq %d taken by a concurrent append", rec.Seq)
		}
	}
	return Record{}, fmt.Errorf("%w after %d attempts: %w", ErrContention, t.maxAttempts, lastErr)
}

// AppendBatch records several actions, in order, and returns the stored
// records. It is Append for many entries at a lower cost: the head is read
// once (again only after a lost race or a store error) instead of once per
// record. Each record is still committed on its own by the insert-only write
// of its key, chained onto the one before it, and the head is moved over it
// with compare-and-set before the next one is inserted, so that at most one
// committed record lies beyond the head at any instant, as with Append: a
// writer killed half-way leaves what Append's crash window leaves, and Verify
// running meanwhile sees nothing else either.
//
// If another node wins the seq a record was about to take, its records are
// checked and walked over as Append does, and the rest of the batch is
// appended after them: nothing is lost or written twice. Every entry is
// validated before anything is written; one invalid entry fails the batch
// with ErrInvalidEntry and nothing recorded.
//
// On error, the returned records are those committed so far: a prefix of
// entries, in order (with Append's exception for a write that landed while
// the store kept reporting an error). The attempt budget is Append's, counted
// from the last record committed, so a long batch is not given up on because
// another node keeps winning races now and then.
func (t *Trail) AppendBatch(entries []Entry) ([]Record, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	recs := make([]Record, len(entries))
	for i, e := range entries {
		r, err := t.prepare(e)
		if err != nil {
			return nil, fmt.Errorf("batch entry %d: %w", i, err)
		}
		recs[i] = r
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	// One clock read per record, under the lock, as k Appends would do: one
	// node's records stay in time order.
	for i := range recs {
		recs[i].Time = t.now().UTC().Truncate(time.Millisecond)
	}

	var (
		done    int // recs[:done] are committed
		lastErr error
		// Inserts of recs[done] that failed with a KV error (seq -> hash of
		// what was written): the write may have landed anyway.
		ambiguous = map[uint64]string{}
	)
	commit := func(r Record) {
		recs[done] = r
		done++
		clear(ambiguous) // they were all attempts at this record (see below)
	}
attempts:
	for attempt := 1; attempt <= t.maxAttempts; attempt++ {
		if attempt > 1 {
			t.sleep(attempt - 1)
		}

		headRaw, h, err := t.readHead()
		if err != nil {
			if errors.Is(err, ErrCorrupt) {
				return recs[:done], err
			}
			lastErr = err
			continue
		}

		// Did an ambiguous insert of recs[done] land after all? Then it is
		// committed: keep it and go on with the next entry. Only recs[done]
		// can be ambiguous: an insert error ends the attempt, and the next
		// record is only written once this one is known to be committed.
		for seq, hash := range ambiguous {
			got, found, err := t.readRecord(seq)
			switch {
			case err != nil && !errors.Is(err, ErrCorrupt):
				lastErr = err
				continue attempts
			case found && err == nil && got.Hash == hash:
				commit(got)
				t.advanceHeadTo(got)
				if done == len(recs) {
					return recs, nil
				}
				attempt = 0 // progress: a fresh budget (the loop adds one)
				continue attempts
			case found:
				delete(ambiguous, seq) // another record holds that seq: ours did not land
			case h.Seq >= seq:
				// The head is past seq, so a record exists there, but this
				// read does not show it (a lagging read replica): look again.
				lastErr = fmt.Errorf("record %d not visible yet", seq)
				continue attempts
			}
		}

		base, baseRaw := h, headRaw
		for done < len(recs) {
			rec := recs[done]
			rec.Seq = base.Seq + 1
			rec.PrevHash = base.Hash
			raw, err := seal(&rec)
			if err != nil {
				return recs[:done], err
			}
			inserted, err := t.kv.Set(recordKey(rec.Seq), raw, pluginapi.SetAtomic(nil))
			if err != nil {
				lastErr = fmt.Errorf("audit: insert record %d: %w", rec.Seq, err)
				ambiguous[rec.Seq] = rec.Hash
				continue attempts
			}
			if !inserted {
				// Taken: by our own earlier insert that reported an error but
				// landed (same seq, prev_hash and time give the same hash), or
				// by another writer, whose records are checked and walked over
				// before the rest of the batch is retried on top of them.
				ours := false
				if ambiguous[rec.Seq] == rec.Hash {
					got, found, err := t.readRecord(rec.Seq)
					ours = err == nil && found && got.Hash == rec.Hash
				}
				if !ours {
					if err := t.catchUp(baseRaw, base); err != nil {
						if errors.Is(err, ErrCorrupt) {
							return recs[:done], err
						}
						lastErr = err
					} else {
						lastErr = fmt.Errorf("seq %d taken by a concurrent append", rec.Seq)
					}
					continue attempts
				}
			}
			commit(rec)
			attempt = 1 // progress: a fresh budget
			next := head{Seq: rec.Seq, Hash: rec.Hash}
			// The next record may only be inserted once the head names this
			// one (at most one committed record beyond the head). A failed
			// compare-and-set is fine: only a writer that moved the head to
			// this record or past it makes it fail, and a record past it
			// makes the next insert collide. A store error leaves the head
			// unknown: read it again.
			if _, err := t.kv.Set(headKey, next.encode(), pluginapi.SetAtomic(headValue(baseRaw))); err != nil {
				lastErr = fmt.Errorf("audit: move head to %d: %w", next.Seq, err)
				if done == len(recs) {
					return recs, nil // committed; the next Append moves the head
				}
				continue attempts
			}
			base, baseRaw = next, next.encode()
		}
		return recs, nil
	}
	return recs[:done], fmt.Errorf("%w after %d attempts without progress (%d of %d records committed): %w",
		ErrContention, t.maxAttempts, done, len(recs), lastErr)
}

// catchUp walks the committed records beyond head h, checking that each one
// chains onto the one before, and compare-and-sets the head to the last of
// them. Normally there is exactly one (the record of the writer that just won
// the race); there are more only when the head was rolled back or deleted.
func (t *Trail) catchUp(headRaw []byte, h head) error {
	cur := h
	for {
		next := cur.Seq + 1
		r, found, err := t.readRecord(next)
		if err != nil {
			return err
		}
		if !found {
			break
		}
		if problem := linkProblem(&r, next, cur.Hash); problem != "" {
			return fmt.Errorf("%w: record %d exists but cannot be appended after seq %d: %s", ErrCorrupt, next, cur.Seq, problem)
		}
		cur = head{Seq: r.Seq, Hash: r.Hash}
	}
	if cur.Seq != h.Seq {
		t.casHead(headRaw, cur)
	}
	return nil
}

// advanceHeadTo moves the head to r if it is still just before r.
func (t *Trail) advanceHeadTo(r Record) {
	raw, h, err := t.readHead()
	if err != nil || h.Seq+1 != r.Seq || h.Hash != r.PrevHash {
		return
	}
	t.casHead(raw, head{Seq: r.Seq, Hash: r.Hash})
}

// casHead replaces the head whose stored bytes are old (nil: no head yet)
// with h. Failure is fine: the head only ever moves forward, so a failed
// compare-and-set means someone else already moved it.
func (t *Trail) casHead(old []byte, h head) {
	_, _ = t.kv.Set(headKey, h.encode(), pluginapi.SetAtomic(headValue(old)))
}

// headValue is the old value for a compare-and-set of the head whose stored
// bytes are old: untyped nil (insert only) when there is no head yet.
func headValue(old []byte) any {
	if len(old) > 0 {
		return old
	}
	return nil
}

func (t *Trail) sleep(retry int) {
	d := t.backoffBase << min(retry, 16)
	if d <= 0 || d > t.backoffMax {
		d = t.backoffMax
	}
	if d <= 0 {
		return
	}
	// full jitter in [d/2, d]
	time.Sleep(d/2 + rand.N(d/2+1)) //nolint:gosec // jitter for retries, not security
}

// readHead returns the head's stored bytes (for compare-and-set) and value;
// a missing head is seq 0. An unreadable head is ErrCorrupt.
func (t *Trail) readHead() ([]byte, head, error) {
	var raw []byte
	if err := t.kv.Get(headKey, &raw); err != nil {
		return nil, head{}, fmt.Errorf("audit: read head: %w", err)
	}
	if len(raw) == 0 {
		return nil, head{}, nil
	}
	var h head
	if err := json.Unmarshal(raw, &h); err != nil {
		return raw, head{}, fmt.Errorf("%w: head unreadable: %w", ErrCorrupt, err)
	}
	return raw, h, nil
}

// readRecord reads the record stored under seq. found is false when the key
// does not exist; an undecodable value is reported as ErrCorrupt with found
// true.
func (t *Trail) readRecord(seq uint64) (Record, bool, error) {
	var raw []byte
	if err := t.kv.Get(recordKey(seq), &raw); err != nil {
		return Record{}, false, fmt.Errorf("audit: read record %d: %w", seq, err)
	}
	if len(raw) == 0 {
		return Record{}, false, nil
	}
	var r Record
	if err := json.Unmarshal(raw, &r); err != nil {
		return Record{}, true, fmt.Errorf("%w: record %d unreadable: %w", ErrCorrupt, seq, err)
	}
	return r, true, nil
}

// linkProblem checks that r, stored under seq, is intact and follows a
// record whose hash is prevHash. It returns "" when it does.
func linkProblem(r *Record, seq uint64, prevHash string) string {
	if r.Seq != seq {
		return fmt.Sprintf("seq field is %d", r.Seq)
	}
	if p := hashProblem(r); p != "" {
		return p
	}
	if r.PrevHash != prevHash {
		return fmt.Sprintf("prev_hash %s does not match %q", short(r.PrevHash), short(prevHash))
	}
	return ""
}

// hashProblem checks r.Hash against the canonical encoding of r.
func hashProblem(r *Record) string {
	if !r.Time.Equal(r.Time.Truncate(time.Millisecond)) {
		return "time has sub-millisecond digits, which this trail never writes"
	}
	sum, err := ComputeHash(*r)
	if err != nil {
		return err.Error()
	}
	if sum != r.Hash {
		return fmt.Sprintf("stored hash %s, computed %s", short(r.Hash), short(sum))
	}
	return ""
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

// seal computes r.Hash and returns the bytes to store.
func seal(r *Record) ([]byte, error) {
	sum, err := ComputeHash(*r)
	if err != nil {
		return nil, err
	}
	r.Hash = sum
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("audit: encode record: %w", err)
	}
	return raw, nil
}

// prepare validates e and turns it into a record without seq and hashes.
func (t *Trail) prepare(e Entry) (Record, error) {
	if e.ActorID == "" {
		return Record{}, fmt.Errorf("%w: actor_id is required (use %q for scheduled work)", ErrInvalidEntry, ActorSystem)
	}
	if err := validAction(e.Action); err != nil {
		return Record{}, err
	}
	if !e.Outcome.Valid() {
		return Record{}, fmt.Errorf("%w: unknown outcome %q", ErrInvalidEntry, e.Outcome)
	}
	if len(e.Details) > maxDetails {
		return Record{}, fmt.Errorf("%w: %d details, at most %d", ErrInvalidEntry, len(e.Details), maxDetails)
	}

	r := Record{
		ActorID: clean(e.ActorID, maxIDLen),
		Actor:   clean(e.Actor, maxIDLen),
		Node:    clean(t.node, maxIDLen),
		Action:  e.Action,
		Target:  clean(e.Target, maxTargetLen),
		Outcome: e.Outcome,
		Reason:  clean(e.Reason, maxReasonLen),
	}
	if len(e.Details) > 0 {
		r.Details = make(map[string]string, len(e.Details))
		for k, v := range e.Details {
			if k == "" || len(k) > maxDetailKeyLen || !utf8.ValidString(k) {
				return Record{}, fmt.Errorf("%w: detail key %q: must be 1..%d bytes of UTF-8", ErrInvalidEntry, k, maxDetailKeyLen)
			}
			v = t.redact(k, v)
			r.Details[k] = clean(v, maxDetailValueLen)
		}
	}
	return r, nil
}

func (t *Trail) redact(key, value string) string {
	if IsSecretKey(key) {
		return Redacted
	}
	for _, r := range t.redactors {
		value = r(key, value)
	}
	return value
}

func validAction(a string) error {
	if a == "" || len(a) > maxActionLen {
		return fmt.Errorf("%w: action must be 1..%d characters", ErrInvalidEntry, maxActionLen)
	}
	for _, seg := range strings.Split(a, ".") {
		if seg == "" {
			return fmt.Errorf("%w: action %q has an empty segment", ErrInvalidEntry, a)
		}
		for _, c := range seg {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' && c != '-' {
				return fmt.Errorf("%w: action %q: only lower-case letters, digits, '_', '-' and '.' are allowed", ErrInvalidEntry, a)
			}
		}
	}
	return nil
}

// clean makes s valid UTF-8 (so that it survives JSON unchanged and the
// hash stays stable) and truncates it to at most limit bytes.
func clean(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= limit {
		return s
	}
	cut := limit - len(truncatedMark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncatedMark
}
