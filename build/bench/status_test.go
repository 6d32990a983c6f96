//go:build bench

package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	awsfake "github.com/mattermost/mattermost-plugin-disaster-recovery/build/fakes/aws"
	osfake "github.com/mattermost/mattermost-plugin-disaster-recovery/build/fakes/opensearch"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// BenchmarkStatus measures GET /api/v1/status?fresh=true on the real server, every probe run
// again each time (no cache): Aurora (RDS + CloudWatch) and OpenSearch replication answered by
// their wire-format test servers over loopback, the node reports and the backups probe.
// "healthy": every probe answers; "one-hanging": the OpenSearch follower never answers, so the
// probe runs into its 2.5 s deadline. Reports p50 and p95 in milliseconds.
func BenchmarkStatus(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	env, err := harness.Start(ctx, harness.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer env.Close()

	aws := awsfake.New(b)
	aws.PutGlobalCluster(awsfake.GlobalCluster{ID: "mm-global", Members: []awsfake.Member{
		{ARN: "arn:aws:rds:us-east-1:123456789012:cluster:mm-east", IsWriter: true, WriteForwarding: awsfake.ForwardingDisabled, Sync: awsfake.SyncConnected},
		{ARN: "arn:aws:rds:us-west-2:123456789012:cluster:mm-west", WriteForwarding: awsfake.ForwardingEnabled, Sync: awsfake.SyncConnected},
	}})
	aws.PutAuroraLag("us-west-2", "mm-west", 800*time.Millisecond, 150*time.Millisecond, 20*time.Second)
	const user, pass = "bench", "bench-pass-1234"
	leader := osfake.New(b, osfake.Options{Name: "east", Username: user, Password: pass})
	follower := osfake.New(b, osfake.Options{Name: "west", Username: user, Password: pass})
	follower.Connect("east", leader)
	for _, ix := range []string{"channels", "users", "files", "posts_2026_11_25", "posts_2026_11_26"} {
		leader.CreateIndex(osfake.IndexSpec{Name: ix, Docs: 50})
	}
	// The replication plugin's own calls, as an operator sets it up (build/ cannot import the
	// plugin's client).
	call := func(method, path, body string) {
		req, err := http.NewRequestWithContext(ctx, method, follower.URL+path, strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.SetBasicAuth(user, pass)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("%s %s: %s", method, path, resp.Status)
		}
	}
	roles := `"use_roles":{"leader_cluster_role":"all_access","follower_cluster_role":"all_access"}`
	for _, ix := range []string{"channels", "users", "files"} {
		call(http.MethodPut, "/_plugins/_replication/"+ix+"/_start", `{"leader_alias":"east","leader_index":"`+ix+`",`+roles+`}`)
	}
	call(http.MethodPost, "/_plugins/_replication/_autofollow", `{"leader_alias":"east","name":"mattermost-posts","pattern":"posts*",`+roles+`}`)
	err = env.PatchPluginSettings(ctx, map[string]any{
		"drtopology": "two_regions", "drprimaryregion": "us-east-1", "drsecondaryregion": "us-west-2", "drthisregion": "us-east-1",
		"drauroraglobalclusterid": "mm-global", "drauroraprimarycluster": "mm-east", "draurorasecondarycluster": "mm-west",
		"drawsaccesskeyid": awsfake.AccessKeyID, "drawssecretaccesskey": awsfake.SecretAccessKey, "drawsendpoint": aws.URL,
		"dropensearchprimaryurl": leader.URL, "dropensearchsecondaryurl": follower.URL, "dropensearchusername": user, "dropensearchpassword": pass,
		"dropensearchleaderalias": "east",
	})
	if err != nil {
		b.Fatal(err)
	}
	get := func() time.Duration {
		start := time.Now()
		code, body, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/status?fresh=true", nil)
		if err != nil || code != http.StatusOK {
			b.Fatalf("status: %d %v %s", code, err, body)
		}
		return time.Since(start)
	}
	for i := 0; i < 5; i++ { // the follower's bootstrap, connections, the runner's first build
		get()
	}
	measure := func(b *testing.B, n int) {
		var d []time.Duration
		b.ResetTimer()
		for i := 0; i < max(b.N, n); i++ {
			d = append(d, get())
		}
		b.StopTimer()
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		p50, p95 := d[len(d)/2], d[(len(d)*95+99)/100-1]
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(p95.Microseconds())/1000, "p95-ms")
		fmt.Fprintf(os.Stderr, "bench: %s: %d calls, p50 %s, p95 %s\n", b.Name(), len(d), p50.Round(100*time.Microsecond), p95.Round(100*time.Microsecond))
	}
	b.Run("healthy", func(b *testing.B) { measure(b, 100) })
	follower.Inject(osfake.Fault{Kind: osfake.FaultHang})
	b.Run("one-hanging", func(b *testing.B) { measure(b, 10) })
	follower.ClearFaults()
}
