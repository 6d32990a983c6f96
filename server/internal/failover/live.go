package failover

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/opensearchccr"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/rds"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/route53"
)

// Live is what the steps need from the current settings. It holds secrets and is never stored:
// the journal names regions, and a step looks the region's resources up here when it runs, so
// that the settings swap at the end of a runbook (which moves every per-region setting along
// with the region names) never points a step at the wrong cluster.
type Live struct {
	// Regions are the per-region resources, by region name.
	Regions map[string]RegionSettings

	AuroraGlobalID string
	AWS            AWSSettings
	OpenSearch     OpenSearchSettings
	Postgres       PostgresSettings
	DNS            DNSRecord

	// AnnounceAll also announces in every team's Town Square.
	AnnounceAll bool
	// SchedulerInSecondary: the standby region's nodes run the job scheduler too.
	SchedulerInSecondary bool
	// SiteURL is Mattermost's, for the manual DNS step.
	SiteURL string

	// Poll is how often waits poll (default 5 s); Wait bounds each wait (default 30 min).
	Poll time.Duration
	Wait time.Duration
}

// RegionSettings are one region's resources.
type RegionSettings struct {
	AuroraCluster string // identifier or ARN
	OpenSearchURL string
	// OpenSearchAlias is this region's cluster's name (cluster.remote.<alias>) for its
	// connection to the other region's cluster: the leader alias when this region follows.
	OpenSearchAlias string
	// DNSValues are what the record users resolve holds when this region serves.
	DNSValues []string
}

// AWSSettings are the credentials and endpoint of the AWS calls.
type AWSSettings struct {
	AccessKeyID     string
	SecretAccessKey string
	Endpoint        string // replaces the RDS, CloudWatch and Route 53 endpoints
}

// OpenSearchSettings are the cross-cluster replication settings.
type OpenSearchSettings struct {
	Username, Password string
	Indices            []string // started one by one (channels, users, files)
	Pattern            string   // auto-follow pattern for the rest (posts*)
	Rule               string   // auto-follow rule name to create
	Roles              *opensearchccr.Roles
	LagThreshold       int64
}

// PostgresSettings are the self-hosted database's.
type PostgresSettings struct {
	StandbyDSN string // the DR standby, promoted by the database step
	PrimaryDSN string // Mattermost's database, read for the switchover's catch-up check
}

// DNSRecord is the Route 53 record users resolve.
type DNSRecord struct {
	ZoneID string
	Name   string
	Type   string
	TTL    int64
}

// Defaults.
const (
	DefaultPoll    = 5 * time.Second
	DefaultWait    = 30 * time.Minute
	DefaultRule    = "mattermost-posts"
	DefaultPattern = "posts*"
)

func (l Live) poll() time.Duration {
	if l.Poll > 0 {
		return l.Poll
	}
	return DefaultPoll
}

func (l Live) wait() time.Duration {
	if l.Wait > 0 {
		return l.Wait
	}
	return DefaultWait
}

func (l Live) region(name string) RegionSettings { return l.Regions[name] }

// OpenSearchConfigured says whether OpenSearch replication is part of the deployment.
func (l Live) OpenSearchConfigured() bool {
	for _, r := range l.Regions {
		if r.OpenSearchURL != "" {
			return true
		}
	}
	return false
}

func (l Live) pattern() string { return nonEmpty(l.OpenSearch.Pattern, DefaultPattern) }
func (l Live) rule() string    { return nonEmpty(l.OpenSearch.Rule, DefaultRule) }
func (l Live) indices() []string {
	if l.OpenSearch.Indices == nil {
		return []string{"channels", "users", "files"}
	}
	return l.OpenSearch.Indices
}

// openSearch returns a client of a region's cluster.
func (l Live) openSearch(region string) (*opensearchccr.Client, error) {
	u := l.region(region).OpenSearchURL
	if u == "" {
		return nil, fmt.Errorf("the OpenSearch URL of region %s is not set", region)
	}
	return opensearchccr.New(opensearchccr.Options{Addresses: []string{u}, Username: l.OpenSearch.Username, Password: l.OpenSearch.Password})
}

// aurora returns an RDS client that asks the target region: during an outage of the other
// region, that is the one that answers.
func (l Live) aurora(ctx context.Context, from, to string) (*rds.Client, error) {
	regions := map[string]string{}
	for _, reg := range []string{from, to} {
		if c := l.region(reg).AuroraCluster; c != "" {
			regions[c] = reg
		}
	}
	return rds.New(ctx, rds.Options{Region: to, ClusterRegions: regions,
		AccessKeyID: l.AWS.AccessKeyID, SecretAccessKey: l.AWS.SecretAccessKey,
		RDSEndpoint: l.AWS.Endpoint, CloudWatchEndpoint: l.AWS.Endpoint})
}

func (l Live) route53(ctx context.Context) (*route53.Client, error) {
	return route53.New(ctx, route53.Options{AccessKeyID: l.AWS.AccessKeyID, SecretAccessKey: l.AWS.SecretAccessKey, Endpoint: l.AWS.Endpoint})
}

// unreachable tells an error that means "the cluster does not answer" (connection refused,
// timeout, 502/503/504) from one that means "it answered no".
func unreachable(err error) bool {
	if err == nil {
		return false
	}
	switch opensearchccr.StatusOf(err) {
	case 0:
	case 502, 503, 504:
		return true
	default:
		return false
	}
	var ne net.Error
	var oe *net.OpError
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) || errors.As(err, &oe) ||
		strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "EOF")
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
