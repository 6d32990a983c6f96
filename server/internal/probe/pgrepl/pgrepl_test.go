package pgrepl

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
)

// withPassword puts a password into a harness URL (trust authentication ignores it), to check
// that it never comes out of the probe.
const secret = "pw-never-shown-7f3a"

func withPassword(url string) string {
	return strings.Replace(url, "postgres://postgres@", "postgres://postgres:"+secret+"@", 1)
}

func check(t *testing.T, o Options) probe.Result {
	t.Helper()
	// Through the status runner, as /dr status runs it: the runner gives the deadline and
	// stamps the time.
	rep, err := status.NewRunner([]status.Prober{New(o)}, status.WithTimeout(30*time.Second), status.WithCacheTTL(0)).Report(context.Background())
	require.NoError(t, err)
	res := rep.Results[0]
	b, err := json.Marshal(res)
	require.NoError(t, err)
	assert.NotContains(t, string(b), secret, "the result shows a password")
	assert.Equal(t, Component, res.Component)
	assert.False(t, res.CheckedAt.IsZero())
	return res
}

func metric(res probe.Result, name, replica string) (float64, bool) {
	for _, m := range res.Metrics {
		if m.Name == name && m.Labels["replica"] == replica {
			return m.Value, true
		}
	}
	return 0, false
}

func findingWith(res probe.Result, state probe.State, text string) bool {
	for _, f := range res.Findings {
		if f.State == state && strings.Contains(f.Message, text) {
			return true
		}
	}
	return false
}

func describe(res probe.Result) string {
	b, _ := json.MarshalIndent(res, "", "  ")
	return string(b)
}

func addr(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

// waitHealthy checks until the probe says healthy: right after a change, replay or the
// primary's view may need a moment.
func waitHealthy(t *testing.T, o Options) probe.Result {
	t.Helper()
	var res probe.Result
	deadline := time.Now().Add(30 * time.Second)
	for {
		res = check(t, o)
		if res.State == probe.Healthy || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.Equal(t, probe.Healthy, res.State, describe(res))
	return res
}

func TestHealthy(t *testing.T) {
	requirePG(t)
	waitStreaming(t, testStandby.Slot)
	res := waitHealthy(t, Options{PrimaryDSN: withPassword(testPrimary.URL("postgres")), ReplicaDSNs: []string{withPassword(testStandby.URL("postgres"))}})
	assert.Contains(t, res.Name, "postgres@"+addr(testPrimary.Port)+"/postgres")
	assert.Contains(t, res.Summary, "1 of 1 standbys streaming")
	assert.Empty(t, res.Findings)
	require.Len(t, res.Table.Rows, 1, describe(res))
	row := res.Table.Rows[0]
	assert.Equal(t, "postgres@"+addr(testStandby.Port)+"/postgres", row[0])
	assert.Equal(t, "yes", row[1], "in recovery")
	assert.True(t, strings.HasPrefix(row[2], "streaming from 127.0.0.1:"), row[2])
	assert.Equal(t, "streaming", row[3], "matched to its pg_stat_replication row")
	assert.Equal(t, "async", row[4])
	assert.Equal(t, "no", row[9], "replay paused")
	v, ok := metric(res, MetricLagBytes, addr(testStandby.Port))
	assert.True(t, ok)
	assert.Zero(t, v)
	v, ok = metric(res, MetricLagSeconds, addr(testStandby.Port))
	assert.True(t, ok, "an idle primary: replayed all received means no lag")
	assert.Less(t, v, 5.0)
	v, _ = metric(res, MetricStreaming, "")
	assert.Equal(t, 1.0, v)
}

func TestUnconfiguredStandbyShownFromThePrimary(t *testing.T) {
	requirePG(t)
	waitStreaming(t, testStandby.Slot)
	res := waitHealthy(t, Options{PrimaryDSN: testPrimary.URL("postgres")})
	require.Len(t, res.Table.Rows, 1, describe(res))
	assert.Equal(t, "standby dr_standby at 127.0.0.1 (not configured)", res.Table.Rows[0][0])
	assert.Equal(t, "streaming", res.Table.Rows[0][3])
	_, ok := metric(res, MetricLagBytes, "standby:dr_standby")
	assert.True(t, ok, describe(res))
}

func TestLagWhileReplayPaused(t *testing.T) {
	requirePG(t)
	waitStreaming(t, testStandby.Slot)
	o := Options{PrimaryDSN: testPrimary.URL("postgres"), ReplicaDSNs: []string{testStandby.URL("postgres")}, MaxLagBytes: 256 << 10, MaxLag: time.Hour}
	// A replayed commit first: until one is, a standby cannot tell the age of its replay.
	exec(t, testPrimary.URL("postgres"), `CREATE TABLE IF NOT EXISTS lag_marker (v int)`, `INSERT INTO lag_marker VALUES (1)`)
	require.Eventually(t, func() bool {
		var ok bool
		return queryRow(t, testStandby.URL("postgres"), `SELECT pg_last_xact_replay_timestamp() IS NOT NULL
			AND pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn()`).Scan(&ok) == nil && ok
	}, 20*time.Second, 100*time.Millisecond)
	exec(t, testStandby.URL("postgres"), `SELECT pg_wal_replay_pause()`)
	t.Cleanup(func() { exec(t, testStandby.URL("postgres"), `SELECT pg_wal_replay_resume()`) })
	// About 4 MiB of WAL the standby receives but does not replay.
	exec(t, testPrimary.URL("postgres"), `DROP TABLE IF EXISTS lag_filler`,
		`CREATE TABLE lag_filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 15000) g`)

	label := addr(testStandby.Port)
	var res probe.Result
	require.Eventually(t, func() bool {
		res = check(t, o)
		v, _ := metric(res, MetricLagBytes, label)
		return v > 256<<10
	}, 20*time.Second, 200*time.Millisecond, "no lag shown while replay is paused")
	assert.Equal(t, probe.Degraded, res.State, describe(res))
	assert.True(t, findingWith(res, probe.Degraded, "WAL replay is paused on replica "+"postgres@"+label), describe(res))
	assert.True(t, findingWith(res, probe.Degraded, "behind the primary (threshold 256.0 KiB)"), describe(res))
	assert.Equal(t, "yes", res.Table.Rows[0][9], "replay paused")
	assert.Equal(t, "streaming", res.Table.Rows[0][3], "still streaming: it receives")

	// While paused, the primary's replay_lag stands still; the age of the last replayed commit
	// grows and is the lag in seconds.
	strict := o
	strict.MaxLag = time.Second
	require.Eventually(t, func() bool {
		res = check(t, strict)
		return findingWith(res, probe.Degraded, "s behind the primary (threshold 1s)")
	}, 20*time.Second, 200*time.Millisecond, "no lag in seconds while replay is paused")
	secs, _ := metric(res, MetricLagSeconds, label)
	assert.Greater(t, secs, 1.0)

	exec(t, testStandby.URL("postgres"), `SELECT pg_wal_replay_resume()`)
	res = waitHealthy(t, o)
	v, ok := metric(res, MetricLagBytes, label)
	assert.True(t, ok)
	// Caught up: what is left is the odd WAL record the primary writes on its own.
	assert.Less(t, v, float64(64<<10), "caught up")
}

func TestStandbyStopped(t *testing.T) {
	requirePG(t)
	sb := newStandby(t)
	o := Options{PrimaryDSN: testPrimary.URL("postgres"), ReplicaDSNs: []string{withPassword(sb.URL("postgres"))}}
	waitHealthy(t, o)

	sb.Stop()
	var res probe.Result
	require.Eventually(t, func() bool {
		res = check(t, o)
		v, _ := metric(res, MetricStreaming, "")
		return v == 1 // only the shared standby
	}, 20*time.Second, 200*time.Millisecond, "the primary still lists the stopped standby")
	label := "postgres@" + addr(sb.Port) + "/postgres"
	assert.Equal(t, probe.Critical, res.State)
	assert.True(t, findingWith(res, probe.Critical, "cannot check replica "+label), describe(res))
	assert.True(t, findingWith(res, probe.Critical, "connection refused"), describe(res))
	assert.Equal(t, "unreachable", res.Table.Rows[0][1])
	assert.Contains(t, res.Summary, "1 of 2 standbys streaming", "the shared standby is shown as not configured")
	// The shared standby streams from the same loopback address: the probe cannot tell it is
	// not the stopped one, and says so rather than guessing either way.
	assert.True(t, findingWith(res, probe.Unknown, "the primary lists a standby streaming from its address (dr_standby)"), describe(res))
}

func TestConfiguredReplicaMissingFromThePrimary(t *testing.T) {
	requirePG(t)
	sb := newStandby(t)
	o := Options{PrimaryDSN: testPrimary.URL("postgres"), ReplicaDSNs: []string{sb.URL("postgres")}}
	waitHealthy(t, o)
	// The replica keeps running but stops streaming: its primary_conninfo points nowhere.
	exec(t, sb.URL("postgres"), `ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=1 user=postgres'`, `SELECT pg_reload_conf()`)
	var res probe.Result
	assert.Eventually(t, func() bool {
		res = check(t, o)
		return findingWith(res, probe.Critical, "missing from the primary's pg_stat_replication")
	}, 30*time.Second, 200*time.Millisecond)
	require.True(t, findingWith(res, probe.Critical, "missing from the primary's pg_stat_replication"), describe(res))
	assert.True(t, findingWith(res, probe.Critical, "is in recovery but not streaming"), describe(res))
	assert.Equal(t, "yes", res.Table.Rows[0][1])
}

func TestUnreachableReplica(t *testing.T) {
	requirePG(t)
	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())

	res := check(t, Options{PrimaryDSN: testPrimary.URL("postgres"),
		ReplicaDSNs: []string{fmt.Sprintf("postgres://mmuser:%s@127.0.0.1:%d/mattermost?sslmode=disable", secret, port)}})
	assert.Equal(t, probe.Critical, res.State, describe(res))
	assert.True(t, findingWith(res, probe.Critical, fmt.Sprintf("cannot check replica mmuser@127.0.0.1:%d/mattermost", port)), describe(res))
	assert.True(t, findingWith(res, probe.Critical, "connection refused"), describe(res))
}

func TestHangingServerHonoursTheDeadline(t *testing.T) {
	requirePG(t)
	// Accepts connections and never answers: only the context ends the wait.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	res := New(Options{PrimaryDSN: testPrimary.URL("postgres"),
		ReplicaDSNs: []string{fmt.Sprintf("postgres://mm@%s/mm?sslmode=disable", l.Addr())}}).Probe(ctx)
	assert.Less(t, time.Since(t0), 5*time.Second)
	assert.Equal(t, probe.Unknown, res.State, describe(res))
	assert.True(t, findingWith(res, probe.Unknown, "cannot check replica mm@"+l.Addr().String()), describe(res))
}

func TestPrimaryIsAStandby(t *testing.T) {
	requirePG(t)
	res := check(t, Options{PrimaryDSN: testStandby.URL("postgres")})
	assert.Equal(t, probe.Critical, res.State)
	assert.True(t, findingWith(res, probe.Critical, "is in recovery (it is a standby)"), describe(res))
}

func TestPromotedReplica(t *testing.T) {
	requirePG(t)
	sb := newStandby(t)
	exec(t, sb.URL("postgres"), `SELECT pg_promote()`)
	o := Options{PrimaryDSN: testPrimary.URL("postgres"), ReplicaDSNs: []string{sb.URL("postgres")}}
	var res probe.Result
	require.Eventually(t, func() bool {
		res = check(t, o)
		return findingWith(res, probe.Critical, "is not in recovery: it was promoted")
	}, 20*time.Second, 200*time.Millisecond, "promotion not reported")
	assert.Equal(t, "no", res.Table.Rows[0][1])
	assert.False(t, findingWith(res, probe.Critical, "missing from the primary's"), "one finding for one problem: %s", describe(res))
}

func TestUnprivilegedUser(t *testing.T) {
	requirePG(t)
	waitStreaming(t, testStandby.Slot)
	exec(t, testPrimary.URL("postgres"), `DROP ROLE IF EXISTS dr_probe_user`, `CREATE ROLE dr_probe_user LOGIN`)
	t.Cleanup(func() { exec(t, testPrimary.URL("postgres"), `DROP ROLE IF EXISTS dr_probe_user`) })
	url := func(port int) string {
		return fmt.Sprintf("postgres://dr_probe_user@127.0.0.1:%d/postgres?sslmode=disable", port)
	}
	o := Options{PrimaryDSN: url(testPrimary.Port), ReplicaDSNs: []string{url(testStandby.Port)}}

	var res probe.Result
	require.Eventually(t, func() bool { // the role must reach the standby first
		res = check(t, o)
		return findingWith(res, probe.Unknown, "hides the details of pg_stat_replication") && findingWith(res, probe.Unknown, "hides pg_stat_wal_receiver")
	}, 20*time.Second, 200*time.Millisecond, describe(res))
	assert.Equal(t, probe.Unknown, res.State, describe(res))
	assert.True(t, findingWith(res, probe.Unknown, "hides pg_stat_wal_receiver"), describe(res))
	assert.False(t, findingWith(res, probe.Critical, ""), "hidden is not broken: %s", describe(res))

	exec(t, testPrimary.URL("postgres"), `GRANT pg_monitor TO dr_probe_user`)
	waitHealthy(t, o)
}

func TestNotConfiguredAndBadDSN(t *testing.T) {
	res := New(Options{}).Probe(context.Background())
	assert.Equal(t, probe.NotConfigured, res.State)

	res = New(Options{PrimaryDSN: "postgres://mm:" + secret + "@db:notaport/mm"}).Probe(context.Background())
	assert.Equal(t, probe.Unknown, res.State)
	assert.True(t, findingWith(res, probe.Unknown, "primary: the DSN does not parse"), describe(res))
	assert.NotContains(t, describe(res), secret)
}

// TestInStatusRunner runs the probe as /dr status does, with the runner's deadline, against a
// replica that never answers: the probe reports it itself, before the runner gives up.
func TestInStatusRunner(t *testing.T) {
	requirePG(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	r := status.NewRunner([]status.Prober{New(Options{PrimaryDSN: testPrimary.URL("postgres"),
		ReplicaDSNs: []string{fmt.Sprintf("postgres://mm:%s@%s/mm?sslmode=disable", secret, l.Addr())}})},
		status.WithTimeout(time.Second), status.WithCacheTTL(0))
	t0 := time.Now()
	rep, err := r.Report(context.Background())
	require.NoError(t, err)
	assert.Less(t, time.Since(t0), 2*time.Second)
	require.Len(t, rep.Results, 1)
	res := rep.Results[0]
	assert.Equal(t, probe.Unknown, res.State, describe(res))
	assert.NotContains(t, res.Summary, "did not answer", "the probe answered in time: %s", describe(res))
	assert.True(t, findingWith(res, probe.Unknown, "cannot check replica mm@"+l.Addr().String()), describe(res))
	assert.NotContains(t, describe(res), secret)
}
