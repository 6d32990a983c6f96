package plugin

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
)

func TestFailoverInventory(t *testing.T) {
	commands, routes := Inventory()
	for _, want := range []string{"/dr failover", "/dr failover plan", "/dr failover start", "/dr failover status", "/dr failover confirm",
		"/dr failover resume", "/dr failover abort", "/dr failback"} {
		assert.Contains(t, commands, want)
	}
	var got []string
	for _, r := range routes {
		if strings.Contains(r.Path, "/failover") {
			got = append(got, r.Method+" "+r.Path)
		}
	}
	assert.ElementsMatch(t, []string{
		"GET /api/v1/failover", "GET /api/v1/failover/plan", "POST /api/v1/failover/start", "POST /api/v1/failover/confirm",
		"POST /api/v1/failover/resume", "POST /api/v1/failover/abort", "POST /api/v1/failover/failback", "POST /api/v1/actions/failover/{op}",
	}, got)
}

// Every per-region setting moves with the region names when a runbook makes the other region
// the primary; a per-region setting added later without a pair here would point a step at the
// wrong region's resource.
func TestSwappedSettingsCoverEveryRegionSetting(t *testing.T) {
	fields := map[string]string{}
	typ := reflect.TypeOf(settings.Config{})
	for i := range typ.NumField() {
		fields[strings.ToLower(typ.Field(i).Name)] = typ.Field(i).Name
	}
	swapped := map[string]bool{}
	for _, pair := range swappedSettings {
		for _, k := range pair {
			assert.Contains(t, fields, k, "%s is a setting", k)
			swapped[k] = true
		}
	}
	for lower, name := range fields {
		if name == "DRSchedulerInSecondary" || !strings.HasPrefix(name, "DR") {
			continue
		}
		if strings.Contains(name, "Primary") || strings.Contains(name, "Secondary") {
			assert.True(t, swapped[lower], "%s is swapped with its counterpart", name)
		}
	}
}

func TestFailoverSettingsValidation(t *testing.T) {
	base := func() settings.Config {
		c := settings.Default()
		c.DRRoute53ZoneID, c.DRRoute53RecordName = "Z0123", "chat.example.com"
		c.DRRoute53PrimaryValue, c.DRRoute53SecondaryValue = "east-lb.example.com", "west-lb.example.com"
		return c
	}
	tests := []struct {
		name    string
		change  func(*settings.Config)
		problem string // the setting named; "" for valid
	}{
		{"complete Route 53 settings", func(*settings.Config) {}, ""},
		{"no Route 53 at all", func(c *settings.Config) { *c = settings.Default() }, ""},
		{"no record name", func(c *settings.Config) { c.DRRoute53RecordName = "" }, "DRRoute53RecordName"},
		{"bad type", func(c *settings.Config) { c.DRRoute53RecordType = "MX" }, "DRRoute53RecordType"},
		{"no standby value", func(c *settings.Config) { c.DRRoute53SecondaryValue = " , " }, "DRRoute53SecondaryValue"},
		{"two values for a CNAME", func(c *settings.Config) { c.DRRoute53PrimaryValue = "a.example.com,b.example.com" }, "DRRoute53PrimaryValue"},
		{"two addresses for an A record", func(c *settings.Config) {
			c.DRRoute53RecordType, c.DRRoute53PrimaryValue, c.DRRoute53SecondaryValue = "A", "192.0.2.1,192.0.2.2", "198.51.100.1"
		}, ""},
		{"negative TTL", func(c *settings.Config) { c.DRRoute53RecordTTL = -1 }, "DRRoute53RecordTTL"},
		{"one role only", func(c *settings.Config) { c.DROpenSearchRoles = "all_access" }, "DROpenSearchRoles"},
		{"both roles", func(c *settings.Config) { c.DROpenSearchRoles = "leader_role, follower_role" }, ""},
		{"poll too fast", func(c *settings.Config) { c.DRFailoverPollInterval = "10ms" }, "DRFailoverPollInterval"},
		{"poll not a duration", func(c *settings.Config) { c.DRFailoverPollInterval = "often" }, "DRFailoverPollInterval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.change(&c)
			var named []string
			for _, p := range c.Validate() {
				named = append(named, p.Setting)
			}
			if tc.problem == "" {
				assert.Empty(t, named)
			} else {
				assert.Equal(t, []string{tc.problem}, named)
			}
		})
	}
	c := settings.Default()
	assert.Equal(t, 5*time.Second, c.FailoverPollInterval())
	c.DRFailoverPollInterval = "250ms"
	assert.Equal(t, 250*time.Millisecond, c.FailoverPollInterval())
}
