package format

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// Signatures: the server that makes a backup signs its manifest (and later its
// verification.json) with an Ed25519 key the destination never holds, so that whoever can write
// the backup storage but not Mattermost's database cannot make a backup the plugin or drctl
// trusts. The signature is a sidecar, <key>.sig, written before the object it signs: a manifest
// (the commit marker) never exists without its signature.
//
// The public key is written as an OpenSSH authorized_keys line ("ssh-ed25519 AAAA…") and named by
// its OpenSSH SHA-256 fingerprint, so `ssh-keygen -lf key.pub` shows the same name.

// SignatureFormat is the format of a signature sidecar.
const SignatureFormat = "mattermost-dr-signature-v1"

const (
	signingKeyPrefix  = "DR-SIGNING-KEY-1:"
	publicKeyComment  = "mattermost-disaster-recovery"
	signatureSuffix   = ".sig"
	maxSignatureBytes = 64 << 10
)

// SigningKey is a server's private signing key. Its String form is a secret: it belongs in the
// plugin's KV store, never in a destination, a log or a post.
type SigningKey struct {
	priv ed25519.PrivateKey
}

// GenerateSigningKey makes a new signing key.
func GenerateSigningKey() (*SigningKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate a signing key: %w", err)
	}
	return &SigningKey{priv: priv}, nil
}

// ParseSigningKey parses what SigningKey.String returned. The error never quotes the input.
func ParseSigningKey(s string) (*SigningKey, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), signingKeyPrefix)
	if !ok {
		return nil, errors.New("not a signing key (it must start with " + signingKeyPrefix + ")")
	}
	seed, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("the signing key is damaged")
	}
	return &SigningKey{priv: ed25519.NewKeyFromSeed(seed)}, nil
}

// String is the key in the form ParseSigningKey reads. Secret.
func (k *SigningKey) String() string {
	return signingKeyPrefix + base64.StdEncoding.EncodeToString(k.priv.Seed())
}

// PublicKey is the key's public half.
func (k *SigningKey) PublicKey() PublicKey {
	return PublicKey{key: k.priv.Public().(ed25519.PublicKey)}
}

// PublicKey is a signer's public key. The zero value is no key.
type PublicKey struct {
	key ed25519.PublicKey
}

// ParsePublicKey reads a public key as PublicKey.String writes it (an authorized_keys line; the
// comment is optional).
func ParsePublicKey(s string) (PublicKey, error) {
	pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(strings.TrimSpace(s)))
	if err != nil {
		return PublicKey{}, fmt.Errorf("not a public key (expected a line such as \"ssh-ed25519 AAAA… %s\"): %w", publicKeyComment, err)
	}
	cpk, ok := pk.(ssh.CryptoPublicKey)
	if !ok {
		return PublicKey{}, fmt.Errorf("a %s key is not a backup signing key: it must be ssh-ed25519", pk.Type())
	}
	ed, ok := cpk.CryptoPublicKey().(ed25519.PublicKey)
	if !ok {
		return PublicKey{}, fmt.Errorf("a %s key is not a backup signing key: it must be ssh-ed25519", pk.Type())
	}
	return PublicKey{key: ed}, nil
}

// LoadPublicKey reads a public key given as the key itself or as the path of a file holding it
// (the first line that is one).
func LoadPublicKey(arg string) (PublicKey, error) {
	arg = strings.TrimSpace(arg)
	if strings.HasPrefix(arg, "ssh-ed25519 ") {
		return ParsePublicKey(arg)
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		return PublicKey{}, fmt.Errorf("read the public key %s: %w (give the key itself, \"ssh-ed25519 AAAA…\", or a file holding it)", arg, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			pk, err := ParsePublicKey(line)
			if err != nil {
				return PublicKey{}, fmt.Errorf("%s: %w", arg, err)
			}
			return pk, nil
		}
	}
	return PublicKey{}, fmt.Errorf("%s holds no public key", arg)
}

// IsZero says whether p is no key.
func (p PublicKey) IsZero() bool { return len(p.key) == 0 }

// Equal says whether p and o are the same key.
func (p PublicKey) Equal(o PublicKey) bool { return !p.IsZero() && p.key.Equal(o.key) }

func (p PublicKey) sshKey() ssh.PublicKey {
	k, err := ssh.NewPublicKey(p.key)
	if err != nil { // only for a key of the wrong length, which no constructor makes
		panic(err)
	}
	return k
}

// String is the key as an authorized_keys line: "ssh-ed25519 AAAA… mattermost-disaster-recovery".
func (p PublicKey) String() string {
	if p.IsZero() {
		return ""
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(p.sshKey()))) + " " + publicKeyComment
}

// Fingerprint is the key's OpenSSH SHA-256 fingerprint ("SHA256:…"), the name shown to admins.
func (p PublicKey) Fingerprint() string {
	if p.IsZero() {
		return ""
	}
	return ssh.FingerprintSHA256(p.sshKey())
}

// Signature is the content of a signature sidecar (<key>.sig). It binds the object's key, size
// and SHA-256, so a signed manifest moved to another backup's folder no longer verifies.
type Signature struct {
	Format      string `json:"format"`
	Object      string `json:"object"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	PublicKey   string `json:"public_key"`
	Fingerprint string `json:"fingerprint"`
	Signature   string `json:"signature"` // base64 Ed25519 signature of signedMessage
}

// SignatureKey is the key of the sidecar that signs the object at key.
func SignatureKey(key string) string { return key + signatureSuffix }

func signedMessage(objectKey string, size int64, sum string) []byte {
	return fmt.Appendf(nil, "%s\n%s\n%d\n%s\n", SignatureFormat, objectKey, size, sum)
}

// Sign signs content stored at objectKey.
func (k *SigningKey) Sign(objectKey string, content []byte) *Signature {
	sum := sha256.Sum256(content)
	hexSum := hex.EncodeToString(sum[:])
	pub := k.PublicKey()
	return &Signature{
		Format:      SignatureFormat,
		Object:      objectKey,
		Size:        int64(len(content)),
		SHA256:      hexSum,
		PublicKey:   pub.String(),
		Fingerprint: pub.Fingerprint(),
		Signature:   base64.StdEncoding.EncodeToString(ed25519.Sign(k.priv, signedMessage(objectKey, int64(len(content)), hexSum))),
	}
}

// Check verifies that sig signs content as stored at objectKey and returns the signer. The
// signer is whoever holds the key named in the sidecar: the caller decides whether it trusts it.
func (sig *Signature) Check(objectKey string, content []byte) (PublicKey, error) {
	if sig.Format != SignatureFormat {
		return PublicKey{}, fmt.Errorf("unknown signature format %q", sig.Format)
	}
	if sig.Object != objectKey {
		return PublicKey{}, fmt.Errorf("the signature is for %q, not %q", sig.Object, objectKey)
	}
	sum := sha256.Sum256(content)
	if int64(len(content)) != sig.Size || hex.EncodeToString(sum[:]) != sig.SHA256 {
		return PublicKey{}, errors.New("the signed content differs from what is stored")
	}
	pub, err := ParsePublicKey(sig.PublicKey)
	if err != nil {
		return PublicKey{}, fmt.Errorf("the signature's key: %w", err)
	}
	raw, err := base64.StdEncoding.DecodeString(sig.Signature)
	if err != nil || !ed25519.Verify(pub.key, signedMessage(objectKey, sig.Size, sig.SHA256), raw) {
		return PublicKey{}, errors.New("the signature does not verify")
	}
	return pub, nil
}

// Provenance says who vouches for a stored object (a manifest, a verification.json).
type Provenance struct {
	Signer  PublicKey // zero when the object carries no valid signature
	Problem string    // why it has none: "not signed", or what is wrong with the signature
	SHA256  string    // of the object's bytes as stored
}

// Signed says whether the object carries a valid signature (of any key: compare Signer with the
// keys you trust).
func (p Provenance) Signed() bool { return !p.Signer.IsZero() }

// SignedBy says whether key signed the object.
func (p Provenance) SignedBy(key PublicKey) bool { return p.Signer.Equal(key) }

// PutSigned writes content at objectKey, preceded by its signature when k is set.
func PutSigned(ctx context.Context, s storage.Store, objectKey string, content []byte, k *SigningKey) error {
	if k != nil {
		if err := putSignature(ctx, s, objectKey, content, k); err != nil {
			return err
		}
	}
	if _, err := s.Put(ctx, objectKey, bytes.NewReader(content)); err != nil {
		return fmt.Errorf("write %s: %w", objectKey, err)
	}
	return nil
}

// putSignature writes the sidecar that signs content stored at objectKey.
func putSignature(ctx context.Context, s storage.Store, objectKey string, content []byte, k *SigningKey) error {
	sb, err := json.MarshalIndent(k.Sign(objectKey, content), "", "  ")
	if err != nil {
		return err
	}
	if _, err := s.Put(ctx, SignatureKey(objectKey), bytes.NewReader(append(sb, '\n'))); err != nil {
		return fmt.Errorf("write %s: %w", SignatureKey(objectKey), err)
	}
	return nil
}

// CheckProvenance checks the signature sidecar of content stored at objectKey. Only a failure to
// read the sidecar is an error; a missing or invalid signature is reported in Problem.
func CheckProvenance(ctx context.Context, s storage.Reader, objectKey string, content []byte) (Provenance, error) {
	sum := sha256.Sum256(content)
	p := Provenance{SHA256: hex.EncodeToString(sum[:])}
	rc, err := s.Open(ctx, SignatureKey(objectKey))
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			p.Problem = "not signed"
			return p, nil
		}
		return p, fmt.Errorf("read the signature of %s at %s: %w", objectKey, s, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxSignatureBytes+1))
	if err != nil {
		return p, fmt.Errorf("read the signature of %s at %s: %w", objectKey, s, err)
	}
	var sig Signature
	if len(b) > maxSignatureBytes {
		p.Problem = "its signature file is too large"
		return p, nil
	}
	if err := json.Unmarshal(b, &sig); err != nil {
		p.Problem = "its signature file is not valid JSON"
		return p, nil
	}
	signer, err := sig.Check(objectKey, content)
	if err != nil {
		p.Problem = "bad signature: " + err.Error()
		return p, nil
	}
	p.Signer = signer
	return p, nil
}
