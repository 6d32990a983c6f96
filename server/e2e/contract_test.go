//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// contractDir holds one normalised answer per GET route the webapp reads, for the webapp's
// contract test of webapp/src/api/types.ts (webapp/src/api/contract.test.ts).
const contractDir = "webapp/src/api/__fixtures__"

// contractFixture is one route the webapp reads (webapp/src/api/client.ts) and its fixture file.
type contractFixture struct {
	file, path string

	// own keeps, of a route whose answer lists what other tests left behind, only what this
	// test made, so that the fixture does not depend on which tests ran before.
	own func(v any) any
}

// Values of these fields are kept (enums the webapp switches on, stable for a given setup);
// every other string is replaced by its field's name, every number by 0.
var contractKeptValues = map[string]bool{
	"verdict": true, "state": true, "outcome": true, "status": true, "component": true,
	"type": true, "action": true, "delivery": true, "auth_service": true,
}

// Maps keyed by data (a destination, a label, a detail) rather than by field name: their keys
// vary with the data, so the fixture keeps one entry under the key "key".
var contractDynamicMaps = map[string]bool{"manifests": true, "not_made_here": true, "labels": true, "details": true}

var contractTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Format(time.RFC3339)

// normaliseContract replaces what varies from run to run (ids, times, sizes, secrets) while
// keeping every key and every JSON type; arrays keep one element per distinct shape.
func normaliseContract(key string, v any) any {
	switch x := v.(type) {
	case map[string]any:
		if contractDynamicMaps[key] {
			return normaliseDynamicMap(x)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normaliseContract(k, e)
		}
		return out
	case []any:
		return normaliseArray(key, x)
	case string:
		if contractKeptValues[key] {
			return x
		}
		if _, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return contractTime
		}
		return key
	case float64:
		return 0
	default: // bool, null
		return x
	}
}

func normaliseDynamicMap(x map[string]any) any {
	if len(x) == 0 {
		return x
	}
	keys := make([]string, 0, len(x))
	for k := range x {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return map[string]any{"key": normaliseContract("key", x[keys[0]])}
}

func normaliseArray(key string, x []any) []any {
	seen := map[string]any{}
	for _, e := range x {
		n := normaliseContract(key, e)
		b, _ := json.Marshal(n)
		seen[string(b)] = n
	}
	canon := make([]string, 0, len(seen))
	for c := range seen {
		canon = append(canon, c)
	}
	sort.Strings(canon)
	out := make([]any, 0, len(canon))
	for _, c := range canon {
		out = append(out, seen[c])
	}
	return out
}

// contractShape lists every key path of v with its JSON type ("backups[].pinned": "bool");
// array elements share one path.
func contractShape(path string, v any, into map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		into[path] = "object"
		for k, e := range x {
			contractShape(path+"."+k, e, into)
		}
	case []any:
		into[path] = "array"
		for _, e := range x {
			contractShape(path+"[]", e, into)
		}
	case string:
		into[path] = "string"
	case float64:
		into[path] = "number"
	case bool:
		into[path] = "bool"
	default:
		into[path] = "null"
	}
}

// contractDiff says how the live answer's shape differs from the fixture's: a key the server
// sends that the fixture lacks (a new or renamed field), a key of the fixture the server no
// longer sends, or a different JSON type (null matches anything: a field may be null today).
func contractDiff(fixture, live any) []string {
	want, got := map[string]string{}, map[string]string{}
	contractShape("", fixture, want)
	contractShape("", live, got)
	var diff []string
	for p, g := range got {
		w, ok := want[p]
		switch {
		case !ok:
			diff = append(diff, fmt.Sprintf("server sends %s (%s), the fixture does not have it", p, g))
		case w != g && w != "null" && g != "null":
			diff = append(diff, fmt.Sprintf("%s is %s, the fixture has %s", p, g, w))
		}
	}
	for p, w := range want {
		if _, ok := got[p]; !ok && !underNull(p, got) {
			diff = append(diff, fmt.Sprintf("the fixture has %s (%s), the server no longer sends it", p, w))
		}
	}
	sort.Strings(diff)
	return diff
}

// underNull: p lies below a field that is null (or an empty array) in this answer.
func underNull(p string, got map[string]string) bool {
	for parent := p; ; {
		i := strings.LastIndexAny(parent, ".[")
		if i <= 0 {
			return false
		}
		parent = parent[:i]
		if t := got[parent]; t == "null" || (t == "array" && !hasChild(parent+"[]", got)) {
			return true
		}
	}
}

func hasChild(prefix string, got map[string]string) bool {
	for p := range got {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// keepField filters the array under field of a JSON object to the elements keep accepts.
func keepField(field string, keep func(map[string]any) bool) func(any) any {
	return func(v any) any {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		if arr, ok := m[field].([]any); ok {
			m[field] = keepElements(keep)(arr)
		}
		return m
	}
}

func keepElements(keep func(map[string]any) bool) func(any) any {
	return func(v any) any {
		arr, ok := v.([]any)
		if !ok {
			return v
		}
		out := []any{}
		for _, e := range arr {
			if m, ok := e.(map[string]any); ok && keep(m) {
				out = append(out, e)
			}
		}
		return out
	}
}

// contractState makes what each route can show at least once: a verified backup, a user in
// SSO fallback, audit records, and a backup job waiting for the lock (so "running" is a job).
// It returns the backup's id, the user's id and a function that waits for the job's end.
func contractState(ctx context.Context, t *testing.T, env *harness.Env) (backup, userID string, waitJob func()) {
	require.Eventually(t, func() bool {
		return !strings.Contains(cmd(ctx, t, env, "/dr backup list"), "A backup is running")
	}, 30*time.Second, 200*time.Millisecond)
	backup, _ = runBackup(ctx, t, env, "--only config")
	require.Contains(t, runVerify(ctx, t, env, backup), "verified")

	u := ssoUser(ctx, t, env, uniq("contract"), "saml", uniq("contract-data"))
	text := cmd(ctx, t, env, "/dr sso fallback @"+u.Username+` --reason "contract fixture" --expires 2h --deliver show`)
	require.Len(t, shownPasswords(text), 1, text)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd(ctx, t, env, "/dr sso restore @"+u.Username)
	})

	holdBackupLock(ctx, t, env, 3*time.Second)
	since := model.GetMillis()
	code, body, err := env.PluginRequest(ctx, env.Admin, http.MethodPost, "/api/v1/backups", strings.NewReader(`{"only":["config"],"destination":""}`))
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, code, string(body))
	return backup, u.Id, func() {
		_, err := env.WaitBotPost(ctx, env.OpsChannel.Id, since, "Backup `", 5*time.Minute)
		require.NoError(t, err)
	}
}

// TestContractWebappAPI checks the JSON of every GET route the webapp reads against the
// fixtures the webapp's contract test checks webapp/src/api/types.ts against, so that neither
// side can drift silently: a Go field renamed, added or removed fails here until the fixtures
// are refreshed (`make contract-fixtures`, i.e. DR_SAVE_CONTRACT=dir), and then the webapp's
// test fails until types.ts follows.
func TestContractWebappAPI(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	started := time.Now().Add(-time.Second).UTC()
	backup, userID, waitJob := contractState(ctx, t, env)

	routes := []contractFixture{
		{file: "status.json", path: "/api/v1/status?fresh=true"},
		{file: "backups.json", path: "/api/v1/backups", own: func(v any) any {
			mine := func(e map[string]any) bool { return e["id"] == backup }
			return keepField("untrusted", func(map[string]any) bool { return false })(keepField("backups", mine)(v))
		}},
		{file: "sso_fallbacks.json", path: "/api/v1/sso/fallbacks", own: keepField("fallbacks", func(e map[string]any) bool { return e["user_id"] == userID })},
		{file: "audit.json", path: "/api/v1/audit?limit=100&since=" + started.Format(time.RFC3339)},
		{file: "version.json", path: "/api/v1/version"},
	}
	answers := make([]any, len(routes))
	for i, r := range routes {
		answers[i] = contractAnswer(ctx, t, env, r)
	}
	waitJob()

	save := os.Getenv("DR_SAVE_CONTRACT")
	for i, r := range routes {
		if save != "" {
			writeContractFixture(t, filepath.Join(save, r.file), answers[i])
			continue
		}
		fixture := readContractFixture(t, filepath.Join(env.Root, contractDir, r.file))
		assert.Empty(t, contractDiff(fixture, answers[i]), "GET %s no longer has the shape of %s/%s: refresh the fixtures with `make contract-fixtures`, then make webapp/src/api/types.ts follow", r.path, contractDir, r.file)
	}
}

func contractAnswer(ctx context.Context, t *testing.T, env *harness.Env, r contractFixture) any {
	code, body, err := env.PluginRequest(ctx, env.Admin, http.MethodGet, r.path, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, "GET %s: %s", r.path, body)
	var v any
	require.NoError(t, json.Unmarshal(body, &v), "GET %s", r.path)
	if r.own != nil {
		v = r.own(v)
	}
	return normaliseContract("", v)
}

func writeContractFixture(t *testing.T, path string, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "    ")
	require.NoError(t, enc.Encode(v))
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	t.Logf("wrote %s", path)
}

func readContractFixture(t *testing.T, path string) any {
	b, err := os.ReadFile(path)
	require.NoError(t, err, "no fixture: make contract-fixtures writes it")
	var v any
	require.NoError(t, json.Unmarshal(b, &v), path)
	return v
}
