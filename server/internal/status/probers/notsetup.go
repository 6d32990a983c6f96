package probers

import (
	"context"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
)

// NotSetUpPrefix starts the summary of a component the admin has not set up, so that every
// front end can tell it from one that is set up but not answering (that is unknown, with why).
const NotSetUpPrefix = "not set up: "

// notSetUp is what leaving each optional component out means for disaster recovery, and where
// to set it up. A default single-server install has none of them: the status says so plainly
// instead of showing them like broken ones.
var notSetUp = []struct{ component, name, meaning string }{
	{"database", "Database replica",
		"no database replica: losing the database server loses everything since the last backup. " +
			"Set DRPostgresStandbyDataSource (or Mattermost's DataSourceReplicas), or the Aurora global database, under Regions and database replication."},
	{"s3", "S3 replication",
		"no file store replication: files uploaded since the last backup are lost with the file store. " +
			"Set DRS3PrimaryBucket and DRS3SecondaryBucket under S3 replication."},
	{"opensearch", "OpenSearch replication",
		"no OpenSearch follower: if Mattermost uses OpenSearch, search after a failover needs a full reindex. " +
			"Set DROpenSearchSecondaryURL under OpenSearch replication."},
	{"idp", "Identity providers",
		"no SSO provider is enabled in Mattermost: users log in with passwords, so there is no identity provider to lose."},
}

// withNotSetUp adds a not-configured result for each optional component no probe checks.
func withNotSetUp(ps []status.Prober) []status.Prober {
	have := map[string]bool{}
	for _, p := range ps {
		have[p.Component()] = true
	}
	for _, n := range notSetUp {
		if have[n.component] {
			continue
		}
		n := n
		ps = append(ps, fn{component: n.component, name: n.name, run: func(context.Context) probe.Result {
			return probe.Result{Component: n.component, Name: n.name, State: probe.NotConfigured,
				Summary: NotSetUpPrefix + n.meaning, CheckedAt: time.Now()}
		}})
	}
	return ps
}
