//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
)

var dailyAnchor = regexp.MustCompile("`/dr audit verify --anchor ([0-9]+:[0-9a-f]{64})`")

const (
	auditHeadKey   = "audit/head"
	auditRecordKey = "audit/r/%016d"
)

// kvRow is one row of the plugin's KV store, as an intruder with database access sees it.
type kvRow struct {
	Key      string
	Value    []byte
	ExpireAt int64
}

func kvGet(ctx context.Context, t *testing.T, db *sql.DB, key string) []byte {
	t.Helper()
	var v []byte
	err := db.QueryRowContext(ctx, `SELECT PValue FROM PluginKeyValueStore WHERE PluginId = $1 AND PKey = $2`, harness.PluginID, key).Scan(&v)
	if err == sql.ErrNoRows {
		return nil
	}
	require.NoError(t, err)
	return v
}

func kvPut(ctx context.Context, t *testing.T, db *sql.DB, key string, v []byte) {
	t.Helper()
	_, err := db.ExecContext(ctx, `INSERT INTO PluginKeyValueStore (PluginId, PKey, PValue, ExpireAt) VALUES ($1, $2, $3, 0)
		ON CONFLICT (PluginId, PKey) DO UPDATE SET PValue = EXCLUDED.PValue`, harness.PluginID, key, v)
	require.NoError(t, err)
}

// auditRows snapshots the trail's rows, so that a test can put them back exactly.
func auditRows(ctx context.Context, t *testing.T, db *sql.DB) []kvRow {
	t.Helper()
	rows, err := db.QueryContext(ctx, `SELECT PKey, PValue, ExpireAt FROM PluginKeyValueStore WHERE PluginId = $1 AND (PKey = $2 OR PKey LIKE 'audit/r/%')`, harness.PluginID, auditHeadKey)
	require.NoError(t, err)
	defer rows.Close()
	var out []kvRow
	for rows.Next() {
		var r kvRow
		require.NoError(t, rows.Scan(&r.Key, &r.Value, &r.ExpireAt))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

func restoreAuditRows(ctx context.Context, t *testing.T, db *sql.DB, saved []kvRow) {
	t.Helper()
	_, err := db.ExecContext(ctx, `DELETE FROM PluginKeyValueStore WHERE PluginId = $1 AND (PKey = $2 OR PKey LIKE 'audit/r/%')`, harness.PluginID, auditHeadKey)
	require.NoError(t, err)
	for _, r := range saved {
		_, err := db.ExecContext(ctx, `INSERT INTO PluginKeyValueStore (PluginId, PKey, PValue, ExpireAt) VALUES ($1, $2, $3, $4)`, harness.PluginID, r.Key, r.Value, r.ExpireAt)
		require.NoError(t, err)
	}
}

type headValue struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

func readHead(ctx context.Context, t *testing.T, db *sql.DB) headValue {
	t.Helper()
	var h headValue
	if raw := kvGet(ctx, t, db, auditHeadKey); raw != nil { // none yet: seq 0
		require.NoError(t, json.Unmarshal(raw, &h))
	}
	return h
}

func readRecord(ctx context.Context, t *testing.T, db *sql.DB, seq uint64) audit.Record {
	t.Helper()
	raw := kvGet(ctx, t, db, fmt.Sprintf(auditRecordKey, seq))
	require.NotNil(t, raw, "record %d", seq)
	var r audit.Record
	require.NoError(t, json.Unmarshal(raw, &r))
	return r
}

// verifyJSON is GET /api/v1/audit/verify.
func verifyJSON(ctx context.Context, t *testing.T, env *harness.Env) audit.VerifyResult {
	t.Helper()
	status, body, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, "/api/v1/audit/verify", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, string(body))
	var res audit.VerifyResult
	require.NoError(t, json.Unmarshal(body, &res))
	return res
}

// chainOnly reports whether every problem is one only an anchor can see: the hash chain in the
// database is consistent.
func chainOnly(res audit.VerifyResult) bool {
	for _, p := range res.Problems {
		if p.Kind != audit.ProblemAnchorMismatch && p.Kind != audit.ProblemAnchorTruncated {
			return false
		}
	}
	return true
}

// An intruder with write access to the database cuts the newest records off and rewinds the
// head, or rewrites a record and re-hashes every record after it: the chain stays consistent,
// and `/dr audit verify` catches both through the head recorded in the backup's manifest,
// naming the backup and its destination.
func TestAuditAnchorInBackupCatchesRewrites(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	db := mmDB(t, env)
	// A few records before the backup, so that there is history below its anchor.
	for range 3 {
		status, _, err := env.PluginRequest(ctx, env.Member, http.MethodGet, "/api/v1/backups", nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusForbidden, status)
	}

	id, _ := runBackup(ctx, t, env, "--only config --destination local")
	raw, err := os.ReadFile(filepath.Join(env.MM.Dir, "dr-backups", "backups", id, "manifest.json"))
	require.NoError(t, err)
	var m format.Manifest
	require.NoError(t, json.Unmarshal(raw, &m))
	require.NotNil(t, m.AuditHead, "the manifest records the audit head:\n%s", raw)
	anchor := *m.AuditHead
	require.Equal(t, anchor.Hash, readRecord(ctx, t, db, anchor.Seq).Hash, "the anchor names a record of the trail")
	require.Greater(t, anchor.Seq, uint64(1))

	text := cmd(ctx, t, env, "/dr audit verify")
	require.Contains(t, text, "is intact", text)
	assert.Contains(t, text, "at destination local")
	assert.Contains(t, text, "**Anchors checked**")

	saved := auditRows(ctx, t, db)
	t.Cleanup(func() { restoreAuditRows(context.Background(), t, db, saved) })
	last := readHead(ctx, t, db).Seq
	require.GreaterOrEqual(t, last, anchor.Seq)

	t.Run("newest records deleted and the head rewound", func(t *testing.T) {
		keep := anchor.Seq - 1
		for s := keep + 1; s <= last+1; s++ {
			_, err := db.ExecContext(ctx, `DELETE FROM PluginKeyValueStore WHERE PluginId = $1 AND PKey = $2`, harness.PluginID, fmt.Sprintf(auditRecordKey, s))
			require.NoError(t, err)
		}
		b, _ := json.Marshal(headValue{Seq: keep, Hash: readRecord(ctx, t, db, keep).Hash})
		kvPut(ctx, t, db, auditHeadKey, b)

		res := verifyJSON(ctx, t, env)
		require.False(t, res.OK)
		assert.True(t, chainOnly(res), "the chain alone looks intact: %+v", res.Problems)
		text := cmd(ctx, t, env, "/dr audit verify")
		assert.Contains(t, text, "NOT intact", text)
		assert.Contains(t, text, "anchor_truncated")
		assert.Contains(t, text, fmt.Sprintf("backup %s at destination local recorded the head at seq %d", id, anchor.Seq))
		assert.Contains(t, text, fmt.Sprintf("the trail ends at seq %d", keep))
		t.Log(text)
		restoreAuditRows(ctx, t, db, saved)
		assert.Contains(t, cmd(ctx, t, env, "/dr audit verify"), "is intact")
	})

	t.Run("a record rewritten and the rest re-hashed", func(t *testing.T) {
		from := anchor.Seq - 1
		prev := ""
		if from > 1 {
			prev = readRecord(ctx, t, db, from-1).Hash
		}
		for s := from; s <= last; s++ {
			r := readRecord(ctx, t, db, s)
			if s == from {
				r.Actor = "someone-else"
			}
			r.PrevHash = prev
			r.Hash, err = audit.ComputeHash(r)
			require.NoError(t, err)
			b, err := json.Marshal(r)
			require.NoError(t, err)
			kvPut(ctx, t, db, fmt.Sprintf(auditRecordKey, s), b)
			prev = r.Hash
		}
		b, _ := json.Marshal(headValue{Seq: last, Hash: prev})
		kvPut(ctx, t, db, auditHeadKey, b)

		res := verifyJSON(ctx, t, env)
		require.False(t, res.OK)
		assert.True(t, chainOnly(res), "the chain alone looks intact: %+v", res.Problems)
		text := cmd(ctx, t, env, "/dr audit verify")
		assert.Contains(t, text, "NOT intact", text)
		assert.Contains(t, text, "anchor_mismatch")
		assert.Contains(t, text, fmt.Sprintf("record %d: seq %d: backup %s at destination local recorded the head here", anchor.Seq, anchor.Seq, id))
		restoreAuditRows(ctx, t, db, saved)
		assert.Contains(t, cmd(ctx, t, env, "/dr audit verify"), "is intact")
	})

	t.Run("the daily post", func(t *testing.T) {
		post, err := env.WaitBotPost(ctx, env.OpsChannel.Id, 0, "Audit trail head on", 2*time.Minute)
		require.NoError(t, err, "the once-a-day post of the head (the scheduler runs each minute)")
		m := dailyAnchor.FindStringSubmatch(post.Message)
		require.NotNil(t, m, post.Message)
		text := cmd(ctx, t, env, "/dr audit verify --anchor "+m[1])
		assert.Contains(t, text, "is intact", text)
		assert.Contains(t, text, "1 given with --anchor")
	})

	t.Run("a copy of the head from the server log", func(t *testing.T) {
		h := readHead(ctx, t, db)
		text := cmd(ctx, t, env, fmt.Sprintf("/dr audit verify --anchor %d:%s", h.Seq, h.Hash))
		assert.Contains(t, text, "is intact", text)
		assert.Contains(t, text, "1 given with --anchor")
		bad := strings.Repeat("0", 64)
		text = cmd(ctx, t, env, fmt.Sprintf("/dr audit verify --anchor %d:%s", h.Seq, bad))
		assert.Contains(t, text, "NOT intact", text)
		assert.Contains(t, text, "the copy given with --anchor recorded the head here")
		waitLogLine(t, env, func(line string) bool {
			return strings.Contains(line, "Disaster Recovery audit head") && strings.Contains(line, fmt.Sprintf(`"head":"%d:`, h.Seq))
		}, 30*time.Second)
	})
}

// pluginLogLines returns the lines of the server's log file written by the plugin.
func pluginLogLines(t *testing.T, env *harness.Env) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(env.MM.Dir, "logs", "mattermost.log"))
	require.NoError(t, err)
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"plugin_id":"`+harness.PluginID+`"`) {
			out = append(out, sc.Text())
		}
	}
	require.NoError(t, sc.Err())
	return out
}

func waitLogLine(t *testing.T, env *harness.Env, match func(string) bool, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, l := range pluginLogLines(t, env) {
			if match(l) {
				return l
			}
		}
		if time.Now().After(deadline) {
			require.FailNow(t, "no matching plugin log line", "within %s", timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// 1,000 requests without a session (every route, long paths with '|' and Markdown in them,
// wrong metrics tokens) leave the audit trail as it was and add a bounded number of lines to
// the plugin's log. A signed-in non-admin is still recorded.
func TestAnonymousRequestsDoNotGrowTheTrail(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	db := mmDB(t, env)

	before := readHead(ctx, t, db)
	linesBefore := len(pluginLogLines(t, env))

	long := "/api/v1/" + strings.Repeat("a|`b`*", 170) // 1 KB, attacker-chosen
	paths := []string{"/api/v1/backups", "/api/v1/audit", "/api/v1/audit/verify", "/api/v1/status", "/api/v1/version", "/api/v1/nope", long}
	const n = 1000
	var (
		mu     sync.Mutex
		counts = map[int]int{}
		jobs   = make(chan int)
		wg     sync.WaitGroup
	)
	start := time.Now()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				path, method := paths[i%len(paths)], http.MethodGet
				if i%5 == 4 {
					method = http.MethodPost
				}
				req, err := http.NewRequestWithContext(ctx, method, env.MM.URL+"/plugins/"+harness.PluginID+path, nil)
				if err != nil {
					panic(err)
				}
				if i%3 == 0 {
					req, _ = http.NewRequestWithContext(ctx, http.MethodGet, env.MM.URL+"/plugins/"+harness.PluginID+"/api/v1/metrics", nil)
					req.Header.Set("X-DR-Token", fmt.Sprintf("wrong-%d", i))
				}
				req.Header.Set("X-Requested-With", "XMLHttpRequest")
				resp, err := http.DefaultClient.Do(req)
				status := -1
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = resp.StatusCode
				}
				mu.Lock()
				counts[status]++
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	t.Logf("%d anonymous requests in %s: %v", n, time.Since(start).Round(time.Millisecond), counts)
	assert.Equal(t, map[int]int{http.StatusUnauthorized: n}, counts, "every one refused")

	assert.Equal(t, before, readHead(ctx, t, db), "the audit trail did not grow")
	// At once, or within the minute when an earlier test's anonymous request opened it.
	line := waitLogLine(t, env, func(l string) bool {
		return strings.Contains(l, "refused requests without a Mattermost session")
	}, 75*time.Second)
	assert.Contains(t, line, `"refused":`)
	// Give the end-of-interval summary time to land, then count.
	time.Sleep(2 * time.Second)
	added := pluginLogLines(t, env)[linesBefore:]
	t.Logf("plugin log lines added: %d", len(added))
	assert.LessOrEqual(t, len(added), 5, "bounded, not one per request:\n%s", strings.Join(added, "\n"))

	// A signed-in non-admin is refused and recorded.
	status, _, err := env.PluginRequest(ctx, env.Member, http.MethodGet, "/api/v1/audit", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, status)
	after := readHead(ctx, t, db)
	assert.Equal(t, before.Seq+1, after.Seq, "the non-admin's attempt is in the trail")
	assert.Equal(t, "auth.refused", readRecord(ctx, t, db, after.Seq).Action)
}
