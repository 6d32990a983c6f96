package metrics

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the README's metrics table from Catalog")

const (
	readmePath  = "../../../../README.md"
	tableBegin  = "<!-- metrics-table:begin (generated from server/internal/status/metrics/catalog.go: go test ./server/internal/status/metrics -run TestREADME -update) -->\n"
	tableEnd    = "<!-- metrics-table:end -->"
	regenerate  = "go test ./server/internal/status/metrics -run TestREADME -update"
	sourceRoot  = "../../../"
	assetsRoot  = "../../../../assets"
	drillPrefix = "dr_drill_" // scratch database names in package verify, not metrics
)

// The README's table is Catalog's; -update rewrites it.
func TestREADME(t *testing.T) {
	b, err := os.ReadFile(readmePath)
	require.NoError(t, err)
	text := string(b)
	i, j := strings.Index(text, tableBegin), strings.Index(text, tableEnd)
	require.True(t, i >= 0 && j > i, "README.md needs the markers %q and %q in its Prometheus section", tableBegin, tableEnd)
	want := text[:i+len(tableBegin)] + "\n" + Table() + "\n" + text[j:]
	if *update {
		require.NoError(t, os.WriteFile(readmePath, []byte(want), 0o644))
		return
	}
	assert.Equal(t, want, text, "README.md's metrics table differs from Catalog: run `%s`", regenerate)
}

func TestCatalogIsWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range Catalog {
		assert.False(t, seen[d.Name], "%s listed twice", d.Name)
		seen[d.Name] = true
		assert.True(t, model.LegacyValidation.IsValidMetricName(d.Name), d.Name)
		assert.True(t, strings.HasPrefix(d.Name, "dr_"), d.Name)
		assert.Contains(t, []string{"gauge", "counter"}, d.Type, d.Name)
		assert.Contains(t, []Scope{Cluster, Node}, d.Scope, d.Name)
		assert.NotEmpty(t, d.Help, d.Name)
		// Prometheus naming: counters end in _total, nothing else does; ages are not exported.
		assert.Equal(t, d.Type == "counter", strings.HasSuffix(d.Name, "_total"), d.Name)
		assert.NotContains(t, d.Name, "_age_", "%s: export a timestamp, not an age", d.Name)
	}
	for _, r := range Renames {
		_, old := Lookup(r[0])
		_, renamed := Lookup(r[1])
		assert.False(t, old, "%s is renamed but still listed", r[0])
		assert.True(t, renamed, "%s is the new name but not listed", r[1])
	}
}

// Every dr_ metric name written in the server's Go code is in Catalog: a probe that adds a
// metric without documenting it fails here. (The end-to-end test checks what a real server
// exposes the same way.)
func TestEveryMetricInTheCodeIsListed(t *testing.T) {
	literal := regexp.MustCompile(`"(dr_[a-z0-9_]+)"`)
	var missing []string
	err := filepath.WalkDir(sourceRoot, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") ||
			strings.Contains(path, "/e2e/") || strings.HasSuffix(path, "status/metrics/catalog.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range literal.FindAllStringSubmatch(string(b), -1) {
			name := m[1]
			if strings.HasPrefix(name, drillPrefix) || strings.HasSuffix(name, "_") {
				continue // a prefix, or a scratch database name
			}
			if _, ok := Lookup(name); !ok && !slices.Contains(missing, name) {
				missing = append(missing, name+" ("+path+")")
			}
		}
		return nil
	})
	require.NoError(t, err)
	assert.Empty(t, missing, "add these metrics to Catalog in catalog.go, then run `%s`", regenerate)
}

func TestUnknown(t *testing.T) {
	assert.Equal(t, []string{"dr_nope"}, Unknown(`time() - dr_backup_last_success_timestamp_seconds > dr_nope + dr_nope`))
	assert.Empty(t, Unknown(`up == 0`))
}
