package plugin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/opensearchccr"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/rds"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/aurora"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/idp"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/opensearch"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/pgrepl"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/s3repl"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
)

// replicationProbers are the probes of the replicated systems the settings name.
func (p *Plugin) replicationProbers(cfg settings.Config) []status.Prober {
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
			out = append(out, pgrepl.New(o))
		}
	}
	if cfg.DRAuroraGlobalClusterID != "" {
		out = append(out, p.auroraProber(cfg))
	}
	if cfg.DRS3PrimaryBucket != "" && cfg.DRS3SecondaryBucket != "" {
		out = append(out, p.s3Prober(cfg))
	}
	if strings.TrimSpace(cfg.DROpenSearchSecondaryURL) != "" {
		out = append(out, p.openSearchProber(cfg))
	}
	if mm != nil && len(idp.Enabled(mm)) > 0 {
		out = append(out, idpProber{idp: idp.New(idp.Options{Config: p.API.GetUnsanitizedConfig}), p: p})
	}
	return out
}

func (p *Plugin) s3Prober(cfg settings.Config) status.Prober {
	key, secret := cfg.DRS3AccessKeyID, cfg.DRS3SecretAccessKey
	if key == "" {
		key, secret = cfg.DRAWSAccessKeyID, cfg.DRAWSSecretAccessKey
	}
	name := "S3 replication " + cfg.DRS3PrimaryBucket + " ⇄ " + cfg.DRS3SecondaryBucket
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := func(region, endpoint string) (*s3.Client, error) {
		return s3repl.NewClient(ctx, s3repl.ClientOptions{Region: region, Endpoint: strings.TrimSpace(endpoint), PathStyle: cfg.DRS3PathStyle,
			AccessKeyID: key, SecretAccessKey: secret})
	}
	a, err := client(cfg.DRPrimaryRegion, cfg.DRS3PrimaryEndpoint)
	if err != nil {
		return failedProber("s3", name, err, "check the S3 replication settings under Replication")
	}
	b, err := client(cfg.DRSecondaryRegion, cfg.DRS3SecondaryEndpoint)
	if err != nil {
		return failedProber("s3", name, err, "check the S3 replication settings under Replication")
	}
	o := s3repl.Options{A: s3repl.Bucket{Name: cfg.DRS3PrimaryBucket, Client: a, Label: cfg.DRS3PrimaryBucket + " (" + cfg.DRPrimaryRegion + ")"},
		B:                s3repl.Bucket{Name: cfg.DRS3SecondaryBucket, Client: b, Label: cfg.DRS3SecondaryBucket + " (" + cfg.DRSecondaryRegion + ")"},
		PendingThreshold: cfg.DRS3PendingThreshold, FailedThreshold: cfg.DRS3FailedThreshold}
	if mm := p.API.GetConfig(); mm != nil && mm.FileSettings.AmazonS3PathPrefix != nil {
		o.Prefix = *mm.FileSettings.AmazonS3PathPrefix
	}
	return s3repl.New(o)
}

// idpProber adds to the identity provider probe what to do for the users of a provider that
// is down.
type idpProber struct {
	idp *idp.Probe
	p   *Plugin
}

func (ip idpProber) Component() string    { return ip.idp.Component() }
func (ip idpProber) Name() string         { return ip.idp.Name() }
func (ip idpProber) ReportsPartial() bool { return ip.idp.ReportsPartial() }

// Probe runs the identity provider probe and adds the advice.
func (ip idpProber) Probe(ctx context.Context) probe.Result {
	r := ip.idp.Probe(ctx)
	ip.p.addFallbackAdvice(ctx, &r)
	return r
}

// addFallbackAdvice adds, for each identity provider found down, how many of its users'
// sessions end within a day (they will not get back in) and the command that lets them in.
func (p *Plugin) addFallbackAdvice(ctx context.Context, r *probe.Result) {
	for _, m := range r.Metrics {
		service := m.Labels["service"]
		if m.Name != "dr_idp_up" || m.Value != 0 || service == "" {
			continue
		}
		n, err := p.ssoAdapter.UsersWithSessionsEndingWithin(ctx, service, 24*time.Hour)
		if err != nil {
			continue
		}
		r.Add(probe.Critical, fmt.Sprintf("/dr sso fallback --all --service %s --confirm (or name the users who need in now)", service),
			fmt.Sprintf("%d %s users have sessions that end within 24 hours: while %s is down they cannot sign in again", n, service, service))
	}
}

// failedProber stands for a probe whose settings do not work: it reports why, as unknown.
func failedProber(component, name string, err error, fix string) status.Prober {
	return funcProber{component: component, name: name, fn: func(context.Context) probe.Result { return probe.Failed(component, name, err, fix) }}
}

func (p *Plugin) auroraProber(cfg settings.Config) status.Prober {
	aws := rds.Options{AccessKeyID: cfg.DRAWSAccessKeyID, SecretAccessKey: cfg.DRAWSSecretAccessKey}
	if e := strings.TrimSpace(cfg.DRAWSEndpoint); e != "" {
		aws.RDSEndpoint, aws.CloudWatchEndpoint = e, e
	}
	pr, err := aurora.New(aurora.Options{
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

func (p *Plugin) openSearchProber(cfg settings.Config) status.Prober {
	creds := func(url string) opensearchccr.Options {
		return opensearchccr.Options{Addresses: []string{strings.TrimSpace(url)}, Username: cfg.DROpenSearchUsername, Password: cfg.DROpenSearchPassword}
	}
	o := opensearch.Options{Follower: creds(cfg.DROpenSearchSecondaryURL), LeaderAlias: cfg.DROpenSearchLeaderAlias,
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
	pr, err := opensearch.New(o)
	if err != nil {
		return failedProber("opensearch", "OpenSearch cross-cluster replication", err, "check the OpenSearch settings under Replication")
	}
	return pr
}
