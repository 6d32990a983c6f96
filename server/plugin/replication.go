package plugin

import (
	"context"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/config"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	auroraprobe "github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/aurora"
	opensearchprobe "github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/opensearch"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/pgrepl"
	auroraclient "github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/replication/aurora"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/replication/opensearchccr"
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
	if cfg.DRAuroraGlobalClusterID != "" {
		out = append(out, p.auroraProber(cfg))
	}
	if strings.TrimSpace(cfg.DROpenSearchSecondaryURL) != "" {
		out = append(out, p.openSearchProber(cfg))
	}
	return out
}

// failedProber stands for a probe whose settings do not work: it reports why, as unknown.
func failedProber(component, name string, err error, fix string) status.Prober {
	return funcProber{component: component, name: name, fn: func(context.Context) probe.Result { return probe.Failed(component, name, err, fix) }}
}

func (p *Plugin) auroraProber(cfg config.Config) status.Prober {
	aws := auroraclient.Options{AccessKeyID: cfg.DRAWSAccessKeyID, SecretAccessKey: cfg.DRAWSSecretAccessKey}
	if e := strings.TrimSpace(cfg.DRAWSEndpoint); e != "" {
		aws.RDSEndpoint, aws.CloudWatchEndpoint = e, e
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pr, err := auroraprobe.New(ctx, auroraprobe.Options{
		GlobalClusterID: cfg.DRAuroraGlobalClusterID, PrimaryRegion: cfg.DRPrimaryRegion,
		ThisRegion: cfg.DRPrimaryRegion, ThisCluster: cfg.DRAuroraPrimaryCluster,
		OtherRegion: cfg.DRSecondaryRegion, OtherCluster: cfg.DRAuroraSecondaryCluster,
		RPOLagThreshold: cfg.RPOLagThreshold(), AWS: aws,
	})
	if err != nil {
		return failedProber("database", "Aurora global database "+cfg.DRAuroraGlobalClusterID, err, "check the Aurora settings under Replication")
	}
	return pr
}

func (p *Plugin) openSearchProber(cfg config.Config) status.Prober {
	creds := func(url string) opensearchccr.Options {
		return opensearchccr.Options{Addresses: []string{strings.TrimSpace(url)}, Username: cfg.DROpenSearchUsername, Password: cfg.DROpenSearchPassword}
	}
	o := opensearchprobe.Options{Follower: creds(cfg.DROpenSearchSecondaryURL), LeaderAlias: cfg.DROpenSearchLeaderAlias,
		CheckpointLagThreshold: int64(cfg.DROpenSearchLagThreshold)}
	if u := strings.TrimSpace(cfg.DROpenSearchPrimaryURL); u != "" {
		leader := creds(u)
		o.Leader = &leader
	}
	for _, ix := range strings.Split(cfg.DROpenSearchIndices, ",") {
		if ix = strings.TrimSpace(ix); ix != "" {
			o.ExpectedIndices = append(o.ExpectedIndices, ix)
		}
	}
	pr, err := opensearchprobe.New(o)
	if err != nil {
		return failedProber("opensearch", "OpenSearch cross-cluster replication", err, "check the OpenSearch settings under Replication")
	}
	return pr
}
