package probers

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/drsettings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/backups"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
)

func TestBuildFollowsTheDocument(t *testing.T) {
	pg := &drsettings.PostgreSQL{PrimaryDSN: "host=p user=u dbname=d", StandbyDSN: "host=s user=u dbname=d"}
	for name, tc := range map[string]struct {
		doc  drsettings.Document
		want []string
	}{
		"nothing":           {drsettings.Document{Topology: "single"}, []string{"scheduler", "backups"}},
		"standby":           {drsettings.Document{Database: drsettings.Database{PostgreSQL: pg}}, []string{"scheduler", "backups", "database"}},
		"primary, single":   {drsettings.Document{Database: drsettings.Database{PostgreSQL: &drsettings.PostgreSQL{PrimaryDSN: "host=p"}}}, []string{"scheduler", "backups"}},
		"primary, two":      {drsettings.Document{Topology: "two_regions", Database: drsettings.Database{PostgreSQL: &drsettings.PostgreSQL{PrimaryDSN: "host=p"}}}, []string{"scheduler", "backups", "database"}},
		"aurora":            {drsettings.Document{Database: drsettings.Database{Aurora: &drsettings.Aurora{GlobalClusterID: "g"}}}, []string{"scheduler", "backups", "database"}},
		"s3 and opensearch": {drsettings.Document{S3Replication: &drsettings.S3Replication{PrimaryBucket: "a", SecondaryBucket: "b"}, OpenSearch: &drsettings.OpenSearch{SecondaryURL: "https://os:9200"}}, []string{"scheduler", "backups", "s3", "opensearch"}},
		"idp":               {drsettings.Document{IdentityProviders: &drsettings.IdentityProviders{LDAP: &drsettings.LDAP{Server: "ldap"}}}, []string{"scheduler", "backups", "idp"}},
	} {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, p := range Build(Inputs{Document: tc.doc}) {
				got = append(got, p.Component())
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
