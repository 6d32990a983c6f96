package restore

import (
	"fmt"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
)

// Who may make a backup drctl restores: whoever can write the backup storage can write a
// manifest, but only the server holding the signing key can sign one (see backup/sign.go).
// With --trust-key, only what that key signed is trusted. Without it, "latest" is used only
// when every backup at the destination is signed by one and the same key, whose fingerprint is
// printed before anything changes, so that it can be compared with the one `/dr version` shows.

// Trust decides which backups may be restored.
type Trust struct {
	Key            format.PublicKey // --trust-key; zero: none
	AllowUntrusted bool             // an explicitly named untrusted backup may be used
}

// Signer names who signed m: the key's fingerprint, "unsigned", or what is wrong with its
// signature.
func Signer(m *format.Manifest) string {
	p := m.Provenance
	switch {
	case p.Signed():
		return p.Signer.Fingerprint()
	case p.Problem == "" || p.Problem == "not signed":
		return "unsigned"
	}
	return "invalid signature (" + p.Problem + ")"
}

// Untrusted says why m is not trusted; "" when it is.
func (t Trust) Untrusted(m *format.Manifest, now time.Time) string {
	p := m.Provenance
	switch {
	case format.DatedInFuture(m, now):
		return fmt.Sprintf("it says it started at %s, in the future (this machine's clock says %s): its manifest is forged, or the clock of the server that took it is wrong",
			m.StartedAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	case !p.Signed() && (p.Problem == "" || p.Problem == "not signed"):
		return "it is not signed: it was taken before the plugin signed its backups, or written by someone who can write the backup storage"
	case !p.Signed():
		return "its signature is not valid (" + p.Problem + "): the manifest was changed after it was signed"
	case !t.Key.IsZero() && !p.SignedBy(t.Key):
		return fmt.Sprintf("it is signed by %s, not by the --trust-key %s", p.Signer.Fingerprint(), t.Key.Fingerprint())
	}
	return ""
}

// Describe is the line that says, before anything changes, who signed the backup to restore.
func (t Trust) Describe(m *format.Manifest, now time.Time) string {
	if why := t.Untrusted(m, now); why != "" {
		return fmt.Sprintf("backup %s is NOT trusted: %s; used anyway because of --allow-untrusted", m.ID, why)
	}
	if !t.Key.IsZero() {
		return fmt.Sprintf("backup %s is signed by %s, the --trust-key", m.ID, m.Provenance.Signer.Fingerprint())
	}
	return fmt.Sprintf("backup %s is signed by %s: check that this is the fingerprint of the public key `/dr version` shows (or give that key with --trust-key)",
		m.ID, m.Provenance.Signer.Fingerprint())
}

// Check refuses an explicitly named backup that is not trusted, unless AllowUntrusted.
func (t Trust) Check(m *format.Manifest, now time.Time) error {
	why := t.Untrusted(m, now)
	if why == "" || t.AllowUntrusted {
		return nil
	}
	return fmt.Errorf("%w: backup %s is not trusted: %s. `drctl list` shows who signed each backup. To use it anyway (a backup taken before the plugin signed its backups, whose origin you know), add --allow-untrusted",
		ErrRefused, m.ID, why)
}

// Latest picks the newest trusted backup of ms (newest first), at the destination where.
// Notes say which newer backups it passed over and why.
func (t Trust) Latest(ms []*format.Manifest, now time.Time, where string) (m *format.Manifest, notes []string, err error) {
	if len(ms) == 0 {
		return nil, nil, fmt.Errorf("%w: there is no complete backup at %s", ErrRefused, where)
	}
	if t.Key.IsZero() {
		if err := singleSigner(ms, where); err != nil {
			return nil, nil, err
		}
	}
	logical := 0
	for _, c := range ms {
		if c.Class() != format.ClassLogical {
			// A base backup or a file capture restores only by point in time (--to-time).
			continue
		}
		logical++
		why := t.Untrusted(c, now)
		if why == "" {
			return c, notes, nil
		}
		notes = append(notes, fmt.Sprintf("passed over backup %s: %s", c.ID, why))
	}
	if logical == 0 {
		return nil, nil, fmt.Errorf("%w: there is no complete backup at %s that restores on its own (only base backups or file captures, which restore with --to-time or --to-latest)", ErrRefused, where)
	}
	if !t.Key.IsZero() {
		return nil, notes, fmt.Errorf("%w: no backup at %s is signed by the --trust-key %s: %s. Check the key (the public key `/dr version` shows), or name a backup with --id",
			ErrRefused, where, t.Key.Fingerprint(), signerGroups(ms))
	}
	return nil, notes, fmt.Errorf("%w: no backup at %s can be used as latest: %s", ErrRefused, where, strings.Join(notes, "; "))
}

// singleSigner refuses "latest" without a trusted key when the backups at the destination are
// not all signed by one key: which of them are the server's own cannot then be told.
func singleSigner(ms []*format.Manifest, where string) error {
	signers := map[string]bool{}
	unsigned := false
	for _, m := range ms {
		if m.Provenance.Signed() {
			signers[m.Provenance.Signer.Fingerprint()] = true
		} else {
			unsigned = true
		}
	}
	if !unsigned && len(signers) == 1 {
		return nil
	}
	var held []string
	if unsigned {
		held = append(held, "unsigned backups")
	}
	if len(signers) > 1 {
		held = append(held, fmt.Sprintf("backups of %d signers", len(signers)))
	}
	why := "it holds " + strings.Join(held, " and ")
	return fmt.Errorf("%w: --id latest refuses to choose at %s: %s, so which are your server's cannot be told (%s). Give --trust-key with the public key `/dr version` shows, to restore the newest backup it signed, or name one with --id (`drctl list` shows each backup's signer)",
		ErrRefused, where, why, signerGroups(ms))
}

// signerGroups lists the backups of ms by signer, newest first.
func signerGroups(ms []*format.Manifest) string {
	var order []string
	ids := map[string][]string{}
	for _, m := range ms {
		s := Signer(m)
		if !m.Provenance.Signed() {
			s = "unsigned or invalid signature"
		}
		if _, ok := ids[s]; !ok {
			order = append(order, s)
		}
		ids[s] = append(ids[s], m.ID)
	}
	parts := make([]string, 0, len(order))
	for _, s := range order {
		list := ids[s]
		more := ""
		if len(list) > 5 {
			more = fmt.Sprintf(" and %d more", len(list)-5)
			list = list[:5]
		}
		label := "signed by " + s
		if strings.HasPrefix(s, "unsigned") {
			label = s
		}
		parts = append(parts, fmt.Sprintf("%s: %s%s", label, strings.Join(list, ", "), more))
	}
	return strings.Join(parts, "; ")
}
