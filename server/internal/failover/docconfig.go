package failover

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/opensearchccr"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/drsettings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
)

// Environment variables of the OpenSearch credentials, which the document never holds.
const (
	EnvOpenSearchUsername = "DR_OPENSEARCH_USERNAME"
	EnvOpenSearchPassword = "DR_OPENSEARCH_PASSWORD" //nolint:gosec // the variable's name, not a secret
)

// DocumentConfig is the runbook's Config read from a trusted DR settings document, for drctl.
// The document holds no secret: the database passwords come from PGPASSWORD or ~/.pgpass
// (pgx reads them), the AWS credentials from the AWS chain, the OpenSearch ones from
// DR_OPENSEARCH_USERNAME/PASSWORD.
type DocumentConfig struct {
	Document drsettings.Document
	// Getenv reads the environment (nil: os.Getenv).
	Getenv func(string) string
	// Poll is how often the steps poll (0: DefaultPoll).
	Poll time.Duration
}

// Setup names the document's regions; a single-region document cannot fail over.
func (c DocumentConfig) Setup(context.Context) (Setup, error) {
	d := c.Document
	r := d.Regions
	if d.Topology != "two_regions" || strings.TrimSpace(r.Primary) == "" || strings.TrimSpace(r.Secondary) == "" {
		return Setup{}, errors.New("the DR settings document describes no two-region deployment (topology two_regions with a primary and a secondary region): set them under Regions and database replication in the plugin settings; the plugin writes the document again with the next backup")
	}
	if strings.EqualFold(r.Primary, r.Secondary) {
		return Setup{}, fmt.Errorf("the DR settings document names %s as both the primary and the secondary region", r.Primary)
	}
	return Setup{Primary: r.Primary, Standby: r.Secondary, BackupMaxAge: d.Thresholds.BackupStaleAfterDuration()}, nil
}

// Live maps the document's per-region settings to the steps' Live, credentials from the
// environment.
func (c DocumentConfig) Live(ctx context.Context) (Live, error) {
	setup, err := c.Setup(ctx)
	if err != nil {
		return Live{}, err
	}
	d, getenv := c.Document, c.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	primary, secondary := RegionSettings{}, RegionSettings{}
	live := Live{AWS: AWSSettings{Endpoint: d.AWSEndpoint}, SchedulerInSecondary: d.Regions.SchedulerInSecondary, Poll: c.Poll}
	if a := d.Database.Aurora; a != nil {
		live.AuroraGlobalID = a.GlobalClusterID
		primary.AuroraCluster, secondary.AuroraCluster = a.PrimaryCluster, a.SecondaryCluster
	}
	if pg := d.Database.PostgreSQL; pg != nil {
		live.Postgres = PostgresSettings{StandbyDSN: pg.StandbyDSN, PrimaryDSN: pg.PrimaryDSN}
	}
	if o := d.OpenSearch; o != nil {
		primary.OpenSearchURL, secondary.OpenSearchURL = o.PrimaryURL, o.SecondaryURL
		// As the plugin maps them: the primary's connection to the secondary is the reverse one.
		primary.OpenSearchAlias, secondary.OpenSearchAlias = o.ReverseLeaderAlias, o.LeaderAlias
		live.OpenSearch = OpenSearchSettings{Username: getenv(EnvOpenSearchUsername), Password: getenv(EnvOpenSearchPassword),
			Indices: o.Indices, LagThreshold: int64(d.Thresholds.OpenSearchCheckpointLag)}
		if roles := settings.SplitList(o.Roles); len(roles) == 2 {
			live.OpenSearch.Roles = &opensearchccr.Roles{LeaderClusterRole: roles[0], FollowerClusterRole: roles[1]}
		}
	}
	if r := d.Route53; r != nil {
		live.DNS = DNSRecord{ZoneID: r.ZoneID, Name: r.RecordName, Type: strings.ToUpper(r.RecordType), TTL: int64(r.TTL)}
		primary.DNSValues, secondary.DNSValues = r.PrimaryValues, r.SecondaryValues
	}
	live.Regions = map[string]RegionSettings{setup.Primary: primary, setup.Standby: secondary}
	return live, nil
}
