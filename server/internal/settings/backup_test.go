package settings

import (
	"testing"
	"time"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBackupSettingsValidation(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	pub := id.Recipient().String()
	tests := []struct {
		name   string
		change func(c *Config)
		want   []string // settings reported
		msg    string   // part of the first message
	}{
		{"defaults", func(*Config) {}, nil, ""},
		{"daily at 02:30 Berlin", func(c *Config) { c.BackupSchedule, c.BackupTimeZone = "30 2 * * *", "Europe/Berlin" }, nil, ""},
		{"descriptor", func(c *Config) { c.BackupSchedule = "@daily" }, nil, ""},
		{"invalid cron", func(c *Config) { c.BackupSchedule = "every night" }, []string{"BackupSchedule"}, "not a cron expression"},
		{"six fields", func(c *Config) { c.BackupSchedule = "0 30 2 * * *" }, []string{"BackupSchedule"}, "five fields"},
		{"bad time zone", func(c *Config) { c.BackupSchedule, c.BackupTimeZone = "@daily", "Mars/Olympus" }, []string{"BackupTimeZone"}, "IANA"},
		{"unknown component", func(c *Config) { c.BackupComponents = "db,logs" }, []string{"BackupComponents"}, `"logs"`},
		{"relative dir", func(c *Config) { c.BackupLocalDirectory = "backups" }, []string{"BackupLocalDirectory"}, "absolute path"},
		{"bad bucket name", func(c *Config) { c.BackupS3Bucket = "My_Bucket" }, []string{"BackupS3Bucket"}, ""},
		{"s3 without bucket", func(c *Config) { c.BackupS3Endpoint = "http://minio:9000" }, []string{"BackupS3Bucket"}, "bucket is empty"},
		{"good s3", func(c *Config) {
			c.BackupS3Bucket, c.BackupS3Endpoint, c.BackupS3PathStyle = "mm-backups", "http://127.0.0.1:9000", true
		}, nil, ""},
		{"recipient", func(c *Config) { c.BackupAgeRecipients = pub + " # ops laptop\n" }, nil, ""},
		{"garbage recipient", func(c *Config) { c.BackupAgeRecipients = "age1notakey" }, []string{"BackupAgeRecipients"}, "not an age public key"},
		{"private key pasted", func(c *Config) { c.BackupAgeRecipients = id.String() }, []string{"BackupAgeRecipients"}, "private key"},
		{"compression", func(c *Config) { c.BackupCompressionLevel = 9 }, []string{"BackupCompressionLevel"}, ""},
		{"negative keep", func(c *Config) { c.BackupKeepDaily = -1 }, []string{"BackupKeepDaily"}, ""},
		{"stale", func(c *Config) { c.BackupStaleAfter = "a while" }, []string{"BackupStaleAfter"}, ""},
		{"weekly verify", func(c *Config) { c.BackupVerifySchedule = "0 4 * * 0" }, nil, ""},
		{"invalid verify cron", func(c *Config) { c.BackupVerifySchedule = "weekly-ish" }, []string{"BackupVerifySchedule"}, "not a cron expression"},
		{"drill url", func(c *Config) { c.BackupDrillDatabaseURL = "host=db user=drill" }, []string{"BackupDrillDatabaseURL"}, "postgres://"},
		{"identity file relative", func(c *Config) { c.BackupAgeIdentityFile = "key.txt" }, []string{"BackupAgeIdentityFile"}, "absolute path"},
		{"identity pasted into the file setting", func(c *Config) { c.BackupAgeIdentityFile = id.String() }, []string{"BackupAgeIdentityFile"}, "never be stored"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.change(&c)
			ps := c.Validate()
			var got []string
			for _, p := range ps {
				got = append(got, p.Setting)
			}
			assert.Equal(t, tt.want, got, ps.ErrorOrEmpty())
			if tt.msg != "" && len(ps) > 0 {
				assert.Contains(t, ps[0].Message, tt.msg)
			}
			assert.NotContains(t, ps.ErrorOrEmpty(), id.String(), "a pasted private key is never echoed")
		})
	}
}

func TestBackupHelpers(t *testing.T) {
	c := Default()
	s, loc, err := c.Schedule()
	require.NoError(t, err)
	assert.Nil(t, s, "no schedule by default")
	assert.Nil(t, loc)
	c.BackupSchedule, c.BackupTimeZone = "30 2 * * *", "Europe/Berlin"
	s, loc, err = c.Schedule()
	require.NoError(t, err)
	from := time.Date(2026, 11, 26, 12, 0, 0, 0, loc)
	assert.Equal(t, time.Date(2026, 11, 27, 2, 30, 0, 0, loc), s.Next(from))

	comps, err := ParseComponents("DB, files")
	require.NoError(t, err)
	assert.Equal(t, []string{"database", "files"}, comps)
	comps, err = ParseComponents("")
	require.NoError(t, err)
	assert.Equal(t, Components, comps)
	assert.Equal(t, 26*time.Hour, c.StaleAfter())

	_, ok := c.S3()
	assert.False(t, ok)
}
