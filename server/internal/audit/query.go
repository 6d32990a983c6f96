package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Query limits.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// Filter selects records. Empty fields match everything; all set fields
// must match.
type Filter struct {
	ActorID string
	Action  string // prefix: "backup." matches "backup.start" and "backup.verify"
	Target  string // exact
	Outcome Outcome
	Since   time.Time // inclusive
	Until   time.Time // exclusive
	// Limit caps the result. Query: newest matching records, default
	// DefaultLimit, at most MaxLimit. Exports: 0 means all matching records;
	// otherwise the newest Limit of them (still written oldest first).
	Limit int
}

func (f *Filter) match(r *Record) bool {
	return (f.ActorID == "" || r.ActorID == f.ActorID) &&
		(f.Action == "" || strings.HasPrefix(r.Action, f.Action)) &&
		(f.Target == "" || r.Target == f.Target) &&
		(f.Outcome == "" || r.Outcome == f.Outcome) &&
		(f.Since.IsZero() || !r.Time.Before(f.Since)) &&
		(f.Until.IsZero() || r.Time.Before(f.Until))
}

// Records are in seq order, and their times are assumed to be in seq order
// up to the clock skew s between nodes: for seq i < j, t_i <= t_j + s.
// The helpers below use this to stop walking early.

// beforeSince reports whether r and every record before it are older than
// f.Since.
func (t *Trail) beforeSince(f *Filter, r *Record) bool {
	return !f.Since.IsZero() && r.Time.Before(f.Since.Add(-t.skew))
}

// afterUntil reports whether r and every record after it are not older than
// f.Until.
func (t *Trail) afterUntil(f *Filter, r *Record) bool {
	return !f.Until.IsZero() && !r.Time.Before(f.Until.Add(t.skew))
}

// Query returns the newest records matching f, newest first. It walks back
// from the end of the trail a page at a time and stops at f.Limit matches or
// at f.Since, so only the pages it needs are ever in memory. Missing or
// unreadable records are skipped (Verify reports them).
func (t *Trail) Query(f Filter) ([]Record, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)

	lo, hi, err := t.bounds(&f, false)
	if err != nil {
		return nil, err
	}
	out := []Record{}
	err = t.scanBackward(lo, hi, func(_ uint64, r *Record) bool {
		if t.beforeSince(&f, r) {
			return true
		}
		if f.match(r) {
			out = append(out, *r)
		}
		return len(out) >= limit
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// bounds returns the seq range [lo, hi] that can hold records matching f's
// time bounds; lo is only narrowed by a binary search when withSince is set
// (backward walks stop at Since by themselves). hi < lo means nothing.
func (t *Trail) bounds(f *Filter, withSince bool) (lo, hi uint64, err error) {
	last, err := t.lastSeq()
	if err != nil {
		return 0, 0, err
	}
	lo, hi = 1, last
	if !f.Until.IsZero() && hi > 0 {
		// Smallest s with afterUntil(s): everything from s on is excluded.
		// Whatever s the search ends on satisfies that (or is last+1), even
		// if times are not perfectly ordered, so the bound is always safe.
		a, b := uint64(1), last+1
		for a < b {
			mid := a + (b-a)/2
			r, ok, err := t.readForSearch(mid)
			if err != nil {
				return 0, 0, err
			}
			if ok && t.afterUntil(f, &r) {
				b = mid
			} else {
				a = mid + 1
			}
		}
		hi = b - 1
	}
	if withSince && !f.Since.IsZero() && hi > 0 {
		// Largest s with beforeSince(s): everything up to s is excluded.
		a, b := uint64(0), hi
		for a < b {
			mid := a + (b-a+1)/2
			r, ok, err := t.readForSearch(mid)
			if err != nil {
				return 0, 0, err
			}
			if ok && t.beforeSince(f, &r) {
				a = mid
			} else {
				b = mid - 1
			}
		}
		lo = a + 1
	}
	return lo, hi, nil
}

// readForSearch reads one record; missing or unreadable records are "not
// ok", which keeps the binary searches conservative.
func (t *Trail) readForSearch(seq uint64) (Record, bool, error) {
	r, found, err := t.readRecord(seq)
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			return Record{}, false, nil
		}
		return Record{}, false, err
	}
	return r, found, nil
}

// lastSeq returns the highest committed seq: the head, or the one record
// beyond it when an append is in flight or its writer died. If even more
// records lie beyond the head (head rolled back or deleted by hand), the key
// listing finds the end.
func (t *Trail) lastSeq() (uint64, error) {
	_, h, err := t.readHead()
	unreadable := errors.Is(err, ErrCorrupt)
	if err != nil && !unreadable {
		return 0, err
	}
	last := h.Seq
	if !unreadable {
		for range 2 {
			found, err := t.exists(last + 1)
			if err != nil {
				return 0, err
			}
			if !found {
				return last, nil
			}
			last++
		}
	}
	m, err := t.maxKeySeq()
	if err != nil {
		return 0, err
	}
	return max(last, m), nil
}

func (t *Trail) exists(seq uint64) (bool, error) {
	var raw []byte
	if err := t.kv.Get(recordKey(seq), &raw); err != nil {
		return false, fmt.Errorf("audit: read record %d: %w", seq, err)
	}
	return len(raw) > 0, nil
}

// maxKeySeq lists the store's keys and returns the highest seq that has a
// record key (0 if none). Only key names are held, a page at a time.
func (t *Trail) maxKeySeq() (uint64, error) {
	var m uint64
	for page := 0; ; page++ {
		keys, err := t.kv.ListKeys(page, t.listPage)
		if err != nil {
			return 0, fmt.Errorf("audit: list keys: %w", err)
		}
		for _, k := range keys {
			if seq, ok := parseRecordKey(k); ok && seq > m {
				m = seq
			}
		}
		if len(keys) < t.listPage {
			return m, nil
		}
	}
}

func parseRecordKey(k string) (uint64, bool) {
	s, ok := strings.CutPrefix(k, recordPrefix)
	if !ok || len(s) != seqDigits {
		return 0, false
	}
	seq, err := strconv.ParseUint(s, 10, 64)
	return seq, err == nil
}

// slot is one fetched seq.
type slot struct {
	rec   Record
	found bool
	bad   error // set when the stored value cannot be decoded
}

// fetch reads records lo..hi (inclusive) with up to t.readers concurrent
// reads and returns them in seq order.
func (t *Trail) fetch(lo, hi uint64) ([]slot, error) {
	n := int(hi - lo + 1)
	out := make([]slot, n)
	workers := min(t.readers, n)
	if workers < 1 {
		workers = 1
	}
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				seq := lo + uint64(i)
				var raw []byte
				if err := t.kv.Get(recordKey(seq), &raw); err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("audit: read record %d: %w", seq, err)
					}
					errMu.Unlock()
					return
				}
				if len(raw) == 0 {
					continue
				}
				s := &out[i]
				s.found = true
				if err := json.Unmarshal(raw, &s.rec); err != nil {
					s.bad = err
				}
			}
		}()
	}
	wg.Wait()
	return out, firstErr
}

// scanBackward calls fn for each readable record from hi down to lo until
// fn returns true. seq is the record's key (its Seq field could be tampered).
func (t *Trail) scanBackward(lo, hi uint64, fn func(seq uint64, r *Record) (stop bool)) error {
	for hi >= lo && hi > 0 {
		pageLo := lo
		if hi-lo >= uint64(t.pageSize) {
			pageLo = hi - uint64(t.pageSize) + 1
		}
		slots, err := t.fetch(pageLo, hi)
		if err != nil {
			return err
		}
		for i := len(slots) - 1; i >= 0; i-- {
			if s := &slots[i]; s.found && s.bad == nil && fn(pageLo+uint64(i), &s.rec) {
				return nil
			}
		}
		hi = pageLo - 1
	}
	return nil
}

// scanForward calls fn for each readable record from lo up to hi until fn
// returns true or an error.
func (t *Trail) scanForward(lo, hi uint64, fn func(*Record) (stop bool, err error)) error {
	if lo == 0 {
		lo = 1
	}
	for lo <= hi {
		pageHi := min(hi, lo+uint64(t.pageSize)-1)
		slots, err := t.fetch(lo, pageHi)
		if err != nil {
			return err
		}
		for i := range slots {
			if s := &slots[i]; s.found && s.bad == nil {
				stop, err := fn(&s.rec)
				if err != nil || stop {
					return err
				}
			}
		}
		lo = pageHi + 1
	}
	return nil
}
