package plugin

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
)

// A backup is this server's when its manifest is signed by the plugin's signing key (kept in
// the KV store, which the destination never holds) or when its manifest's SHA-256 is the one
// the plugin recorded for it: the record covers backups made before manifests were signed,
// once an admin adopted them (/dr backup trust).

const (
	signingKeyKey = "backup/signing-key"
	recordsKey    = "backup/records"
)

// backupRecord is what the plugin recorded of one of its backups.
type backupRecord struct {
	// Manifests are the SHA-256 of the manifest at each destination.
	Manifests  map[string]string `json:"manifests"`
	RecordedAt time.Time         `json:"recorded_at"`
	// AdoptedBy is the admin who vouched for a backup made before signing (/dr backup trust).
	AdoptedBy string `json:"adopted_by,omitempty"`
}

// signingKey is the plugin's backup signing key, created once (another node may create it
// first: then that one is used).
func (p *Plugin) signingKey() (*format.SigningKey, error) {
	var s string
	if err := p.client.KV.Get(signingKeyKey, &s); err != nil {
		return nil, fmt.Errorf("read the backup signing key: %w", err)
	}
	if s != "" {
		return format.ParseSigningKey(s)
	}
	k, err := format.GenerateSigningKey()
	if err != nil {
		return nil, err
	}
	if ok, err := p.client.KV.Set(signingKeyKey, k.String(), pluginapi.SetAtomic(nil)); err != nil {
		return nil, fmt.Errorf("save the backup signing key: %w", err)
	} else if !ok {
		return p.signingKey()
	}
	return k, nil
}

// publicKeyInfo is the signing key's public half as shown to admins.
type publicKeyInfo struct {
	PublicKey   string `json:"public_key"`
	Fingerprint string `json:"fingerprint"`
}

func (p *Plugin) publicKey() (publicKeyInfo, error) {
	k, err := p.signingKey()
	if err != nil {
		return publicKeyInfo{}, err
	}
	pub := k.PublicKey()
	return publicKeyInfo{PublicKey: pub.String(), Fingerprint: pub.Fingerprint()}, nil
}

func (p *Plugin) records() (map[string]*backupRecord, error) {
	recs := map[string]*backupRecord{}
	if err := p.client.KV.Get(recordsKey, &recs); err != nil {
		return nil, fmt.Errorf("read the record of backups: %w", err)
	}
	return recs, nil
}

// updateRecords changes the record atomically (nodes may write it at once).
func (p *Plugin) updateRecords(fn func(map[string]*backupRecord)) error {
	return p.client.KV.SetAtomicWithRetries(recordsKey, func(old []byte) (any, error) {
		recs := map[string]*backupRecord{}
		if len(old) > 0 {
			if err := json.Unmarshal(old, &recs); err != nil {
				return nil, err
			}
		}
		fn(recs)
		return recs, nil
	})
}

// recordBackup records the manifests of a backup just made (or adopted by adoptedBy).
func (p *Plugin) recordBackup(manifests map[string]*format.Manifest, adoptedBy string) error {
	return p.updateRecords(func(recs map[string]*backupRecord) {
		for dest, m := range manifests {
			r := recs[m.ID]
			if r == nil {
				r = &backupRecord{Manifests: map[string]string{}, RecordedAt: time.Now().UTC(), AdoptedBy: adoptedBy}
				recs[m.ID] = r
			}
			r.Manifests[dest] = m.Provenance.SHA256
		}
	})
}

// forgetRecords drops the record of the backups deleted at dest, and at dest of those not
// there any more (present: the ids listed there, nil to keep them), so the record stays as
// small as the set of backups.
func (p *Plugin) forgetRecords(dest string, deleted []string, present map[string]bool) error {
	return p.updateRecords(func(recs map[string]*backupRecord) {
		for _, id := range deleted {
			if r := recs[id]; r != nil {
				delete(r.Manifests, dest)
			}
		}
		for id, r := range recs {
			if present != nil && !present[id] {
				delete(r.Manifests, dest)
			}
			if len(r.Manifests) == 0 {
				delete(recs, id)
			}
		}
	})
}

// trust is what decides which backups are this server's.
func (p *Plugin) trust() (format.Trust, error) {
	k, err := p.signingKey()
	if err != nil {
		return format.Trust{}, err
	}
	recs, err := p.records()
	if err != nil {
		return format.Trust{}, err
	}
	return format.Trust{
		Keys: []format.PublicKey{k.PublicKey()},
		Recorded: func(dest, id string) (string, bool) {
			r := recs[id]
			if r == nil {
				return "", false
			}
			sum, ok := r.Manifests[dest]
			return sum, ok
		},
	}, nil
}
