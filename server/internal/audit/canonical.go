package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// CanonicalTimeLayout is the layout of "time" in the canonical encoding.
const CanonicalTimeLayout = "2006-01-02T15:04:05.000Z"

// canonicalRecord fixes the members and their order in the canonical
// encoding. Every member is always present; Hash is not one of them.
type canonicalRecord struct {
	Seq      uint64            `json:"seq"`
	Time     string            `json:"time"`
	ActorID  string            `json:"actor_id"`
	Actor    string            `json:"actor"`
	Node     string            `json:"node"`
	Action   string            `json:"action"`
	Target   string            `json:"target"`
	Outcome  string            `json:"outcome"`
	Reason   string            `json:"reason"`
	Details  map[string]string `json:"details"` // encoding/json sorts map keys
	PrevHash string            `json:"prev_hash"`
}

// CanonicalJSON returns the bytes that r's hash is computed over (see the
// package documentation for the exact format). r.Hash is ignored.
func CanonicalJSON(r Record) ([]byte, error) {
	details := r.Details
	if details == nil {
		details = map[string]string{}
	}
	c := canonicalRecord{
		Seq:      r.Seq,
		Time:     r.Time.UTC().Format(CanonicalTimeLayout),
		ActorID:  r.ActorID,
		Actor:    r.Actor,
		Node:     r.Node,
		Action:   r.Action,
		Target:   r.Target,
		Outcome:  string(r.Outcome),
		Reason:   r.Reason,
		Details:  details,
		PrevHash: r.PrevHash,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("audit: canonical encoding of record %d: %w", r.Seq, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// ComputeHash returns the lower-case hex SHA-256 of r's canonical encoding.
func ComputeHash(r Record) (string, error) {
	b, err := CanonicalJSON(r)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
