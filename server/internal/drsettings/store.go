package drsettings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// Write stores d at s under Key, signed by k (unsigned when k is nil), unless the stored
// document already has the same bytes and the same signer: the settings are written on every
// change and every backup, and most of those change nothing. It says whether it wrote.
func Write(ctx context.Context, s storage.Store, d Document, k *format.SigningKey) (bool, error) {
	b, err := Marshal(d)
	if err != nil {
		return false, err
	}
	if current(ctx, s, b, k) {
		return false, nil
	}
	if err := format.PutSigned(ctx, s, Key, b, k); err != nil {
		return false, fmt.Errorf("write the DR settings document at %s: %w", s, err)
	}
	return true, nil
}

// current says whether s holds exactly b under Key, signed by k (or unsigned when k is nil).
func current(ctx context.Context, s storage.Store, b []byte, k *format.SigningKey) bool {
	stored, err := readAll(ctx, s, Key)
	if err != nil || !bytes.Equal(stored, b) {
		return false
	}
	p, err := format.CheckProvenance(ctx, s, Key, stored)
	if err != nil {
		return false
	}
	if k == nil {
		return !p.Signed()
	}
	return p.SignedBy(k.PublicKey())
}

// Loaded is a document as read, with who signed it.
type Loaded struct {
	Document   Document
	Raw        []byte
	Provenance format.Provenance
	Source     string // where it was read: the destination, or the file
}

// ErrNotFound is wrapped when a destination holds no document.
var ErrNotFound = errors.New("no DR settings document")

// Read reads the document at destination s and checks its signature sidecar (the caller
// decides, with Trust, whether it trusts the signer).
func Read(ctx context.Context, s storage.Reader) (*Loaded, error) {
	b, err := readAll(ctx, s, Key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("%w at %s: the plugin writes %s there whenever the DR settings change and with every backup; run `/dr backup now` once Mattermost is up, or give the file with --settings", ErrNotFound, s, Key)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: %w", Key, s, err)
	}
	d, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s at %s: %w", Key, s, err)
	}
	p, err := format.CheckProvenance(ctx, s, Key, b)
	if err != nil {
		return nil, err
	}
	return &Loaded{Document: d, Raw: b, Provenance: p, Source: s.String()}, nil
}

// ReadFile reads a document copied out of a destination, and its signature from path+".sig"
// when that was copied too. The signature names the stored key (Key), not the file name.
func ReadFile(path string) (*Loaded, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the DR settings document: %w", err)
	}
	d, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	l := &Loaded{Document: d, Raw: b, Source: path, Provenance: format.Provenance{Problem: "not signed"}}
	sb, err := readFile(format.SignatureKey(path))
	switch {
	case errors.Is(err, os.ErrNotExist):
		l.Provenance.Problem = "not signed (no " + format.SignatureKey(path) + " beside it)"
	case err != nil:
		return nil, fmt.Errorf("read the signature of the DR settings document: %w", err)
	default:
		var sig format.Signature
		if err := json.Unmarshal(sb, &sig); err != nil {
			l.Provenance.Problem = "its signature file is not valid JSON"
			break
		}
		signer, err := sig.Check(Key, b)
		if err != nil {
			l.Provenance.Problem = "bad signature: " + err.Error()
			break
		}
		l.Provenance = format.Provenance{Signer: signer, SHA256: sig.SHA256}
	}
	return l, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // the operator's own file
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxBytes+1))
}

func readAll(ctx context.Context, s storage.Reader, key string) ([]byte, error) {
	rc, err := s.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, maxBytes+1))
}
