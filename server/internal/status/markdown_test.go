package status

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

func sampleReport() Report {
	at := time.Date(2026, 3, 1, 12, 0, 5, 0, time.UTC)
	db := probe.Result{Component: "database", Name: "Aurora mm-global", State: probe.Healthy, Summary: "secondary 40ms behind",
		Table: &probe.Table{Columns: []string{"Cluster", "Role", "Lag"}, Rows: [][]string{{"mm-eu", "primary", ""}, {"mm-us", "secondary", "40ms"}}}}
	s3 := probe.Result{Component: "s3", Name: "bucket mm-files", State: probe.Degraded, Summary: "replication 20m behind",
		Table: &probe.Table{Columns: []string{"Bucket", "Pending"}, Rows: [][]string{{"mm-files", "1204"}}}}
	s3.Add(probe.Degraded, "check the replication rule", "replication to mm-files-us is 20m behind")
	os := probe.Result{Component: "opensearch", Name: "domain", State: probe.NotConfigured, Summary: "not set up: no follower: search after a failover needs a reindex"}
	return NewReport([]probe.Result{db, s3, os}, at, 1200*time.Millisecond)
}

func TestMarkdownShort(t *testing.T) {
	want := "**Degraded** (checked 2026-03-01 12:00:05 UTC in 1.2s)\n" +
		"\n" +
		"- **s3** (degraded): replication to mm-files-us is 20m behind *Fix:* check the replication rule\n" +
		"\n" +
		"#### s3: degraded\n" +
		"**bucket mm-files** degraded: replication 20m behind\n" +
		"\n" +
		"| Bucket | Pending |\n" +
		"| --- | --- |\n" +
		"| mm-files | 1204 |\n" +
		"\n" +
		"- **database** healthy: secondary 40ms behind\n" +
		"\n" +
		"**Not set up** (not checked, not counted in the verdict):\n" +
		"- **opensearch**: no follower: search after a failover needs a reindex\n" +
		"\n" +
		"Use `/dr status --verbose` for every table.\n"
	assert.Equal(t, want, Markdown(sampleReport(), MarkdownOptions{}))
}

func TestMarkdownVerbose(t *testing.T) {
	rep := sampleReport()
	rep.Cached = true
	got := Markdown(rep, MarkdownOptions{Verbose: true})
	assert.Contains(t, got, "in 1.2s, cached)")
	assert.Contains(t, got, "#### database: healthy\n**Aurora mm-global** healthy: secondary 40ms behind\n\n| Cluster | Role | Lag |\n")
	assert.Contains(t, got, "| mm-us | secondary | 40ms |\n")
	assert.Contains(t, got, "#### opensearch: not set up\n")
	assert.NotContains(t, got, "--verbose", "nothing is hidden")
	assert.Less(t, strings.Index(got, "#### s3"), strings.Index(got, "#### database"), "worst component first")
}

func TestMarkdownTables(t *testing.T) {
	tests := []struct {
		name     string
		results  []probe.Result
		opts     MarkdownOptions
		contains []string
		absent   []string
	}{
		{
			name: "cells cannot break the table",
			results: []probe.Result{{Component: "idp", Name: "Keycloak", State: probe.Critical, Summary: "down\nhard",
				Table: &probe.Table{Columns: []string{"Realm", "Error"}, Rows: [][]string{{"a|b", "line1\nline2"}, {"short"}, {"x", "y", "extra"}}}}},
			contains: []string{"**Keycloak** critical: down hard\n", "| a\\|b | line1 line2 |\n", "| short |  |\n", "| x | y |\n"},
			absent:   []string{"extra"},
		},
		{
			name: "same columns merge into one table with the check's name",
			results: []probe.Result{
				{Component: "s3", Name: "mm-files", State: probe.Degraded, Summary: "behind", Table: &probe.Table{Columns: []string{"Lag"}, Rows: [][]string{{"20m"}}}},
				{Component: "s3", Name: "mm-backups", State: probe.Healthy, Summary: "ok", Table: &probe.Table{Columns: []string{"Lag"}, Rows: [][]string{{"1s"}}}},
			},
			contains: []string{"- **mm-files** degraded: behind\n- **mm-backups** healthy: ok\n", "| Check | Lag |\n| --- | --- |\n| mm-files | 20m |\n| mm-backups | 1s |\n"},
		},
		{
			name: "different columns stay apart, each under its check",
			results: []probe.Result{
				{Component: "database", Name: "Aurora", State: probe.Degraded, Summary: "lag", Table: &probe.Table{Columns: []string{"Lag"}, Rows: [][]string{{"45s"}}}},
				{Component: "database", Name: "pgbouncer", State: probe.Healthy, Summary: "ok", Table: &probe.Table{Columns: []string{"Pool"}, Rows: [][]string{{"main"}}}},
			},
			contains: []string{"\nAurora:\n\n| Lag |\n", "\npgbouncer:\n\n| Pool |\n"},
			absent:   []string{"| Check |"},
		},
		{
			name:     "long tables are cut unless verbose",
			results:  []probe.Result{{Component: "scheduler", Name: "nodes", State: probe.Degraded, Summary: "s", Table: table(40)}},
			opts:     MarkdownOptions{MaxRows: 5},
			contains: []string{"| node4 |\n\n... and 35 more rows\n", "--verbose"},
			absent:   []string{"| node5 |"},
		},
		{
			name:     "verbose shows every row",
			results:  []probe.Result{{Component: "scheduler", Name: "nodes", State: probe.Degraded, Summary: "s", Table: table(40)}},
			opts:     MarkdownOptions{MaxRows: 5, Verbose: true},
			contains: []string{"| node39 |\n"},
			absent:   []string{"more rows"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Markdown(NewReport(tt.results, time.Time{}, 0), tt.opts)
			for _, s := range tt.contains {
				assert.Contains(t, got, s)
			}
			for _, s := range tt.absent {
				assert.NotContains(t, got, s)
			}
		})
	}
}

func table(rows int) *probe.Table {
	t := &probe.Table{Columns: []string{"Node"}}
	for i := 0; i < rows; i++ {
		t.Rows = append(t.Rows, []string{fmt.Sprintf("node%d", i)})
	}
	return t
}

// With a dozen probes, a mostly healthy deployment still fits on a screen: problems first,
// one line per healthy component, no healthy table.
func TestMarkdownManyResultsStayShort(t *testing.T) {
	var results []probe.Result
	for i := 0; i < 12; i++ {
		r := probe.Result{Component: fmt.Sprintf("comp%02d", i), Name: "check", State: probe.Healthy, Summary: "fine", Table: table(10)}
		if i == 7 {
			r.Add(probe.Critical, "", "broken")
		}
		results = append(results, r)
	}
	for i := 0; i < 30; i++ {
		results[7].Findings = append(results[7].Findings, probe.Finding{State: probe.Degraded, Message: fmt.Sprintf("minor %d", i)})
	}
	got := Markdown(NewReport(results, time.Time{}, 0), MarkdownOptions{})
	lines := strings.Split(strings.TrimSpace(got), "\n")
	assert.LessOrEqual(t, len(lines), 60)
	assert.True(t, strings.HasPrefix(got, "**Critical**\n\n- **comp07** (critical): broken\n"), got)
	assert.Contains(t, got, "- ... and 16 more\n")
	assert.Equal(t, 1, strings.Count(got, "| Node |"), "only the unhealthy component's table")
	assert.Equal(t, 11, strings.Count(got, "healthy: fine"))
}
