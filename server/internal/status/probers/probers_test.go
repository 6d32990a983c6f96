package probers

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/drsettings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/filesource"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/backups"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
)

func TestBuildFollowsTheDocument(t *testing.T) {
	pg := &drsettings.PostgreSQL{PrimaryDSN: "host=p user=u dbname=d", StandbyDSN: "host=s user=u dbname=d"}
	for name, tc := range map[string]struct {
		doc  drsettings.Document
		want []string
	}{
		// Components that are not set up come last, as not-configured results (starred here).
		"nothing":           {drsettings.Document{Topology: "single"}, []string{"scheduler", "backups", "database*", "s3*", "opensearch*", "idp*"}},
		"standby":           {drsettings.Document{Database: drsettings.Database{PostgreSQL: pg}}, []string{"scheduler", "backups", "database", "s3*", "opensearch*", "idp*"}},
		"primary, single":   {drsettings.Document{Database: drsettings.Database{PostgreSQL: &drsettings.PostgreSQL{PrimaryDSN: "host=p"}}}, []string{"scheduler", "backups", "database*", "s3*", "opensearch*", "idp*"}},
		"primary, two":      {drsettings.Document{Topology: "two_regions", Database: drsettings.Database{PostgreSQL: &drsettings.PostgreSQL{PrimaryDSN: "host=p"}}}, []string{"scheduler", "backups", "database", "s3*", "opensearch*", "idp*"}},
		"aurora":            {drsettings.Document{Database: drsettings.Database{Aurora: &drsettings.Aurora{GlobalClusterID: "g"}}}, []string{"scheduler", "backups", "database", "s3*", "opensearch*", "idp*"}},
		"s3 and opensearch": {drsettings.Document{S3Replication: &drsettings.S3Replication{PrimaryBucket: "a", SecondaryBucket: "b"}, OpenSearch: &drsettings.OpenSearch{SecondaryURL: "https://os:9200"}}, []string{"scheduler", "backups", "s3", "opensearch", "database*", "idp*"}},
		"idp":               {drsettings.Document{IdentityProviders: &drsettings.IdentityProviders{LDAP: &drsettings.LDAP{Server: "ldap"}}}, []string{"scheduler", "backups", "idp", "database*", "s3*", "opensearch*"}},
	} {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, p := range Build(Inputs{Document: tc.doc}) {
				c := p.Component()
				if f, ok := p.(fn); ok && f.run != nil && strings.HasPrefix(f.run(context.Background()).Summary, NotSetUpPrefix) {
					c += "*"
				}
				got = append(got, c)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestMattermostOnlyProbesAreShownNotCounted(t *testing.T) {
	ps := Build(Inputs{Document: drsettings.Document{}})
	for _, p := range ps[:2] {
		r := p.Probe(context.Background())
		assert.Equal(t, probe.NotConfigured, r.State, p.Component())
		assert.Contains(t, r.Summary, NotAvailable)
	}
}

func TestBackupsInputErrorIsUnknown(t *testing.T) {
	ps := Build(Inputs{Backups: func(context.Context) (backups.Input, error) { return backups.Input{}, errors.New("access denied") }})
	r := ps[1].Probe(context.Background())
	assert.Equal(t, probe.Unknown, r.State)
	assert.Contains(t, r.Findings[0].Message, "access denied")
}

func TestDestinationBackupsEmpty(t *testing.T) {
	st, err := local.New(t.TempDir())
	require.NoError(t, err)
	in, err := DestinationBackups(st, nil, false)(context.Background())
	require.NoError(t, err)
	assert.True(t, in.Enabled)
	assert.True(t, in.NewestSuccess.IsZero(), "no trusted backup: none counts")
}

// A component the admin has not set up is a not-configured result that says what that means
// for DR; it does not change the verdict.
func TestNotSetUpSaysWhatItMeansAndKeepsTheVerdict(t *testing.T) {
	healthy := func(context.Context) (backups.Input, error) { return backups.Input{Enabled: true}, nil }
	ps := Build(Inputs{Document: drsettings.Document{Topology: "single"}, Backups: healthy})
	var results []probe.Result
	for _, p := range ps {
		results = append(results, p.Probe(context.Background()))
	}
	meaning := map[string]string{}
	for _, r := range results {
		if strings.HasPrefix(r.Summary, NotSetUpPrefix) {
			assert.Equal(t, probe.NotConfigured, r.State, r.Component)
			meaning[r.Component] = r.Summary
		}
	}
	assert.Contains(t, meaning["database"], "losing the database server loses everything since the last backup")
	assert.Contains(t, meaning["s3"], "DRS3PrimaryBucket")
	assert.Contains(t, meaning["opensearch"], "DROpenSearchSecondaryURL")
	assert.Contains(t, meaning["idp"], "no SSO provider")
	without := results[:2]
	assert.Equal(t, status.NewReport(without, time.Time{}, 0).Verdict, status.NewReport(results, time.Time{}, 0).Verdict)
}

// A file capture is no backup of the server: the newest backup is the one before it.
func TestDestinationBackupsIgnoresCaptures(t *testing.T) {
	dir := t.TempDir()
	st, err := local.New(dir)
	require.NoError(t, err)
	key, err := format.GenerateSigningKey()
	require.NoError(t, err)
	files := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(files, "a"), []byte("a"), 0o600))
	run := func(capture bool) *format.Manifest {
		ms, err := backup.Run(context.Background(), backup.Options{Components: format.Components{Files: true}, Capture: capture, Files: filesource.NewLocal(files),
			Destinations: []backup.Destination{{Name: "local", Store: st}}, SigningKey: key})
		require.NoError(t, err)
		return ms["local"]
	}
	logical := run(false)
	time.Sleep(10 * time.Millisecond)
	require.NoError(t, os.WriteFile(filepath.Join(files, "b"), []byte("b"), 0o600))
	capture := run(true)
	require.True(t, capture.FinishedAt.After(logical.FinishedAt))
	in, err := DestinationBackups(st, []format.PublicKey{key.PublicKey()}, false)(context.Background())
	require.NoError(t, err)
	assert.Equal(t, logical.FinishedAt, in.NewestSuccess)
}
