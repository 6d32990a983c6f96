package settings

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		settings []string
	}{
		{"defaults", Default(), nil},
		{"team and channel", Config{OpsTeamName: "ops", OpsChannelName: "dr_ops-1"}, nil},
		{"display name instead of URL name", Config{OpsTeamName: "Ops Team", OpsChannelName: "dr-ops"}, []string{"OpsTeamName"}},
		{"channel with spaces", Config{OpsChannelName: "dr ops"}, []string{"OpsChannelName"}},
		{"one-letter channel", Config{OpsChannelName: "d"}, []string{"OpsChannelName"}},
		{"both wrong", Config{OpsTeamName: "-x!", OpsChannelName: "#ops"}, []string{"OpsTeamName", "OpsChannelName"}},
		{"expiry in days", Config{OpsChannelName: "dr-ops", SSOFallbackDefaultExpiry: "2d"}, nil},
		{"no expiry", Config{OpsChannelName: "dr-ops", SSOFallbackDefaultExpiry: "0"}, nil},
		{"bad expiry", Config{OpsChannelName: "dr-ops", SSOFallbackDefaultExpiry: "tomorrow"}, []string{"SSOFallbackDefaultExpiry"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range tt.cfg.Validate() {
				got = append(got, p.Setting)
				assert.NotEmpty(t, p.Message)
			}
			assert.Equal(t, tt.settings, got)
		})
	}
}

func TestNormalize(t *testing.T) {
	c := Config{OpsTeamName: "  Ops ", OpsChannelName: " "}.Normalize()
	assert.Equal(t, "ops", c.OpsTeamName)
	assert.Equal(t, "dr-ops", c.OpsChannelName)
	assert.Empty(t, c.Validate())
}

func TestProblemsError(t *testing.T) {
	err := Problems{{"A", "bad"}, {"B", "worse"}}
	assert.Equal(t, "invalid settings: A: bad; B: worse", err.Error())
}

func TestExpiryAndChanged(t *testing.T) {
	assert.Equal(t, 24*time.Hour, Default().SSOFallbackExpiry())
	assert.Equal(t, time.Duration(0), Config{SSOFallbackDefaultExpiry: "0"}.SSOFallbackExpiry())
	c := Default()
	d := c
	d.AutoRestoreOnExpiry = true
	d.OpsTeamName = "ops"
	assert.Equal(t, []string{"OpsTeamName", "AutoRestoreOnExpiry"}, c.Changed(d))
	assert.Empty(t, c.Changed(c))
}
