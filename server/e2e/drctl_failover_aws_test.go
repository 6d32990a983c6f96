//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	awsfake "github.com/mattermost/mattermost-plugin-disaster-recovery/build/fakes/aws"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/drsettings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failover"
)

// lostRegion stands in front of the AWS fake and refuses every RDS and CloudWatch request
// signed for region (its endpoints are gone), and records the failovers asked of the others.
type lostRegion struct {
	region string
	mu     sync.Mutex
	calls  []url.Values // FailoverGlobalCluster and SwitchoverGlobalCluster forms
	srv    *httptest.Server
}

func newLostRegion(t *testing.T, target, region string) *lostRegion {
	u, err := url.Parse(target)
	require.NoError(t, err)
	l := &lostRegion{region: region}
	proxy := httputil.NewSingleHostReverseProxy(u)
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if strings.Contains(auth, "/"+region+"/rds/") || strings.Contains(auth, "/"+region+"/monitoring/") {
			http.Error(w, "region unavailable", http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if form, err := url.ParseQuery(string(body)); err == nil && strings.HasSuffix(form.Get("Action"), "GlobalCluster") && form.Get("Action") != "DescribeGlobalClusters" {
			l.mu.Lock()
			l.calls = append(l.calls, form)
			l.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(l.srv.Close)
	return l
}

// hookReceiver is a generic webhook that answers 500 to the first request.
type hookReceiver struct {
	mu     sync.Mutex
	alerts []map[string]string
	srv    *httptest.Server
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a map[string]string
		_ = json.NewDecoder(r.Body).Decode(&a)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.alerts = append(h.alerts, a)
		if len(h.alerts) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// The Aurora global database and Route 53 variant: us-east-1's RDS and CloudWatch endpoints
// refuse every request; drctl fails over with data loss, asking us-west-2, once; Route 53
// points at us-west-2; a webhook hears every step and the result, after a retry.
func TestDrctlFailoverAurora(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := harness.BuildDrctl(ctx)
	require.NoError(t, err)
	aws := awsfake.New(t)
	aws.PutGlobalCluster(awsfake.GlobalCluster{ID: "mm-global", Members: []awsfake.Member{
		{ARN: foEastARN, IsWriter: true, WriteForwarding: awsfake.ForwardingDisabled, Sync: awsfake.SyncConnected},
		{ARN: foWestARN, WriteForwarding: awsfake.ForwardingDisabled, Sync: awsfake.SyncConnected},
	}})
	aws.PutHostedZone(foZone, "example.com")
	lost := newLostRegion(t, aws.URL, "us-east-1")
	hooks := newHookReceiver(t)
	d := folderDest(t)
	key := writeSignedSettings(ctx, t, d.store, drsettings.Document{Topology: "two_regions",
		Regions:     drsettings.Regions{Primary: "us-east-1", Secondary: "us-west-2"},
		Database:    drsettings.Database{Aurora: &drsettings.Aurora{GlobalClusterID: "mm-global", PrimaryCluster: "mm-east", SecondaryCluster: "mm-west"}},
		Route53:     &drsettings.Route53{ZoneID: foZone, RecordName: foRecord, RecordType: "CNAME", TTL: 60, PrimaryValues: []string{"east-lb.example.com"}, SecondaryValues: []string{"west-lb.example.com"}},
		AWSEndpoint: lost.srv.URL,
	})
	const hookSecret = "T0KEN-in-the-hook-path-77"
	env := []string{"AWS_ACCESS_KEY_ID=" + awsfake.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + awsfake.SecretAccessKey, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_MAX_ATTEMPTS=1", "DR_WEBHOOK_TARGETS=generic " + hooks.srv.URL + "/hooks/" + hookSecret}
	res, err := harness.RunDrctl(ctx, bin, env, "failover", "start", "--from", d.from, "--trust-key", key.PublicKey().String(),
		"--to", "us-west-2", "--mode", "failover", "--confirm", "--poll", "100ms")
	require.NoError(t, err)
	t.Logf("drctl failover start:\n%s\n%s", res.Stderr, res.Stdout)
	require.Equal(t, 0, res.Code)
	assert.NotContains(t, res.Stdout+res.Stderr, hookSecret)
	assert.NotContains(t, res.Stdout+res.Stderr, awsfake.SecretAccessKey)

	lost.mu.Lock()
	calls := lost.calls
	lost.mu.Unlock()
	require.Len(t, calls, 1, "one failover request")
	assert.Equal(t, "FailoverGlobalCluster", calls[0].Get("Action"))
	assert.Equal(t, "true", calls[0].Get("AllowDataLoss"))
	var failovers []awsfake.Request
	for _, r := range aws.Requests() {
		if r.Action == "FailoverGlobalCluster" {
			failovers = append(failovers, r)
		}
	}
	require.Len(t, failovers, 1)
	assert.Equal(t, "us-west-2", failovers[0].Region, "asked in the region that answers")
	gc, _, ok := aws.GlobalClusterState("mm-global")
	require.True(t, ok)
	for _, m := range gc.Members {
		assert.Equal(t, m.ARN == foWestARN, m.IsWriter, m.ARN)
	}
	rs, ok := aws.RecordSet(foZone, foRecord, "CNAME")
	require.True(t, ok)
	assert.Equal(t, []string{"west-lb.example.com"}, rs.Values)

	run := journal(ctx, t, d.store)
	assert.Equal(t, failover.RunForPlugin, run.State)
	assert.Equal(t, "failover", run.Step(failover.KindDatabase).Data["requested"])
	assert.Equal(t, failover.StepDone, run.Step(failover.KindDNS).State)

	assertNotified(t, hooks, run)
}

// assertNotified checks that drctl waited for the notifications before it exited: one per
// step and one for the end, all under the runbook's key, the first delivered on its second
// attempt.
func assertNotified(t *testing.T, hooks *hookReceiver, run *failover.Run) {
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	require.Len(t, hooks.alerts, len(run.Steps)+2, "one per step, one for the result, and one retry")
	summaries := map[string]int{}
	for _, a := range hooks.alerts {
		summaries[a["summary"]]++
		assert.Equal(t, "mattermost-disaster-recovery.alert.v1", a["schema"])
		assert.Equal(t, "failover-"+run.ID, a["key"])
	}
	assert.Len(t, summaries, len(run.Steps)+1, "%v", summaries)
	assert.Equal(t, 2, summaries[hooks.alerts[0]["summary"]], "the first notification was retried after the 500")
	assert.Equal(t, hooks.alerts[0], hooks.alerts[1])
	for i, st := range run.Steps {
		assert.Equal(t, "failover.step."+string(st.State), hooks.alerts[i+1]["event"], "in order: %s", st.Name)
	}
	assert.Equal(t, "failover.waiting-for-plugin", hooks.alerts[len(hooks.alerts)-1]["event"])
}
