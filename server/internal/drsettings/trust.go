package drsettings

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
)

// The trust rule is drctl restore's (restore.Trust): whoever can write the backup storage can
// write a settings document, but only the server holding the signing key can sign one, and
// acting on a planted document would point drctl at an attacker's database or DNS. With a
// pinned key (--trust-key), only what that key signed is used. Without it, the document must be
// signed by the one key that signs every backup at the destination, whose fingerprint is shown
// so that it can be compared with the one `/dr version` shows.

// ErrUntrusted is wrapped when a document is refused.
var ErrUntrusted = errors.New("the DR settings document is not trusted")

// Trust decides whether a document may be used.
type Trust struct {
	Key            format.PublicKey // --trust-key; zero: none
	AllowUntrusted bool             // --allow-untrusted: use it anyway, saying so
}

// Decision is what Check found: the key that vouches for the document (zero when it was used
// only because of AllowUntrusted) and the line to show the operator.
type Decision struct {
	Signer format.PublicKey
	Note   string
}

// Check decides about l, given the backups read at the same destination (backups: nil or
// empty when there are none to compare with, as for --settings without --from).
func (t Trust) Check(l *Loaded, backups []*format.Manifest) (Decision, error) {
	why := t.untrusted(l, backups)
	if why == "" {
		if err := consistent(l); err != "" {
			why = err
		}
	}
	if why == "" {
		signer := l.Provenance.Signer
		if !t.Key.IsZero() {
			return Decision{Signer: signer, Note: fmt.Sprintf("DR settings from %s are signed by %s, the --trust-key", l.Source, signer.Fingerprint())}, nil
		}
		return Decision{Signer: signer, Note: fmt.Sprintf("DR settings from %s are signed by %s, the key that signs the backups there: check that this is the fingerprint `/dr version` shows (or pin it with --trust-key)", l.Source, signer.Fingerprint())}, nil
	}
	if t.AllowUntrusted {
		return Decision{Note: fmt.Sprintf("DR settings from %s are NOT trusted: %s; used anyway because of --allow-untrusted", l.Source, why)}, nil
	}
	return Decision{}, fmt.Errorf("%w: %s (read from %s). Give --trust-key with the public key `/dr version` shows (\"ssh-ed25519 AAAA…\" or a file holding it); or, only if you know where this document came from, --allow-untrusted",
		ErrUntrusted, why, l.Source)
}

// untrusted says why l is not trusted; "" when it is.
func (t Trust) untrusted(l *Loaded, backups []*format.Manifest) string {
	p := l.Provenance
	switch {
	case !p.Signed() && (p.Problem == "" || strings.HasPrefix(p.Problem, "not signed")):
		return "it is " + orDefault(p.Problem, "not signed")
	case !p.Signed():
		return "its signature is not valid (" + p.Problem + "): it was changed after it was signed"
	case !t.Key.IsZero() && !p.SignedBy(t.Key):
		return fmt.Sprintf("it is signed by %s, not by the --trust-key %s", p.Signer.Fingerprint(), t.Key.Fingerprint())
	case !t.Key.IsZero():
		return ""
	}
	signers, unsigned := backupSigners(backups)
	switch {
	case len(backups) == 0:
		return "without --trust-key it must be signed by the key that signs the backups at the same destination, and there are none to compare with"
	case unsigned || len(signers) != 1:
		return fmt.Sprintf("the backups there are not all signed by one key (%s), so which key is your server's cannot be told", describeSigners(signers, unsigned))
	case !p.SignedBy(signers[0]):
		return fmt.Sprintf("it is signed by %s, but the backups there are signed by %s", p.Signer.Fingerprint(), signers[0].Fingerprint())
	}
	return ""
}

// consistent checks that a trusted document names its own signer as the backup signing key:
// a document that says otherwise would make drctl trust another key's backups.
func consistent(l *Loaded) string {
	if l.Document.SigningKey == "" {
		return ""
	}
	k, err := format.ParsePublicKey(l.Document.SigningKey)
	if err != nil {
		return "its signing_public_key is not a public key"
	}
	if !k.Equal(l.Provenance.Signer) {
		return fmt.Sprintf("it names %s as the backup signing key but is signed by %s", k.Fingerprint(), l.Provenance.Signer.Fingerprint())
	}
	return ""
}

func backupSigners(ms []*format.Manifest) (keys []format.PublicKey, unsigned bool) {
	seen := map[string]bool{}
	for _, m := range ms {
		if !m.Provenance.Signed() {
			unsigned = true
			continue
		}
		if fp := m.Provenance.Signer.Fingerprint(); !seen[fp] {
			seen[fp] = true
			keys = append(keys, m.Provenance.Signer)
		}
	}
	return keys, unsigned
}

func describeSigners(keys []format.PublicKey, unsigned bool) string {
	var parts []string
	for _, k := range keys {
		parts = append(parts, k.Fingerprint())
	}
	sort.Strings(parts)
	if unsigned {
		parts = append(parts, "unsigned backups")
	}
	return strings.Join(parts, ", ")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
