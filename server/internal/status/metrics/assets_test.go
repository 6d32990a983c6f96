package metrics

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

var (
	rulesFile     = filepath.Join(assetsRoot, "prometheus", "dr-alerts.yml")
	ruleTestsGlob = filepath.Join(assetsRoot, "prometheus", "tests", "*.yml")
	dashboardFile = filepath.Join(assetsRoot, "grafana", "dr-dashboard.json")
)

type ruleFile struct {
	Groups []struct {
		Rules []struct {
			Alert string `yaml:"alert"`
			Expr  string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type ruleTests struct {
	Tests []struct {
		Alerts []struct {
			Name   string `yaml:"alertname"`
			Expect []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, v), path)
}

// promtool, Debian's prometheus package: `promtool check rules` and `promtool test rules`.
func TestAlertRulesWithPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		const msg = "promtool not found: install Debian's prometheus package (build/scripts/install-deps.sh does) to check the shipped alert rules"
		if os.Getenv("CI") != "" {
			t.Fatal(msg) // CI installs it: a skip there would hide untested rules
		}
		t.Skip(msg)
	}
	tests, err := filepath.Glob(ruleTestsGlob)
	require.NoError(t, err)
	require.NotEmpty(t, tests)
	for _, args := range [][]string{{"check", "rules", rulesFile}, append([]string{"test", "rules"}, tests...)} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
	}
}

// Every rule has a unit test where it fires and one where it stays quiet.
func TestEveryAlertRuleIsTestedBothWays(t *testing.T) {
	var rules ruleFile
	readYAML(t, rulesFile, &rules)
	fires, quiet := map[string]bool{}, map[string]bool{}
	paths, err := filepath.Glob(ruleTestsGlob)
	require.NoError(t, err)
	for _, p := range paths {
		var rt ruleTests
		readYAML(t, p, &rt)
		for _, tc := range rt.Tests {
			for _, a := range tc.Alerts {
				if len(a.Expect) > 0 {
					fires[a.Name] = true
				} else {
					quiet[a.Name] = true
				}
			}
		}
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			assert.True(t, fires[r.Alert], "no test in %s where %s fires", ruleTestsGlob, r.Alert)
			assert.True(t, quiet[r.Alert], "no test in %s where %s stays quiet", ruleTestsGlob, r.Alert)
		}
	}
	assert.Equal(t, 12, n, "the shipped rules")
}

// The rules use only metrics the plugin exposes.
func TestAlertRulesUseListedMetrics(t *testing.T) {
	var rules ruleFile
	readYAML(t, rulesFile, &rules)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			assert.Empty(t, Unknown(r.Expr), "%s uses metrics that are not in Catalog", r.Alert)
			assert.NotContains(t, r.Expr, "Inf", "%s: no +Inf sentinels", r.Alert)
		}
	}
}

// The dashboard parses, chooses its data source by a variable, and every query uses only
// metrics the plugin exposes. (The end-to-end test runs the queries on a real Prometheus.)
func TestDashboard(t *testing.T) {
	exprs := DashboardExprs(t)
	require.NotEmpty(t, exprs)
	for _, e := range exprs {
		assert.Empty(t, Unknown(e), "dashboard query %q uses metrics that are not in Catalog", e)
		assert.Regexp(t, `\bdr_`, e)
	}
}

// DashboardExprs reads the dashboard's PromQL expressions (panels and variables).
func DashboardExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	require.NoError(t, err)
	var d struct {
		Title      string `json:"title"`
		Templating struct {
			List []struct {
				Name, Type string
				Query      json.RawMessage `json:"query"`
				Definition string          `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
		Panels []struct {
			Title      string `json:"title"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(b, &d), dashboardFile)
	require.NotEmpty(t, d.Title)
	hasDatasource := false
	var out []string
	for _, v := range d.Templating.List {
		if v.Type == "datasource" && v.Name == "datasource" {
			hasDatasource = true
		}
		if v.Definition != "" {
			out = append(out, v.Definition)
		}
	}
	assert.True(t, hasDatasource, "the dashboard has a datasource variable")
	for _, p := range d.Panels {
		assert.Equal(t, "${datasource}", p.Datasource.UID, "panel %q uses the datasource variable", p.Title)
		require.NotEmpty(t, p.Targets, p.Title)
		for _, tg := range p.Targets {
			require.NotEmpty(t, tg.Expr, p.Title)
			out = append(out, tg.Expr)
		}
	}
	return out
}
