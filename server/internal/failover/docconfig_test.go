package failover_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/opensearchccr"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/drsettings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failover"
)

func twoRegionDocument() drsettings.Document {
	return drsettings.Document{
		Topology: "two_regions",
		Regions:  drsettings.Regions{Primary: "us-east-1", Secondary: "us-west-2", SchedulerInSecondary: true},
		Database: drsettings.Database{
			Aurora:     &drsettings.Aurora{GlobalClusterID: "mm-global", PrimaryCluster: "mm-east", SecondaryCluster: "mm-west"},
			PostgreSQL: &drsettings.PostgreSQL{PrimaryDSN: "host=east user=mm", StandbyDSN: "host=west user=mm"},
		},
		OpenSearch: &drsettings.OpenSearch{PrimaryURL: "https://os-east", SecondaryURL: "https://os-west", LeaderAlias: "east", ReverseLeaderAlias: "west",
			Indices: []string{"channels", "users"}, Roles: "leader_role, follower_role"},
		Route53:     &drsettings.Route53{ZoneID: "Z1", RecordName: "chat.example.com", RecordType: "cname", TTL: 30, PrimaryValues: []string{"lb-east"}, SecondaryValues: []string{"lb-west"}},
		AWSEndpoint: "http://127.0.0.1:4566",
		Thresholds:  drsettings.Thresholds{BackupStaleAfter: "12h0m0s", OpenSearchCheckpointLag: 50},
	}
}

func TestDocumentConfigLive(t *testing.T) {
	env := map[string]string{failover.EnvOpenSearchUsername: "admin", failover.EnvOpenSearchPassword: "s3cret"}
	c := failover.DocumentConfig{Document: twoRegionDocument(), Getenv: func(k string) string { return env[k] }, Poll: time.Second}
	setup, err := c.Setup(context.Background())
	require.NoError(t, err)
	assert.Equal(t, failover.Setup{Primary: "us-east-1", Standby: "us-west-2", BackupMaxAge: 12 * time.Hour}, setup)
	live, err := c.Live(context.Background())
	require.NoError(t, err)
	assert.Equal(t, failover.Live{
		Regions: map[string]failover.RegionSettings{
			"us-east-1": {AuroraCluster: "mm-east", OpenSearchURL: "https://os-east", OpenSearchAlias: "west", DNSValues: []string{"lb-east"}},
			"us-west-2": {AuroraCluster: "mm-west", OpenSearchURL: "https://os-west", OpenSearchAlias: "east", DNSValues: []string{"lb-west"}},
		},
		AuroraGlobalID: "mm-global",
		AWS:            failover.AWSSettings{Endpoint: "http://127.0.0.1:4566"},
		OpenSearch: failover.OpenSearchSettings{Username: "admin", Password: "s3cret", Indices: []string{"channels", "users"}, LagThreshold: 50,
			Roles: &opensearchccr.Roles{LeaderClusterRole: "leader_role", FollowerClusterRole: "follower_role"}},
		Postgres:             failover.PostgresSettings{StandbyDSN: "host=west user=mm", PrimaryDSN: "host=east user=mm"},
		DNS:                  failover.DNSRecord{ZoneID: "Z1", Name: "chat.example.com", Type: "CNAME", TTL: 30},
		SchedulerInSecondary: true,
		Poll:                 time.Second,
	}, live)
}

func TestDocumentConfigRefusesOneRegion(t *testing.T) {
	for name, mutate := range map[string]func(d *drsettings.Document){
		"single topology":   func(d *drsettings.Document) { d.Topology = "single" },
		"no secondary":      func(d *drsettings.Document) { d.Regions.Secondary = "" },
		"same region twice": func(d *drsettings.Document) { d.Regions.Secondary = d.Regions.Primary },
	} {
		t.Run(name, func(t *testing.T) {
			d := twoRegionDocument()
			mutate(&d)
			_, err := failover.DocumentConfig{Document: d}.Setup(context.Background())
			require.Error(t, err)
			_, err = failover.DocumentConfig{Document: d}.Live(context.Background())
			require.Error(t, err)
		})
	}
}

// A runbook planted at the destination (or another deployment's) is refused before drctl
// acts on it; this deployment's runbooks, either way round, are not.
func TestCheckedJournal(t *testing.T) {
	good := func() *failover.Run {
		return failover.NewRun(failover.KindFailover, failover.Failover, "us-east-1", "us-west-2", "drctl:a@h", "a@h", nil, time.Now())
	}
	cases := map[string]struct {
		mutate func(r *failover.Run)
		want   string // "" : accepted
	}{
		"failover":           {func(*failover.Run) {}, ""},
		"failback":           {func(r *failover.Run) { reverse(r); r.Kind = failover.KindFailback }, ""},
		"other regions":      {func(r *failover.Run) { r.From, r.To = "eu-west-1", "us-west-2" }, `goes from "eu-west-1"`},
		"same region":        {func(r *failover.Run) { r.To = r.From }, `to "us-east-1"`},
		"step to elsewhere":  {func(r *failover.Run) { r.Steps[1].To = "attacker" }, `step "database" goes from`},
		"unknown step kind":  {func(r *failover.Run) { r.Steps[2].Kind = "shell" }, `unknown kind "shell"`},
		"id that is a path":  {func(r *failover.Run) { r.ID = "../../backups/x" }, "is not a runbook id"},
		"kind of no runbook": {func(r *failover.Run) { r.Kind = "wipe" }, `its kind is "wipe"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			j, _ := storeJournal(t)
			r := good()
			tc.mutate(r)
			_, err := j.Update(context.Background(), func(*failover.Run) (*failover.Run, error) { return r, nil })
			require.NoError(t, err)
			cj := failover.CheckedJournal{Journal: j, Regions: [2]string{"us-east-1", "us-west-2"}, Where: "/backups"}
			loaded, err := cj.Load(context.Background())
			_, uerr := cj.Update(context.Background(), func(cur *failover.Run) (*failover.Run, error) { return cur, nil })
			if tc.want == "" {
				require.NoError(t, err)
				require.NoError(t, uerr)
				assert.Equal(t, r.ID, loaded.ID)
				return
			}
			require.ErrorIs(t, err, failover.ErrForeignRun)
			require.ErrorIs(t, uerr, failover.ErrForeignRun)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "drctl will not act on it")
		})
	}
}

func reverse(r *failover.Run) {
	r.From, r.To = r.To, r.From
	for i := range r.Steps {
		r.Steps[i].From, r.Steps[i].To = r.Steps[i].To, r.Steps[i].From
	}
}
