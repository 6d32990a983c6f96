package plugin

import (
	"context"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/drsettings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/pgrepl"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
)

// documentSources are what the DR settings document of cfg is made of, signing key aside.
func (p *Plugin) documentSources(cfg settings.Config) drsettings.Sources {
	src := drsettings.Sources{Config: cfg, ThisRegion: cfg.DRThisRegion}
	if mm := p.API.GetUnsanitizedConfig(); mm != nil {
		o := pgrepl.FromSQLSettings(&mm.SqlSettings)
		src.PostgresPrimaryDSN, src.PostgresReplicaDSNs = o.PrimaryDSN, o.ReplicaDSNs
		src.FileStorePrefix = deref(mm.FileSettings.AmazonS3PathPrefix)
		src.Mattermost = mm
	}
	return src
}

// settingsDocument is the DR settings document for cfg and this Mattermost: what drctl needs
// when Mattermost is down (see drsettings).
func (p *Plugin) settingsDocument(cfg settings.Config, dests []backup.Destination) (drsettings.Document, error) {
	src := p.documentSources(cfg)
	for _, d := range dests {
		if d.Name == "local" {
			src.LocalBackupFolder = d.Store.String()
		}
	}
	k, err := p.signingKey()
	if err != nil {
		return drsettings.Document{}, err
	}
	src.SigningKey = k.PublicKey()
	return drsettings.Build(src), nil
}

// publishSettings writes the DR settings document at every destination (only one, when only
// is set) where it is not already current. Failures are logged: the next change or backup
// tries again, and `drctl status` says when the document is missing.
func (p *Plugin) publishSettings(only string) {
	p.publishMu.Lock()
	defer p.publishMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, _ := p.config()
	all, err := p.destinations(ctx, cfg, "")
	if err != nil {
		p.API.LogWarn("Disaster Recovery could not write the DR settings document", "error", err.Error())
		return
	}
	doc, err := p.settingsDocument(cfg, all)
	if err != nil {
		p.API.LogWarn("Disaster Recovery could not write the DR settings document", "error", err.Error())
		return
	}
	k, err := p.signingKey()
	if err != nil {
		p.API.LogWarn("Disaster Recovery could not write the DR settings document", "error", err.Error())
		return
	}
	for _, d := range all {
		if only != "" && d.Name != only {
			continue
		}
		wrote, err := drsettings.Write(ctx, d.Store, doc, k)
		switch {
		case err != nil:
			p.API.LogWarn("Disaster Recovery could not write the DR settings document", "destination", d.Name, "error", err.Error())
		case wrote:
			p.API.LogInfo("Disaster Recovery wrote the DR settings document", "destination", d.Name, "key", drsettings.Key)
		}
	}
}
