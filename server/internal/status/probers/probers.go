// Package probers builds the DR status probes from the DR settings document, for both front
// ends: the plugin (`/dr status`, REST, metrics, alerts) and `drctl status`, so that the same
// settings give the same probes, the same verdict and the same reasons. What only Mattermost
// knows (node reports, the plugin's backup record, advice that reads sessions) comes in as
// optional inputs; without them those probes say they are not available rather than vanish.
package probers

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/mattermost/mattermost/server/public/model"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/opensearchccr"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/rds"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/drsettings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/aurora"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/backups"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/idp"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/nodes"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/opensearch"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/pgrepl"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/s3repl"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
)

// Credentials are the secrets the document leaves out. The plugin has them in its settings;
// drctl leaves them empty, and the clients take them from the operator's environment (the AWS
// chain, PGPASSWORD or ~/.pgpass) or from DR_OPENSEARCH_USERNAME/PASSWORD.
type Credentials struct {
	// PostgreSQL connection strings with their passwords; each replaces the document's when set.
	PostgresPrimaryDSN  string
	PostgresReplicaDSNs []string
	PostgresStandbyDSN  string
	// AWS static keys; empty: the default chain. S3 keys fall back to the AWS ones.
	AWSAccessKeyID, AWSSecretAccessKey string
	S3AccessKeyID, S3SecretAccessKey   string
	OpenSearchUsername                 string
	OpenSearchPassword                 string
}

// Inputs are what the probes are built from.
type Inputs struct {
	Document    drsettings.Document
	Credentials Credentials
	// NodeReports reads every app node's report (Mattermost only); nil: not available.
	NodeReports func(context.Context) ([]nodes.NodeReport, error)
	// Backups reads the backup catalogue: the plugin's record, or a destination
	// (DestinationBackups); nil: not available. An error (the destination cannot be read)
	// makes the probe unknown, never "no backup yet".
	Backups func(context.Context) (backups.Input, error)
	// IdentityProviders returns the Mattermost configuration whose SSO providers are checked;
	// nil: the document's (addresses only: an LDAP check does not bind).
	IdentityProviders func() *model.Config
	// WALArchive is the continuous WAL archive's probe (the plugin runs the archiver); nil:
	// left out.
	WALArchive status.Prober
	// PITRWindows are the point-in-time restore windows of the destinations
	// (DestinationWindow, or the plugin's record of them); none: left out.
	PITRWindows []status.Prober
	// WrapIdentityProviders adds to the identity provider probe what only Mattermost knows
	// (the plugin: how many users a provider that is down keeps out); nil: none.
	WrapIdentityProviders func(status.Prober) status.Prober
}

// NotAvailable is the summary of a probe that needs Mattermost, run outside it.
const NotAvailable = "not available outside Mattermost"

// Build lists the probes the document calls for, in the order the status shows them.
func Build(in Inputs) []status.Prober {
	d := in.Document
	expect := nodes.Expect{Topology: nodes.Single}
	if d.Topology == string(nodes.TwoRegions) {
		expect = nodes.Expect{Topology: nodes.TwoRegions, PrimaryRegion: d.Regions.Primary, SecondaryRegion: d.Regions.Secondary,
			Scheduler: map[string]bool{d.Regions.Primary: true, d.Regions.Secondary: d.Regions.SchedulerInSecondary}}
	}
	var ps []status.Prober
	if in.NodeReports != nil {
		ps = append(ps, nodes.New(nodes.Options{Source: in.NodeReports, Expect: expect}))
	} else {
		ps = append(ps, notAvailable(nodes.Component, "Mattermost nodes", "the app nodes report to each other through Mattermost's database: run /dr status there once Mattermost is up"))
	}
	if in.Backups != nil {
		ps = append(ps, backupsProber(in.Backups, backups.Thresholds{MaxAge: d.Thresholds.BackupStaleAfterDuration()}))
	} else {
		ps = append(ps, notAvailable(backups.Component, "Backups", "give the backup destination with --from"))
	}
	if in.WALArchive != nil {
		ps = append(ps, in.WALArchive)
	}
	ps = append(ps, in.PITRWindows...)
	return withNotSetUp(append(ps, replication(in)...))
}

// backupsProber judges the catalogue read reports, or says why it could not be read.
func backupsProber(read func(context.Context) (backups.Input, error), th backups.Thresholds) status.Prober {
	return fn{component: backups.Component, name: "Backups", run: func(ctx context.Context) probe.Result {
		in, err := read(ctx)
		if err != nil {
			return probe.Failed(backups.Component, "Plugin backups", err, "check that the backup destination can be read")
		}
		return backups.Analyze(in, th, time.Now())
	}}
}

// replication are the probes of the replicated systems the document names.
func replication(in Inputs) []status.Prober {
	d, c := in.Document, in.Credentials
	var out []status.Prober
	if o, ok := postgres(d, c); ok {
		out = append(out, pgrepl.New(o))
	}
	if d.Database.Aurora != nil {
		out = append(out, auroraProber(d, c))
	}
	if d.S3Replication != nil {
		out = append(out, s3Prober(d, c))
	}
	if d.OpenSearch != nil && d.OpenSearch.SecondaryURL != "" {
		out = append(out, openSearchProber(d, c))
	}
	cfg := in.IdentityProviders
	if cfg == nil {
		doc := d.IdentityProviders.Config()
		cfg = func() *model.Config { return doc }
	}
	if len(idp.Enabled(cfg())) > 0 {
		var p status.Prober = idp.New(idp.Options{Config: cfg})
		if in.WrapIdentityProviders != nil {
			p = in.WrapIdentityProviders(p)
		}
		out = append(out, p)
	}
	return out
}

// postgres says which PostgreSQL servers to check: Mattermost's primary with its read
// replicas and the DR standby, when there is a standby to check, or the topology spans two
// regions without Aurora (then a primary without standbys is the finding).
func postgres(d drsettings.Document, c Credentials) (pgrepl.Options, bool) {
	var o pgrepl.Options
	pg := d.Database.PostgreSQL
	if pg == nil {
		pg = &drsettings.PostgreSQL{}
	}
	o.PrimaryDSN = orDefault(c.PostgresPrimaryDSN, pg.PrimaryDSN)
	o.ReplicaDSNs = append(o.ReplicaDSNs, pg.ReplicaDSNs...)
	if c.PostgresReplicaDSNs != nil {
		o.ReplicaDSNs = append([]string(nil), c.PostgresReplicaDSNs...)
	}
	if s := orDefault(c.PostgresStandbyDSN, pg.StandbyDSN); s != "" {
		o.ReplicaDSNs = append(o.ReplicaDSNs, s)
	}
	o.MaxLag = rpo(d)
	ok := o.PrimaryDSN != "" && (len(o.ReplicaDSNs) > 0 || d.Topology == string(nodes.TwoRegions) && d.Database.Aurora == nil)
	return o, ok
}

// rpo is the database lag threshold (the settings' default when the document has none).
func rpo(d drsettings.Document) time.Duration {
	if r := d.Thresholds.RPOLagDuration(); r > 0 {
		return r
	}
	return 30 * time.Second
}

func auroraProber(d drsettings.Document, c Credentials) status.Prober {
	a := d.Database.Aurora
	aws := rds.Options{AccessKeyID: c.AWSAccessKeyID, SecretAccessKey: c.AWSSecretAccessKey}
	if e := d.AWSEndpoint; e != "" {
		aws.RDSEndpoint, aws.CloudWatchEndpoint = e, e
	}
	pr, err := aurora.New(aurora.Options{
		GlobalClusterID: a.GlobalClusterID, PrimaryRegion: d.Regions.Primary,
		ThisRegion: d.Regions.Primary, ThisCluster: a.PrimaryCluster,
		OtherRegion: d.Regions.Secondary, OtherCluster: a.SecondaryCluster,
		RPOLagThreshold: rpo(d), AWS: aws,
	})
	if err != nil {
		return failed("database", "Aurora global database "+a.GlobalClusterID, err, "check the Aurora settings under Regions and database replication")
	}
	return pr
}

func s3Prober(d drsettings.Document, c Credentials) status.Prober {
	r := d.S3Replication
	key, secret := c.S3AccessKeyID, c.S3SecretAccessKey
	if key == "" {
		key, secret = c.AWSAccessKeyID, c.AWSSecretAccessKey
	}
	name := "S3 replication " + r.PrimaryBucket + " ⇄ " + r.SecondaryBucket
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := func(region, endpoint string) (*s3.Client, error) {
		return s3repl.NewClient(ctx, s3repl.ClientOptions{Region: region, Endpoint: strings.TrimSpace(endpoint), PathStyle: r.PathStyle,
			AccessKeyID: key, SecretAccessKey: secret})
	}
	a, err := client(d.Regions.Primary, r.PrimaryEndpoint)
	if err != nil {
		return failed("s3", name, err, "check the settings under S3 replication")
	}
	b, err := client(d.Regions.Secondary, r.SecondaryEndpoint)
	if err != nil {
		return failed("s3", name, err, "check the settings under S3 replication")
	}
	return s3repl.New(s3repl.Options{
		A:                s3repl.Bucket{Name: r.PrimaryBucket, Client: a, Label: r.PrimaryBucket + " (" + d.Regions.Primary + ")"},
		B:                s3repl.Bucket{Name: r.SecondaryBucket, Client: b, Label: r.SecondaryBucket + " (" + d.Regions.Secondary + ")"},
		PendingThreshold: d.Thresholds.S3PendingObjects, FailedThreshold: d.Thresholds.S3FailedObjects, Prefix: r.Prefix})
}

func openSearchProber(d drsettings.Document, c Credentials) status.Prober {
	os := d.OpenSearch
	creds := func(url string) opensearchccr.Options {
		return opensearchccr.Options{Addresses: []string{url}, Username: c.OpenSearchUsername, Password: c.OpenSearchPassword}
	}
	o := opensearch.Options{Follower: creds(os.SecondaryURL), LeaderAlias: os.LeaderAlias, ExpectedIndices: os.Indices,
		CheckpointLagThreshold: int64(d.Thresholds.OpenSearchCheckpointLag)}
	if os.PrimaryURL != "" {
		leader := creds(os.PrimaryURL)
		o.Leader = &leader
	}
	pr, err := opensearch.New(o)
	if err != nil {
		return failed("opensearch", "OpenSearch cross-cluster replication", err, "check the settings under OpenSearch replication")
	}
	return pr
}

// fn adapts a function to status.Prober.
type fn struct {
	component, name string
	run             func(ctx context.Context) probe.Result
}

func (f fn) Component() string                      { return f.component }
func (f fn) Name() string                           { return f.name }
func (f fn) Probe(ctx context.Context) probe.Result { return f.run(ctx) }

// failed stands for a probe whose settings do not work: it reports why, as unknown.
func failed(component, name string, err error, fix string) status.Prober {
	return fn{component: component, name: name, run: func(context.Context) probe.Result { return probe.Failed(component, name, err, fix) }}
}

// notAvailable stands for a probe that needs Mattermost. It shows in the report, outside the
// verdict (NotConfigured): drctl cannot know, and must not make every verdict "degraded".
func notAvailable(component, name, why string) status.Prober {
	return fn{component: component, name: name, run: func(context.Context) probe.Result {
		return probe.Result{Component: component, Name: name, State: probe.NotConfigured, Summary: NotAvailable + ": " + why, CheckedAt: time.Now()}
	}}
}

func orDefault(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
