package plugin

import (
	"fmt"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/kvstate"
)

// A backup is this server's when its manifest is signed by the plugin's signing key (kept in
// the KV store, which the destination never holds) or when its manifest's SHA-256 is the one
// the plugin recorded for it: the record covers backups made before manifests were signed,
// once an admin adopted them (/dr backup trust).

// backupRecord is what the plugin recorded of one of its backups.
type backupRecord = kvstate.BackupRecord

// signingKey is the plugin's backup signing key, created once (another node may create it
// first: then that one is used).
func (p *Plugin) signingKey() (*format.SigningKey, error) {
	s, _, err := kvstate.SigningKey.Get(p.state())
	if err != nil {
		return nil, fmt.Errorf("read the backup signing key: %w", err)
	}
	if s != "" {
		return format.ParseSigningKey(s)
	}
	k, err := format.GenerateSigningKey()
	if err != nil {
		return nil, err
	}
	if ok, err := kvstate.SigningKey.Create(p.state(), k.String()); err != nil {
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
	recs, _, err := kvstate.Records.Get(p.state())
	if err != nil {
		return nil, fmt.Errorf("read the record of backups: %w", err)
	}
	if recs == nil {
		recs = map[string]*backupRecord{}
	}
	return recs, nil
}

// updateRecords changes the record atomically (nodes may write it at once).
func (p *Plugin) updateRecords(fn func(map[string]*backupRecord)) error {
	return kvstate.Records.Update(p.state(), func(recs map[string]*backupRecord, _ bool) (map[string]*backupRecord, error) {
		if recs == nil {
			recs = map[string]*backupRecord{}
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
