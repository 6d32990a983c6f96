package format

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// Trust: a backup found in a destination is only a backup of this server when the server says
// so. Whoever can write the backup storage can plant a manifest (its checksum is a plain
// SHA-256 anyone recomputes); they cannot sign it with the server's key, nor change what the
// server recorded in its own database. A backup that is not trusted is never counted as the
// latest, never restored into a database, never evicts a trusted backup and is never deleted
// by retention.

// MaxClockSkew is how far in the future a backup may say it started (clocks of the nodes of a
// cluster differ a little). A backup dated later is refused: it would become the "latest" and
// push real backups out through retention.
const MaxClockSkew = 5 * time.Minute

// DatedInFuture says whether m says it started later than now plus MaxClockSkew.
func DatedInFuture(m *Manifest, now time.Time) bool {
	return m.StartedAt.After(now.Add(MaxClockSkew))
}

// Trust decides which backups the caller vouches for.
type Trust struct {
	// Keys are the signing keys whose signature makes a backup trusted (the plugin: its own).
	Keys []PublicKey
	// Recorded returns the SHA-256 of the manifest the caller recorded for backup id at
	// destination dest when it made (or adopted) it; ok is false when it has no record.
	Recorded func(dest, id string) (sum string, ok bool)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Time is the current time by t's clock.
func (t Trust) Time() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// SignedByKey says whether p is signed by one of t's keys.
func (t Trust) SignedByKey(p Provenance) bool {
	for _, k := range t.Keys {
		if p.SignedBy(k) {
			return true
		}
	}
	return false
}

// Check says whether the backup m, as read (ReadManifest, List) at destination dest, is
// trusted, and when it is not, why, in words for an admin.
func (t Trust) Check(dest string, m *Manifest) (bool, string) {
	if now := t.Time(); DatedInFuture(m, now) {
		return false, fmt.Sprintf("dated in the future (it says it started %s, %s from now)",
			m.StartedAt.UTC().Format(time.RFC3339), m.StartedAt.Sub(now).Round(time.Minute))
	}
	if t.SignedByKey(m.Provenance) {
		return true, ""
	}
	if t.Recorded != nil {
		if sum, ok := t.Recorded(dest, m.ID); ok {
			if sum == m.Provenance.SHA256 {
				return true, ""
			}
			return false, "its manifest is not the one this server recorded when it made the backup"
		}
	}
	why := m.Provenance.Problem
	switch {
	case m.Provenance.Signed():
		why = "signed by another key (" + m.Provenance.Signer.Fingerprint() + ")"
	case why == "":
		why = "not signed"
	}
	return false, why + ", and not in this server's record of its backups"
}

// Untrusted is a backup found at a destination that is not trusted.
type Untrusted struct {
	Manifest *Manifest `json:"manifest"`
	Reason   string    `json:"reason"`
}

// Classify splits ms (read at destination dest) into the trusted backups and the others,
// both in ms's order.
func (t Trust) Classify(dest string, ms []*Manifest) (trusted []*Manifest, untrusted []Untrusted) {
	for _, m := range ms {
		if ok, why := t.Check(dest, m); ok {
			trusted = append(trusted, m)
		} else {
			untrusted = append(untrusted, Untrusted{Manifest: m, Reason: why})
		}
	}
	return trusted, untrusted
}

// NewestVerified is the newest of ms (trusted backups, newest first) whose verification passed
// and is signed by one of t's keys: a verification.json anyone else wrote does not count.
func NewestVerified(ctx context.Context, s storage.Reader, ms []*Manifest, t Trust) string {
	for _, m := range ms {
		v, err := ReadVerification(ctx, s, m.ID)
		if err == nil && v != nil && v.Outcome == OutcomePassed && v.BackupID == m.ID && t.SignedByKey(v.Provenance) {
			return m.ID
		}
	}
	return ""
}

// SignManifest signs the manifest of backup id as it is stored now (a manifest.json.sig
// sidecar), for an admin who vouches for a backup made before manifests were signed, once
// they saw it: when wantSHA256 is set, a manifest with other bytes is refused. It returns the
// manifest with its new provenance.
func SignManifest(ctx context.Context, s storage.Store, id, wantSHA256 string, k *SigningKey) (*Manifest, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	rc, err := s.Open(ctx, ManifestKey(id))
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("backup %s at %s: %w", id, s, ErrNoBackup)
		}
		return nil, fmt.Errorf("read the manifest of backup %s at %s: %w", id, s, err)
	}
	b, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	_ = rc.Close()
	if err != nil {
		return nil, fmt.Errorf("read the manifest of backup %s at %s: %w", id, s, err)
	}
	m, err := ParseManifest(b, id, s)
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(b); wantSHA256 != "" && hex.EncodeToString(sum[:]) != wantSHA256 {
		return nil, fmt.Errorf("the manifest of backup %s at %s changed since it was shown: check it again", id, s)
	}
	if err := putSignature(ctx, s, ManifestKey(id), b, k); err != nil {
		return nil, err
	}
	if m.Provenance, err = CheckProvenance(ctx, s, ManifestKey(id), b); err != nil {
		return nil, err
	}
	return m, nil
}
