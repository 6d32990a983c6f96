package audit

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ProblemKind classifies what Verify found wrong.
type ProblemKind string

// Problem kinds.
const (
	// ProblemMissing: no record under a seq that must exist (deleted).
	ProblemMissing ProblemKind = "missing"
	// ProblemUnreadable: the stored value is not a record (overwritten).
	ProblemUnreadable ProblemKind = "unreadable"
	// ProblemSeqMismatch: the record's seq field differs from its key (moved or swapped).
	ProblemSeqMismatch ProblemKind = "seq_mismatch"
	// ProblemHashMismatch: the record's content does not match its hash (edited).
	ProblemHashMismatch ProblemKind = "hash_mismatch"
	// ProblemPrevHashMismatch: prev_hash is not the previous record's hash
	// (chain broken: the previous record was rewritten with a fresh hash, or
	// this one was replaced).
	ProblemPrevHashMismatch ProblemKind = "prev_hash_mismatch"
	// ProblemHeadMismatch: the head's hash is not the hash of the record it names.
	ProblemHeadMismatch ProblemKind = "head_mismatch"
	// ProblemHeadBehind: records continue more than one past the head
	// (head rolled back or deleted).
	ProblemHeadBehind ProblemKind = "head_behind"
	// ProblemHeadUnreadable: the head is not valid JSON.
	ProblemHeadUnreadable ProblemKind = "head_unreadable"
	// ProblemAnchorMismatch: an anchor (a copy of the head kept outside the store) names this
	// seq with another hash, or no readable record is there (rewritten and re-hashed).
	ProblemAnchorMismatch ProblemKind = "anchor_mismatch"
	// ProblemAnchorTruncated: an anchor names a seq past the end of the chain (newest records
	// deleted and the head rewound).
	ProblemAnchorTruncated ProblemKind = "anchor_truncated"
)

// Problem is one finding of Verify.
type Problem struct {
	Seq    uint64 // the record concerned (0 for an unreadable head)
	Kind   ProblemKind
	Detail string // human readable, starts with "seq N:"
}

const (
	maxProblems = 100 // bounds VerifyResult.Problems
	maxRereads  = 100 // second looks at missing records per Verify
)

// VerifyResult is the outcome of Verify.
type VerifyResult struct {
	Checked  uint64    // records read and checked
	OK       bool      // no problem found
	FirstBad uint64    // seq of the first problem (0 if none, or if only the head is unreadable)
	Problem  string    // the first problem, naming its seq and what is wrong
	Problems []Problem // problems in seq order, at most 100
	// ProblemCount counts all problems, including those left out of Problems.
	ProblemCount int
	Head         uint64 // head seq when Verify started
	Last         uint64 // highest seq with a record
	// Pending is set when the record just past the head is committed but
	// the head was not yet advanced: an append in flight, or a writer that
	// died between writing its record and moving the head. Not a problem;
	// the next Append advances the head.
	Pending bool
	Note    string
	// Anchors are the copies of the head given to Verify, each with its outcome.
	Anchors []AnchorCheck
}

// Verify walks the whole chain as it is when Verify starts, seq 1 to the
// end, a page at a time (records appended meanwhile are left for the next
// run), and checks each record: present, decodable, seq field equal to its
// key, hash equal to the hash of its canonical encoding, prev_hash equal to
// the stored hash of the record before. It also checks the head against the
// chain and lists the keys once to catch records stored past the end of the
// chain. Tampering is reported in the result; the error is for KV failures
// only.
//
// Each anchor (a copy of the head taken earlier and kept outside the store)
// must name a record that exists and carries its hash: that catches what the
// chain alone cannot, records deleted from the end with the head rewound, and
// a record rewritten with every record after it re-hashed, at or below the
// anchor's seq.
func (t *Trail) Verify(anchors ...Anchor) (VerifyResult, error) {
	var res VerifyResult
	add := func(seq uint64, kind ProblemKind, format string, args ...any) {
		res.ProblemCount++
		p := Problem{Seq: seq, Kind: kind, Detail: fmt.Sprintf("seq %d: ", seq) + fmt.Sprintf(format, args...)}
		if seq == 0 {
			p.Detail = fmt.Sprintf(format, args...)
		}
		// The first problem is the lowest seq; an unreadable head (seq 0)
		// is first only when no record has a problem.
		if res.ProblemCount == 1 || (seq != 0 && (res.FirstBad == 0 || seq < res.FirstBad)) {
			res.FirstBad, res.Problem = seq, p.Detail
		}
		if len(res.Problems) < maxProblems {
			res.Problems = append(res.Problems, p)
		}
	}

	// Listing first: any key seen here existed before the walk began, so a
	// key past the end the walk finds means records are missing before it.
	maxKey, err := t.maxKeySeq()
	if err != nil {
		return res, err
	}
	_, h0, err := t.readHead()
	headUnreadable := false
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			return res, err
		}
		add(0, ProblemHeadUnreadable, "%s", strings.TrimPrefix(err.Error(), ErrCorrupt.Error()+": "))
		headUnreadable = true
	}
	res.Head = h0.Seq
	bound := max(h0.Seq, maxKey)
	anchored := newAnchorChecker(anchors, add)

	var (
		prevHash  string // stored hash of the record before
		prevKnown = true // false after a missing or unreadable record
	)
	rereads := 0
	check := func(seq uint64, s *slot) error {
		if !s.found && rereads < maxRereads {
			// Reads may be served by a lagging read replica: look once more
			// before calling a record deleted.
			rereads++
			again, err := t.fetch(seq, seq)
			if err != nil {
				return err
			}
			s = &again[0]
		}
		switch {
		case !s.found:
			add(seq, ProblemMissing, "missing record (deleted; the trail reaches seq %d)", bound)
			anchored.absent(seq, bound)
			prevKnown = false
			return nil
		case s.bad != nil:
			add(seq, ProblemUnreadable, "stored value is not a record: %v", s.bad)
			anchored.absent(seq, bound)
			prevKnown = false
			return nil //nolint:nilerr // an unreadable record is a finding of Verify, not a failure of it
		}
		r := &s.rec
		res.Checked++
		res.Last = seq
		anchored.record(seq, r.Hash)
		switch {
		case r.Seq != seq:
			add(seq, ProblemSeqMismatch, "seq field is %d (record moved or swapped)", r.Seq)
		default:
			if p := hashProblem(r); p != "" {
				add(seq, ProblemHashMismatch, "hash mismatch: %s (record edited)", p)
			} else if prevKnown && r.PrevHash != prevHash {
				add(seq, ProblemPrevHashMismatch, "prev_hash %s does not match hash %s of seq %d (chain broken)",
					short(r.PrevHash), short(prevHash), seq-1)
			}
		}
		if seq == h0.Seq && r.Hash != h0.Hash {
			add(seq, ProblemHeadMismatch, "head names this seq with hash %s but the record's hash is %s (head edited)",
				short(h0.Hash), short(r.Hash))
		}
		prevHash, prevKnown = r.Hash, true
		return nil
	}

	// 1..bound: every seq must have a record.
	err = t.scanSlots(1, bound, check)
	if err != nil {
		return res, err
	}
	// bound+1: the one committed record that may lie past the head when
	// Verify starts (an append in flight, or a writer that died before
	// moving the head). Records appended after Verify started are not part
	// of this run: walking after them could go on for as long as nodes
	// keep appending.
	slots, err := t.fetch(bound+1, bound+1)
	if err != nil {
		return res, err
	}
	if slots[0].found {
		if err := check(bound+1, &slots[0]); err != nil {
			return res, err
		}
	}

	// The head against the end of the chain. At any instant at most one
	// committed record lies beyond the head, so two records beyond it mean
	// the head was rolled back or deleted. Appends running meanwhile move
	// the head, so the probe is only trusted if the head did not move
	// during it, and a finding is confirmed a few times (a lagging read
	// replica can show an old head) before it is reported.
	if !headUnreadable {
		for round := range 5 {
			_, h1, err := t.readHead()
			if err != nil && !errors.Is(err, ErrCorrupt) {
				return res, err
			}
			hs := max(h0.Seq, h1.Seq)
			p1, err := t.exists(hs + 1)
			if err != nil {
				return res, err
			}
			p2 := false
			if p1 {
				if p2, err = t.exists(hs + 2); err != nil {
					return res, err
				}
			}
			_, h2, err := t.readHead()
			if err != nil && !errors.Is(err, ErrCorrupt) {
				return res, err
			}
			if h2 != h1 {
				continue // moved while probing: look again
			}
			switch {
			case p1 && p2 && round < 4:
				time.Sleep(time.Duration(round+1) * t.settleDelay)
				continue
			case p1 && p2:
				add(hs+1, ProblemHeadBehind, "head is at seq %d but records continue to seq %d (head rolled back or deleted)",
					hs, max(res.Last, hs+2))
			case p1 && !res.hasProblemAt(hs+1):
				res.Pending = true
				res.Note = fmt.Sprintf("seq %d is committed but the head still names seq %d: an append in flight, or a writer that stopped before advancing the head; the next Append advances it",
					hs+1, hs)
			}
			break
		}
	}

	if err := anchored.finish(t, res.Last); err != nil {
		return res, err
	}
	res.Anchors = anchored.checks

	sort.SliceStable(res.Problems, func(i, j int) bool { return res.Problems[i].Seq < res.Problems[j].Seq })
	res.OK = res.ProblemCount == 0
	return res, nil
}

// scanSlots calls fn for every seq lo..hi, present or not, a page at a time.
func (t *Trail) scanSlots(lo, hi uint64, fn func(seq uint64, s *slot) error) error {
	for lo <= hi {
		pageHi := min(hi, lo+uint64(t.pageSize)-1)
		slots, err := t.fetch(lo, pageHi)
		if err != nil {
			return err
		}
		for i := range slots {
			if err := fn(lo+uint64(i), &slots[i]); err != nil {
				return err
			}
		}
		lo = pageHi + 1
	}
	return nil
}

func (r *VerifyResult) hasProblemAt(seq uint64) bool {
	for _, p := range r.Problems {
		if p.Seq == seq {
			return true
		}
	}
	return false
}
