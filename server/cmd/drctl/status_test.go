package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/drsettings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/nodes"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status/probers"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/s3"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/verify"
)

// statusSetup is a MinIO destination holding the plugin's settings document (a real
// PostgreSQL primary and streaming standby) and, as the case wants, a backup and its
// verification.
type statusSetup struct {
	minio            *harness.MinIO
	primary, standby string
}

func (s statusSetup) destination(t *testing.T, prefix string, verified bool) (from string, doc drsettings.Document, key *format.SigningKey) {
	t.Helper()
	ctx := context.Background()
	st, err := s3.New(ctx, s3.Config{Bucket: "drstatus", Prefix: prefix, Region: "us-east-1", Endpoint: s.minio.Endpoint, PathStyle: true,
		AccessKeyID: s.minio.AccessKey, SecretAccessKey: s.minio.SecretKey})
	require.NoError(t, err)
	key, err = format.GenerateSigningKey()
	require.NoError(t, err)
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	ms, err := backup.Run(ctx, backup.Options{Components: format.Components{Config: true}, Config: testConfig{dir: t.TempDir(), effective: `{}`},
		MattermostVersion: "11.4.0", SigningKey: key, Recipients: []string{id.Recipient().String()},
		Destinations: []backup.Destination{{Name: "s3", Store: st, OffSite: true}}})
	require.NoError(t, err)
	if verified {
		v, err := verify.Verify(ctx, st, ms["s3"].ID, verify.Options{Identities: []age.Identity{id}})
		require.NoError(t, err)
		require.Equal(t, format.OutcomePassed, v.Outcome)
		require.NoError(t, format.WriteSignedVerification(ctx, st, v, key))
	}
	c := settings.Default()
	c.DRPostgresStandbyDataSource = s.standby
	c.BackupS3Bucket, c.BackupS3Prefix, c.BackupS3Endpoint, c.BackupS3PathStyle = "drstatus", prefix, s.minio.Endpoint, true
	doc = drsettings.Build(drsettings.Sources{Config: c, PostgresPrimaryDSN: s.primary, SigningKey: key.PublicKey()})
	_, err = drsettings.Write(ctx, st, doc, key)
	require.NoError(t, err)
	return "s3://drstatus/" + prefix, doc, key
}

// pluginReport is what the plugin's status runner gives for the same settings: the same
// service, with the inputs only Mattermost has (a healthy node's report; the backup record,
// here read from the same destination).
func pluginReport(t *testing.T, s statusSetup, from string, doc drsettings.Document, key *format.SigningKey) status.Report {
	t.Helper()
	bucket, prefix, _ := parseS3URL(from)
	st, err := s3.New(context.Background(), s3.Config{Bucket: bucket, Prefix: prefix, Region: "us-east-1", Endpoint: s.minio.Endpoint, PathStyle: true,
		AccessKeyID: s.minio.AccessKey, SecretAccessKey: s.minio.SecretKey})
	require.NoError(t, err)
	in := probers.Inputs{Document: doc,
		Credentials: probers.Credentials{PostgresPrimaryDSN: s.primary, PostgresStandbyDSN: s.standby},
		NodeReports: func(context.Context) ([]nodes.NodeReport, error) {
			return []nodes.NodeReport{{NodeID: "n1", Hostname: "n1", RunScheduler: true, ReportedAt: time.Now()}}, nil
		},
		Backups: probers.DestinationBackups(st, []format.PublicKey{key.PublicKey()}, true),
	}
	rep, err := status.NewRunner(probers.Build(in), status.WithCacheTTL(0)).Fresh(context.Background())
	require.NoError(t, err)
	return rep
}

// jsonReport is the part of the report JSON the tests read (metric values may be strings:
// "+Inf").
type jsonReport struct {
	Verdict probe.State     `json:"verdict"`
	Reasons []status.Reason `json:"reasons"`
	Results []struct {
		Component string      `json:"component"`
		State     probe.State `json:"state"`
		Summary   string      `json:"summary"`
	} `json:"results"`
}

func reasonLines(rs []status.Reason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, fmt.Sprintf("%s/%s: %s", r.Component, r.State, r.Message))
	}
	return out
}

func TestDrctlStatus(t *testing.T) {
	if testPG == nil {
		harness.Unavailable(t, "PostgreSQL", pgMissing)
	}
	m, stop, err := harness.TestMinIOBucket("drctl status", "drstatus")
	t.Cleanup(stop)
	if err != nil {
		harness.Unavailable(t, "MinIO", err)
	}
	// Credentials come from the operator's environment (the AWS chain), never from argv.
	t.Setenv("AWS_ACCESS_KEY_ID", m.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", m.SecretKey)
	t.Setenv("AWS_REGION", "us-east-1")
	ctx := context.Background()
	sb, err := testPG.StartStandby(ctx, filepath.Join(filepath.Dir(testPG.Dir), "status-standby"), "drctl_status")
	require.NoError(t, err)
	t.Cleanup(func() {
		sb.Stop()
		_ = sb.DropSlot(context.Background())
	})
	s := statusSetup{minio: m, primary: testPG.URL("postgres"), standby: sb.URL("postgres")}
	require.Eventually(t, func() bool {
		db, err := testPG.Open("postgres")
		if err != nil {
			return false
		}
		defer db.Close()
		var n int
		return db.QueryRow(`SELECT count(*) FROM pg_stat_replication WHERE replay_lsn IS NOT NULL`).Scan(&n) == nil && n > 0
	}, time.Minute, 200*time.Millisecond, "the standby streams")
	s3args := []string{"--s3-endpoint", m.Endpoint, "--s3-path-style"}

	check := func(t *testing.T, from string, doc drsettings.Document, key *format.SigningKey, wantCode int, wantVerdict probe.State) {
		t.Helper()
		code, out, errOut := drctl(append([]string{"status", "--from", from, "--json"}, s3args...)...)
		require.Equal(t, wantCode, code, "%s\n%s", out, errOut)
		var rep jsonReport
		require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
		assert.Equal(t, wantVerdict, rep.Verdict)
		plugin := pluginReport(t, s, from, doc, key)
		assert.Equal(t, plugin.Verdict, rep.Verdict, "the plugin's verdict for the same settings")
		assert.Equal(t, reasonLines(plugin.Reasons), reasonLines(rep.Reasons), "the plugin's reasons for the same settings")
		for _, r := range rep.Results {
			if r.Component == nodes.Component {
				assert.Equal(t, probe.NotConfigured, r.State)
				assert.Contains(t, r.Summary, probers.NotAvailable)
			}
		}
		// The human form is the plugin's markdown on stdout; who signed the settings goes to stderr.
		code, out, errOut = drctl(append([]string{"status", "--from", from}, s3args...)...)
		assert.Equal(t, wantCode, code)
		assert.Contains(t, errOut, key.PublicKey().Fingerprint())
		assert.Contains(t, out, status.Title(wantVerdict))
	}

	t.Run("healthy", func(t *testing.T) {
		from, doc, key := s.destination(t, "healthy", true)
		check(t, from, doc, key, exitHealthy, probe.Healthy)
	})
	t.Run("degraded: the backup was never verified", func(t *testing.T) {
		from, doc, key := s.destination(t, "degraded", false)
		check(t, from, doc, key, exitDegraded, probe.Degraded)
	})
	t.Run("critical: the standby is down", func(t *testing.T) {
		from, doc, key := s.destination(t, "critical", true)
		down, err := testPG.StartStandby(ctx, filepath.Join(filepath.Dir(testPG.Dir), "status-standby-down"), "drctl_status_down")
		require.NoError(t, err)
		down.Stop()
		t.Cleanup(func() { _ = down.DropSlot(context.Background()) })
		doc.Database.PostgreSQL.StandbyDSN = strings.Replace(doc.Database.PostgreSQL.StandbyDSN, fmt.Sprint(sb.Port), fmt.Sprint(down.Port), 1)
		bucket, prefix, _ := parseS3URL(from)
		st, err := s3.New(ctx, s3.Config{Bucket: bucket, Prefix: prefix, Region: "us-east-1", Endpoint: m.Endpoint, PathStyle: true})
		require.NoError(t, err)
		_, err = drsettings.Write(ctx, st, doc, key)
		require.NoError(t, err)
		s := s
		s.standby = down.URL("postgres")
		code, out, errOut := drctl(append([]string{"status", "--from", from, "--json"}, s3args...)...)
		require.Equal(t, exitCritical, code, "%s\n%s", out, errOut)
		var rep jsonReport
		require.NoError(t, json.Unmarshal([]byte(out), &rep))
		plugin := pluginReport(t, s, from, doc, key)
		assert.Equal(t, probe.Critical, plugin.Verdict)
		assert.Equal(t, reasonLines(plugin.Reasons), reasonLines(rep.Reasons))
	})
	t.Run("unknown: no settings, untrusted settings; bad usage exits 2", func(t *testing.T) {
		code, _, errOut := drctl(append([]string{"status", "--from", "s3://drstatus/nothing-here"}, s3args...)...)
		assert.Equal(t, exitUnknown, code)
		assert.Contains(t, errOut, "no DR settings document")
		from, _, _ := s.destination(t, "pinned", true)
		other, err := format.GenerateSigningKey()
		require.NoError(t, err)
		code, _, errOut = drctl(append([]string{"status", "--from", from, "--trust-key", other.PublicKey().String()}, s3args...)...)
		assert.Equal(t, exitUnknown, code)
		assert.Contains(t, errOut, "not by the --trust-key")
		code, _, _ = drctl("status")
		assert.Equal(t, 2, code)
		code, _, _ = drctl("status", "--from", from, "extra")
		assert.Equal(t, 2, code)
	})
}
