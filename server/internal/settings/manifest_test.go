package settings

import (
	"encoding/json"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

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

// urlOrARN matches the settings that hold a URL, a data source or an AWS ARN: an admin needs an
// example of the form to type one right.
var urlOrARN = regexp.MustCompile(`(URL|Endpoint|DataSource)$`)

// credentialKey matches the settings that hold a password, a key or a token, or a data source
// that carries one.
var credentialKey = regexp.MustCompile(`(Secret|Password|Token|DataSource|DatabaseURL|WebhookTargets|HeartbeatURL)`)

// The System Console must stay scannable: short sections, one style of display name, a help
// text for every setting, and an example for every URL and ARN.
func TestSettingsAnAdminCanScan(t *testing.T) {
	m := readManifest(t)
	seen := map[string]string{}
	for _, sec := range m.SettingsSchema.Sections {
		assert.NotEmpty(t, sec.Title, sec.Key)
		assert.NotEmpty(t, sec.Subtitle, "section %s has no subtitle", sec.Key)
		assert.LessOrEqual(t, len(sec.Settings), 15, "section %q is too long to scan: split it", sec.Title)
		for _, s := range sec.Settings {
			checkSetting(t, sec.Title, s)
			_, dup := seen[s.DisplayName]
			assert.False(t, dup, "display name %q is used twice (%s and %s)", s.DisplayName, seen[s.DisplayName], s.Key)
			seen[s.DisplayName] = s.Key
		}
	}
	for _, s := range m.SettingsSchema.Settings {
		sec, twin := sectionOf(m, s.Key)
		require.NotNil(t, twin, s.Key)
		assert.Equal(t, twin.DisplayName, s.DisplayName, "%s: the top-level twin has its section's display name", s.Key)
		assert.Contains(t, s.HelpText, `"`+sec.Title+`"`, "%s: the twin names the section that shows it", s.Key)
	}
}

func checkSetting(t *testing.T, section string, s *model.PluginSetting) {
	t.Helper()
	name := s.DisplayName
	assert.NotEmpty(t, strings.TrimSpace(s.HelpText), "%s (%s) has no help text", s.Key, section)
	require.NotEmpty(t, name, s.Key)
	first, _ := utf8.DecodeRuneInString(name)
	assert.True(t, unicode.IsUpper(first), "%s: display name %q starts with a capital letter", s.Key, name)
	assert.NotContains(t, name, ":", "%s: display name %q has no colon (the section says what it belongs to)", s.Key, name)
	assert.False(t, strings.HasSuffix(name, "."), "%s: display name %q ends without a period", s.Key, name)
	if urlOrARN.MatchString(s.Key) || strings.Contains(s.HelpText, "ARN") {
		assert.NotEmpty(t, s.Placeholder, "%s (%s) holds a URL or an ARN: give a placeholder", s.Key, section)
	}
	if credentialKey.MatchString(s.Key) {
		assert.True(t, s.Secret, "%s holds a credential: mark it secret", s.Key)
	}
	if s.Placeholder != "" && urlOrARN.MatchString(s.Key) && !s.Secret {
		u, err := url.Parse(s.Placeholder)
		require.NoError(t, err, s.Key)
		assert.Nil(t, u.User, "%s: a setting that is not secret shows no credentials in its example", s.Key)
		assert.Equal(t, "https", u.Scheme, "%s: the example is an https URL", s.Key)
	}
}

func sectionOf(m *model.Manifest, key string) (*model.PluginSettingsSection, *model.PluginSetting) {
	for _, sec := range m.SettingsSchema.Sections {
		for _, s := range sec.Settings {
			if s.Key == key {
				return sec, s
			}
		}
	}
	return nil, nil
}

// The settings' keys are what admins' saved configurations use: moving settings between
// sections must not rename, drop or add one by accident. config.go's Config fields are the keys.
func TestEverySettingIsAConfigField(t *testing.T) {
	m := readManifest(t)
	fields := map[string]bool{}
	ct := reflect.TypeOf(Config{})
	for i := 0; i < ct.NumField(); i++ {
		fields[ct.Field(i).Name] = true
	}
	keys := map[string]bool{}
	for _, sec := range m.SettingsSchema.Sections {
		for _, s := range sec.Settings {
			if s.Type == "custom" {
				continue
			}
			assert.True(t, fields[s.Key], "plugin.json setting %s is not a Config field", s.Key)
			assert.False(t, keys[s.Key], "setting %s is in two sections", s.Key)
			keys[s.Key] = true
		}
	}
	for f := range fields {
		assert.True(t, keys[f], "Config field %s has no setting in plugin.json", f)
	}
}
