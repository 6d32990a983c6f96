package drsettings

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
)

// secretSettings lists every setting plugin.json marks secret: a new one is covered by the
// secret test without anyone remembering to add it.
func secretSettings(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../../plugin.json")
	require.NoError(t, err)
	var manifest struct {
		SettingsSchema struct {
			Sections []struct {
				Settings []struct {
					Key    string `json:"key"`
					Secret bool   `json:"secret"`
				} `json:"settings"`
			} `json:"sections"`
		} `json:"settings_schema"`
	}
	require.NoError(t, json.Unmarshal(b, &manifest))
	var out []string
	for _, sec := range manifest.SettingsSchema.Sections {
		for _, s := range sec.Settings {
			if s.Secret {
				out = append(out, s.Key)
			}
		}
	}
	require.NotEmpty(t, out)
	return out
}

// fullConfig sets every section of the document, so that a secret has every way in.
func fullConfig() settings.Config {
	c := settings.Default()
	c.DRTopology, c.DRPrimaryRegion, c.DRSecondaryRegion, c.DRThisRegion = "two_regions", "us-east-1", "us-west-2", "us-east-1"
	c.BackupS3Bucket, c.BackupS3Prefix, c.BackupS3Region = "dr-backups", "mm/prod", "us-east-1"
	c.BackupS3Endpoint = "https://backupuser:SECRET-endpointpw@s3.example.com:9000/?X-Amz-Signature=SECRET-sig"
	c.DRAuroraGlobalClusterID, c.DRAuroraPrimaryCluster, c.DRAuroraSecondaryCluster = "mm-global", "arn:aws:rds:us-east-1:1:cluster:a", "arn:aws:rds:us-west-2:1:cluster:b"
	c.DRAWSEndpoint = "https://u:SECRET-awsendpoint@rds.example.com"
	c.DRS3PrimaryBucket, c.DRS3SecondaryBucket = "files-east", "files-west"
	c.DRS3PrimaryEndpoint, c.DRS3SecondaryEndpoint = "https://minio:SECRET-s3a@a.example.com", "https://b.example.com/?token=SECRET-s3b"
	c.DROpenSearchPrimaryURL, c.DROpenSearchSecondaryURL = "https://admin:SECRET-osa@os-east.example.com:9200", "https://os-west.example.com:9200/?auth=SECRET-osb"
	c.DROpenSearchUsername, c.DROpenSearchLeaderAlias = "admin", "east"
	c.DRRoute53ZoneID, c.DRRoute53RecordName, c.DRRoute53PrimaryValue, c.DRRoute53SecondaryValue = "Z1", "chat.example.com", "east.example.com", "west.example.com"
	return c
}

func mattermostConfig() *model.Config {
	cfg := &model.Config{}
	cfg.SetDefaults()
	cfg.SamlSettings.Enable = model.NewPointer(true)
	cfg.SamlSettings.IdpURL = model.NewPointer("https://idp.example.com/sso?SAMLRequest=x&access_token=SECRET-samltoken")
	cfg.SamlSettings.IdpMetadataURL = model.NewPointer("https://meta:SECRET-samlmeta@idp.example.com/metadata?appid=42")
	cfg.SamlSettings.PrivateKeyFile = model.NewPointer("SECRET-samlkey")
	cfg.LdapSettings.Enable = model.NewPointer(true)
	cfg.LdapSettings.LdapServer = model.NewPointer("ldap.example.com")
	cfg.LdapSettings.BindUsername = model.NewPointer("cn=mm")
	cfg.LdapSettings.BindPassword = model.NewPointer("SECRET-ldapbind")
	cfg.GitLabSettings.Enable = model.NewPointer(true)
	cfg.GitLabSettings.Secret = model.NewPointer("SECRET-gitlab")
	cfg.GitLabSettings.AuthEndpoint = model.NewPointer("https://gitlab.example.com/oauth/authorize")
	cfg.GitLabSettings.TokenEndpoint = model.NewPointer("https://gitlab.example.com/oauth/token")
	return cfg
}

// TestNoSecretReachesTheDocument sets every secret setting of plugin.json (as a plain value and
// as a connection string holding a password), and the secrets of Mattermost's own settings the
// document draws on, and finds none of them in the stored bytes.
func TestNoSecretReachesTheDocument(t *testing.T) {
	secrets := secretSettings(t)
	for _, form := range []struct{ name, value string }{
		{"plain", "SECRET-%s-plain"},
		{"dsn", "postgres://dr:SECRET-%s-pw@db.example.com:5432/mm?sslmode=disable&sslpassword=SECRET-%s-sslpw"},
		{"kv", "host=db.example.com user=dr password='SECRET-%s-pw' dbname=mm"},
	} {
		t.Run(form.name, func(t *testing.T) {
			c := fullConfig()
			v := reflect.ValueOf(&c).Elem()
			for _, key := range secrets {
				f := v.FieldByName(key)
				require.True(t, f.IsValid(), "plugin.json's secret %s is not a settings.Config field", key)
				require.Equal(t, reflect.String, f.Kind(), key)
				f.SetString(strings.ReplaceAll(form.value, "%s", key))
			}
			k, err := format.GenerateSigningKey()
			require.NoError(t, err)
			d := Build(Sources{Config: c, ThisRegion: "us-east-1",
				PostgresPrimaryDSN:  "postgres://mmuser:SECRET-primary@pg-east.example.com:5432/mattermost?sslmode=require",
				PostgresReplicaDSNs: []string{"host=pg-replica.example.com user=mmuser password=SECRET-replica dbname=mattermost"},
				FileStorePrefix:     "files", LocalBackupFolder: "/var/backups/mm", Mattermost: mattermostConfig(), SigningKey: k.PublicKey()})
			b, err := Marshal(d)
			require.NoError(t, err)
			assert.NotContains(t, string(b), "SECRET", "a secret reached the document:\n%s", b)
			assert.NotContains(t, string(b), strings.TrimPrefix(k.String(), "DR-SIGNING-KEY-1:"), "the private signing key")
			// The document is not empty of what it is for.
			for _, want := range []string{"pg-east.example.com", "pg-replica.example.com", "os-east.example.com", "files-west", "chat.example.com",
				"mm-global", "dr-backups", "/var/backups/mm", "idp.example.com", "ldap.example.com", "gitlab.example.com", "appid=42", k.PublicKey().String()} {
				assert.Contains(t, string(b), want)
			}
			if form.name != "plain" {
				assert.Contains(t, string(b), "db.example.com", "the DR standby, without its password")
			}
		})
	}
}

func TestBuildOmitsWhatCannotBeMadeSafe(t *testing.T) {
	c := fullConfig()
	c.DRPostgresStandbyDataSource = "postgres://u:pw@db:notaport/x"
	c.DROpenSearchSecondaryURL = "://nonsense"
	d := Build(Sources{Config: c})
	assert.Nil(t, d.Database.PostgreSQL)
	assert.Equal(t, "", d.OpenSearch.SecondaryURL)
	assert.Contains(t, strings.Join(d.Omitted, "\n"), "DRPostgresStandbyDataSource: does not parse")
	assert.Contains(t, strings.Join(d.Omitted, "\n"), "DROpenSearchSecondaryURL: not a valid URL")
	assert.NotContains(t, strings.Join(d.Omitted, "\n"), "pw")
}

func TestParse(t *testing.T) {
	good, err := Marshal(Build(Sources{Config: fullConfig()}))
	require.NoError(t, err)
	d, err := Parse(good)
	require.NoError(t, err)
	assert.Equal(t, "two_regions", d.Topology)
	assert.Equal(t, 30*1e9, float64(d.Thresholds.RPOLagDuration()))
	for name, tc := range map[string]struct{ doc, want string }{
		"not json":   {`{`, "not valid JSON"},
		"other":      {`{"format":"something","version":1}`, `its format is "something"`},
		"newer":      {`{"format":"mattermost-dr-settings","version":99}`, "written by a newer plugin"},
		"no version": {`{"format":"mattermost-dr-settings"}`, "version 0"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			require.ErrorIs(t, err, ErrUnsupported)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestWriteOnlyWhenChanged(t *testing.T) {
	ctx := context.Background()
	st, err := local.New(t.TempDir())
	require.NoError(t, err)
	k, err := format.GenerateSigningKey()
	require.NoError(t, err)
	d := Build(Sources{Config: fullConfig(), SigningKey: k.PublicKey()})

	wrote, err := Write(ctx, st, d, k)
	require.NoError(t, err)
	assert.True(t, wrote)
	wrote, err = Write(ctx, st, d, k)
	require.NoError(t, err)
	assert.False(t, wrote, "the same document is not written again")

	d.Regions.This = "us-west-2"
	wrote, err = Write(ctx, st, d, k)
	require.NoError(t, err)
	assert.True(t, wrote, "a change is written")

	other, err := format.GenerateSigningKey()
	require.NoError(t, err)
	wrote, err = Write(ctx, st, d, other)
	require.NoError(t, err)
	assert.True(t, wrote, "the same bytes signed by another key are rewritten")

	l, err := Read(ctx, st)
	require.NoError(t, err)
	assert.True(t, l.Provenance.SignedBy(other.PublicKey()))
	assert.Equal(t, "us-west-2", l.Document.Regions.This)

	// A tampered document is rewritten, and until then its signature fails.
	_, err = st.Put(ctx, Key, strings.NewReader(strings.Replace(string(l.Raw), "us-west-2", "evil-1", 1)))
	require.NoError(t, err)
	l, err = Read(ctx, st)
	require.NoError(t, err)
	assert.False(t, l.Provenance.Signed())
	assert.Contains(t, l.Provenance.Problem, "bad signature")
	wrote, err = Write(ctx, st, d, other)
	require.NoError(t, err)
	assert.True(t, wrote)
}

func TestReadMissing(t *testing.T) {
	st, err := local.New(t.TempDir())
	require.NoError(t, err)
	_, err = Read(context.Background(), st)
	require.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), "--settings")
}

func TestReadFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := local.New(dir)
	require.NoError(t, err)
	k, err := format.GenerateSigningKey()
	require.NoError(t, err)
	_, err = Write(ctx, st, Build(Sources{Config: fullConfig(), SigningKey: k.PublicKey()}), k)
	require.NoError(t, err)

	// Copied with its signature under another name: still signed (the signature names Key).
	copyDir := t.TempDir()
	for _, n := range []string{Key, format.SignatureKey(Key)} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(copyDir, strings.Replace(n, "dr-settings", "prod", 1)), b, 0o600))
	}
	l, err := ReadFile(filepath.Join(copyDir, "prod.json"))
	require.NoError(t, err)
	assert.True(t, l.Provenance.SignedBy(k.PublicKey()))

	require.NoError(t, os.Remove(filepath.Join(copyDir, "prod.json.sig")))
	l, err = ReadFile(filepath.Join(copyDir, "prod.json"))
	require.NoError(t, err)
	assert.False(t, l.Provenance.Signed())
	assert.Contains(t, l.Provenance.Problem, "not signed")

	_, err = ReadFile(filepath.Join(copyDir, "absent.json"))
	require.Error(t, err)
}
