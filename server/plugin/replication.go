package plugin

import (
	"context"
	"strings"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/config"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/pgrepl"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
)

// replicationProbers are the probes of the replicated systems the settings name.
func (p *Plugin) replicationProbers(cfg config.Config) []status.Prober {
	var out []status.Prober
	mm := p.API.GetUnsanitizedConfig()
	// Self-hosted PostgreSQL streaming replication: Mattermost's own read replicas and the DR
	// standby, checked from the primary and from each standby.
	if mm != nil {
		o := pgrepl.FromSQLSettings(&mm.SqlSettings)
		if s := strings.TrimSpace(cfg.DRPostgresStandbyDataSource); s != "" {
			o.ReplicaDSNs = append(o.ReplicaDSNs, s)
		}
		o.MaxLag = cfg.RPOLagThreshold()
		if o.PrimaryDSN != "" && (len(o.ReplicaDSNs) > 0 || cfg.DRTopology == "two_regions" && cfg.DRAuroraGlobalClusterID == "") {
			out = append(out, funcProber{component: "database", name: "PostgreSQL streaming replication",
				fn: func(ctx context.Context) probe.Result { return pgrepl.Check(ctx, o) }})
		}
	}
	return out
}
