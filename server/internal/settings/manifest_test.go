package settings

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readManifest(t *testing.T) *model.Manifest {
	t.Helper()
	b, err := os.ReadFile("../../../plugin.json")
	require.NoError(t, err)
	var m model.Manifest
	require.NoError(t, json.Unmarshal(b, &m))
	require.NotNil(t, m.SettingsSchema)
	return &m
}

// Servers before the fix of MM-67502 (11.4.0 among them) hide only the secret settings declared
// at the top level of settings_schema, not those in sections: GET /api/v4/config and the support
// packet would carry our passwords and tokens in clear. So every secret setting of a section is
// declared again at the top level, which the System Console does not render when sections exist.
func TestSecretSettingsAreHiddenByServersThatIgnoreSections(t *testing.T) {
	m := readManifest(t)
	inSections := map[string]*model.PluginSetting{}
	for _, sec := range m.SettingsSchema.Sections {
		for _, s := range sec.Settings {
			if s.Secret {
				inSections[s.Key] = s
			}
		}
	}
	require.NotEmpty(t, inSections)
	top := map[string]bool{}
	for _, s := range m.SettingsSchema.Settings {
		require.Contains(t, inSections, s.Key, "top-level setting %s must be the shadow of a secret setting in a section", s.Key)
		assert.True(t, s.Secret, "%s: the top-level declaration must be secret", s.Key)
		assert.Equal(t, inSections[s.Key].Type, s.Type, "%s: same type as in its section", s.Key)
		assert.Nil(t, s.Default, "%s: a shadow sets no default of its own", s.Key)
		top[s.Key] = true
	}
	for k := range inSections {
		assert.True(t, top[k], "secret setting %s has no top-level declaration: servers before MM-67502's fix show it in clear", k)
	}

	// The sanitizer of such a server is today's with the sections left out.
	old := *m
	schema := *m.SettingsSchema
	schema.Sections = nil
	old.SettingsSchema = &schema
	for name, manifest := range map[string]*model.Manifest{"fixed server": m, "server ignoring sections": &old} {
		values := map[string]any{"opsteamname": "ops"}
		for k := range inSections {
			values[k] = "SECRET-" + k // stored keys are lower-case; Sanitize compares without case
		}
		ps := model.PluginSettings{Plugins: map[string]map[string]any{m.Id: values}}
		ps.Sanitize([]*model.Manifest{manifest})
		for k := range inSections {
			assert.Equal(t, model.FakeSetting, ps.Plugins[m.Id][k], "%s: %s", name, k)
		}
		assert.Equal(t, "ops", ps.Plugins[m.Id]["opsteamname"], "%s: a setting that is not secret stays readable", name)
	}
}
