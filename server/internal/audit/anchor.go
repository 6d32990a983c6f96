package audit

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Anchor is a copy of the trail's head (seq and hash) kept outside the KV store: in a backup's
// manifest, in the server log, in a post. The chain alone cannot show that its newest records
// were cut off with the head rewound to match, nor that a record was rewritten and every record
// after it re-hashed: anyone who can write the store can do either. A copy of the head taken
// before the tampering can, for every record up to the copy's seq.
type Anchor struct {
	Seq    uint64 `json:"seq"`
	Hash   string `json:"hash"`
	Source string `json:"source"` // where the copy was found, e.g. "backup X at destination s3"
}

// String is the form ParseAnchor reads: "<seq>:<hash>".
func (a Anchor) String() string { return strconv.FormatUint(a.Seq, 10) + ":" + a.Hash }

var hashPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ParseAnchor reads "<seq>:<hash>" (as written in the server log and the daily post).
func ParseAnchor(s, source string) (Anchor, error) {
	seqText, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	seq, err := strconv.ParseUint(seqText, 10, 64)
	hash = strings.ToLower(hash)
	if !ok || err != nil || seq == 0 || !hashPattern.MatchString(hash) {
		return Anchor{}, fmt.Errorf("anchor %q: write it as <seq>:<64 hex digits of the hash>, as in the server log line \"Disaster Recovery audit head\"", s)
	}
	return Anchor{Seq: seq, Hash: hash, Source: source}, nil
}

// AnchorCheck is the outcome of checking one anchor against the chain.
type AnchorCheck struct {
	Anchor
	OK      bool   `json:"ok"`
	Problem string `json:"problem,omitempty"`
}

// Head returns the current head: seq and hash of the last record known to be committed (seq 0
// for an empty trail). Copies of it kept elsewhere are the anchors Verify checks.
func (t *Trail) Head() (Anchor, error) {
	_, h, err := t.readHead()
	if err != nil {
		return Anchor{}, err
	}
	return Anchor{Seq: h.Seq, Hash: h.Hash}, nil
}

// anchorChecker checks anchors as Verify walks the chain. A record is matched by the hash
// stored in it: Verify's own checks catch a stored hash that does not match the content.
type anchorChecker struct {
	checks []AnchorCheck
	bySeq  map[uint64][]int
	seen   []bool
	add    func(seq uint64, kind ProblemKind, format string, args ...any)
}

func newAnchorChecker(anchors []Anchor, add func(uint64, ProblemKind, string, ...any)) *anchorChecker {
	c := &anchorChecker{bySeq: map[uint64][]int{}, add: add}
	for _, a := range anchors {
		if a.Seq == 0 {
			continue // the head of an empty trail anchors nothing
		}
		c.bySeq[a.Seq] = append(c.bySeq[a.Seq], len(c.checks))
		c.checks = append(c.checks, AnchorCheck{Anchor: a, OK: true})
	}
	c.seen = make([]bool, len(c.checks))
	return c
}

// record checks the anchors at seq against the hash stored in the record there.
func (c *anchorChecker) record(seq uint64, hash string) {
	for _, i := range c.bySeq[seq] {
		c.seen[i] = true
		a := &c.checks[i]
		if a.Hash == hash {
			continue
		}
		a.OK = false
		a.Problem = fmt.Sprintf("the record's hash is %s, %s recorded %s", short(hash), a.Source, short(a.Hash))
		c.add(seq, ProblemAnchorMismatch, "%s recorded the head here with hash %s but the record's hash is %s (this record, or one before it, was rewritten and the chain re-hashed; or the database was replaced)",
			a.Source, short(a.Hash), short(hash))
	}
}

// absent fails the anchors at seq, where no readable record is.
func (c *anchorChecker) absent(seq, last uint64) {
	for _, i := range c.bySeq[seq] {
		c.seen[i] = true
		a := &c.checks[i]
		a.OK = false
		if seq > last {
			a.Problem = fmt.Sprintf("the trail ends at seq %d", last)
			c.add(seq, ProblemAnchorTruncated, "%s recorded the head at seq %d (hash %s) but the trail ends at seq %d (the newest records were deleted and the head rewound, or the database was restored from an older backup)",
				a.Source, seq, short(a.Hash), last)
			continue
		}
		a.Problem = "no readable record at this seq"
		c.add(seq, ProblemAnchorMismatch, "%s recorded the head here with hash %s but there is no readable record", a.Source, short(a.Hash))
	}
}

// finish checks the anchors the walk did not reach: beyond the end of the chain, or appended
// after Verify started. Each is read once more before it is called missing.
func (c *anchorChecker) finish(t *Trail, last uint64) error {
	done := map[uint64]bool{}
	for i := range c.checks {
		seq := c.checks[i].Seq
		if c.seen[i] || done[seq] {
			continue
		}
		done[seq] = true
		r, found, err := t.readRecord(seq)
		switch {
		case err != nil && !errors.Is(err, ErrCorrupt):
			return err
		case found && err == nil:
			c.record(seq, r.Hash)
		default:
			c.absent(seq, last)
		}
	}
	return nil
}
