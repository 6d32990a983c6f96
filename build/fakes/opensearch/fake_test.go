package opensearchfake_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opensearch-project/opensearch-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	osfake "github.com/mattermost/mattermost-plugin-disaster-recovery/build/fakes/opensearch"
)

type answer struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, c *osfake.Cluster, method, path, body, user, pass string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, c.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return answer{res.StatusCode, res.Header, string(b)}
}

func TestWireShapes(t *testing.T) {
	l := osfake.New(t, osfake.Options{Username: "u", Password: "p"})
	f := osfake.New(t, osfake.Options{Username: "u", Password: "p"})
	f.Connect("leader", l)
	l.CreateIndex(osfake.IndexSpec{Name: "channels", Docs: 17})
	l.CreateIndex(osfake.IndexSpec{Name: ".hidden-thing", Hidden: true})
	l.CreateIndex(osfake.IndexSpec{Name: "old", Closed: true})

	cases := []struct {
		name                     string
		c                        *osfake.Cluster
		method, path, body, user string
		status                   int
		want                     string
		header, headerValue      string
	}{
		{name: "no credentials", c: f, method: "GET", path: "/", status: 401, want: "Unauthorized",
			header: "WWW-Authenticate", headerValue: `Basic realm="OpenSearch Security"`},
		{name: "no handler", c: f, method: "GET", path: "/_nothing/here", user: "u", status: 400,
			want: `{"error":"no handler found for uri [/_nothing/here] and method [GET]","status":400}`},
		{name: "wrong method", c: f, method: "POST", path: "/_plugins/_replication/channels/_start", body: "{}", user: "u", status: 405,
			want: "Incorrect HTTP method for uri [/_plugins/_replication/channels/_start] and method [POST], allowed: [PUT]"},
		{name: "start", c: f, method: "PUT", path: "/_plugins/_replication/channels/_start", user: "u", status: 200,
			body: `{"leader_alias":"leader","leader_index":"channels","use_roles":{"leader_cluster_role":"a","follower_cluster_role":"b"}}`,
			want: `{"acknowledged":true}`},
		{name: "status verbose", c: f, method: "GET", path: "/_plugins/_replication/channels/_status?verbose=true", user: "u", status: 200,
			want: `"shard_replication_details":[{"shard_id":"[channels][0]","syncing_task_details":{"follower_checkpoint":16,"leader_checkpoint":16,"seq_no":17}}]`},
		{name: "bad JSON", c: f, method: "PUT", path: "/_plugins/_replication/users/_start", body: "{", user: "u", status: 400,
			want: `"type":"x_content_parse_exception"`},
		{name: "missing leader index", c: f, method: "PUT", path: "/_plugins/_replication/users/_start", user: "u", status: 404,
			body: `{"leader_alias":"leader","leader_index":"users"}`,
			want: `"root_cause":[{"index":"users","index_uuid":"_na_","reason":"no such index [users]","resource.id":"users","resource.type":"index_or_alias","type":"index_not_found_exception"}]`},
		{name: "cat text", c: l, method: "GET", path: "/_cat/indices", user: "u", status: 200, want: "green open channels "},
		{name: "cat hides hidden", c: l, method: "GET", path: "/_cat/indices?format=json&expand_wildcards=open", user: "u", status: 200,
			want: `"index":"channels"`},
		{name: "refresh", c: l, method: "POST", path: "/_refresh", user: "u", status: 200, want: `{"_shards":{"failed":0,"successful":3,"total":6}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, tc.c, tc.method, tc.path, tc.body, tc.user, "p")
			assert.Equal(t, tc.status, a.status, a.body)
			assert.Contains(t, a.body, tc.want)
			if tc.header != "" {
				assert.Equal(t, tc.headerValue, a.header.Get(tc.header))
			}
		})
	}

	var rows []map[string]string
	require.NoError(t, json.Unmarshal([]byte(do(t, l, "GET", "/_cat/indices?format=json", "", "u", "p").body), &rows))
	assert.Len(t, rows, 2, "open and closed, not hidden")
	require.NoError(t, json.Unmarshal([]byte(do(t, l, "GET", "/_cat/indices?format=json&expand_wildcards=all", "", "u", "p").body), &rows))
	assert.Len(t, rows, 3)
}

// TestOpenSearchGoReadsIt checks the fake's answers through opensearch-go's typed API.
func TestOpenSearchGoReadsIt(t *testing.T) {
	c := osfake.New(t, osfake.Options{Name: "east"})
	c.CreateIndex(osfake.IndexSpec{Name: "posts_2026_11_01", Docs: 5})
	cl, err := opensearch.NewClient(opensearch.Config{Addresses: []string{c.URL}})
	require.NoError(t, err)
	res, err := cl.Info()
	require.NoError(t, err)
	defer res.Body.Close()
	assert.False(t, res.IsError())
	var info struct {
		ClusterName string `json:"cluster_name"`
		Version     struct {
			Distribution string `json:"distribution"`
		} `json:"version"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&info))
	assert.Equal(t, "east", info.ClusterName)
	assert.Equal(t, "opensearch", info.Version.Distribution)

	del, err := cl.Indices.Delete([]string{"nope"})
	require.NoError(t, err)
	defer del.Body.Close()
	assert.True(t, del.IsError())
	assert.Equal(t, 404, del.StatusCode)
}

func TestTwoWayAndStop(t *testing.T) {
	a := osfake.New(t, osfake.Options{})
	b := osfake.New(t, osfake.Options{})
	a.Connect("b", b)
	b.Connect("a", a)
	a.CreateIndex(osfake.IndexSpec{Name: "channels", Docs: 3})
	require.Equal(t, 200, do(t, b, "PUT", "/_plugins/_replication/channels/_start", `{"leader_alias":"a","leader_index":"channels"}`, "", "").status)
	a.Write("channels", 2)
	state, _ := b.FollowerState("channels")
	assert.Equal(t, osfake.Syncing, state)

	// Reverse, as failover does: stop on b (now writable), delete on a, follow b from a.
	require.Equal(t, 200, do(t, b, "POST", "/_plugins/_replication/channels/_stop", "{}", "", "").status)
	b.Write("channels", 10)
	require.Equal(t, 200, do(t, a, "DELETE", "/channels", "", "", "").status)
	require.Equal(t, 200, do(t, a, "PUT", "/_plugins/_replication/channels/_start", `{"leader_alias":"b","leader_index":"channels"}`, "", "").status)
	a2 := do(t, a, "GET", "/_plugins/_replication/channels/_status", "", "", "")
	assert.Contains(t, a2.body, `"syncing_details":{"follower_checkpoint":14,"leader_checkpoint":14,"seq_no":15}`)

	ls := do(t, b, "GET", "/_plugins/_replication/leader_stats", "", "", "")
	assert.Contains(t, ls.body, `"num_replicated_indices":1`)
}

func TestHangAndFaults(t *testing.T) {
	c := osfake.New(nil, osfake.Options{})
	c.Inject(osfake.Fault{PathPrefix: "/_cat", Kind: osfake.FaultServer, Status: 503, Count: 1})
	a := do(t, c, "GET", "/_cat/indices", "", "", "")
	assert.Equal(t, 503, a.status)
	assert.Contains(t, a.body, `"type":"cluster_block_exception"`)
	assert.Equal(t, 200, do(t, c, "GET", "/_cat/indices", "", "", "").status, "the fault was for one request")

	c.Inject(osfake.Fault{Kind: osfake.FaultHang})
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, c.URL+"/", nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	c.Close()
	select {
	case err := <-done:
		require.Error(t, err, "the hanging request is dropped, not answered")
	case <-time.After(5 * time.Second):
		t.Fatal("Close left a hanging request behind")
	}
}
