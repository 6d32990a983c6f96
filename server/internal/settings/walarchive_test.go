package settings

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestWALArchiveSettings(t *testing.T) {
	tests := []struct {
		name     string
		set      func(*Config)
		settings []string
		contains string
	}{
		{"off by default", func(*Config) {}, nil, ""},
		{"on with defaults", func(c *Config) { c.WALArchiveEnabled = true }, nil, ""},
		{"replication URL", func(c *Config) { c.WALArchiveDataSource = "postgres://arch:pw@db/mm" }, nil, ""},
		{"key=value DSN", func(c *Config) { c.WALArchiveDataSource = "host=db user=arch password=pw" }, []string{"WALArchiveDataSource"}, "postgres://"},
		{"delay too long", func(c *Config) { c.WALArchiveMaxDelaySeconds = 7200 }, []string{"WALArchiveMaxDelaySeconds"}, "1 to 3600"},
		{"negative base backups kept", func(c *Config) { c.WALBaseBackupKeep = -1 }, []string{"WALBaseBackupKeep"}, "default 2"},
		{"negative warning", func(c *Config) { c.WALArchiveSlotWarnGB = -1 }, []string{"WALArchiveSlotWarnGB"}, "0"},
		{"base schedule", func(c *Config) { c.WALArchiveEnabled, c.WALBaseBackupSchedule = true, "0 3 * * 0" }, nil, ""},
		{"bad base schedule", func(c *Config) { c.WALArchiveEnabled, c.WALBaseBackupSchedule = true, "weekly" }, []string{"WALBaseBackupSchedule"}, "not a cron expression"},
		{"base schedule without archiving", func(c *Config) { c.WALBaseBackupSchedule = "@weekly" }, []string{"WALBaseBackupSchedule"}, "turn on WALArchiveEnabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.set(&c)
			ps := c.Normalize().Validate()
			var got []string
			for _, p := range ps {
				got = append(got, p.Setting)
				assert.NotContains(t, p.Message, "pw", "a problem never quotes the password")
				if tt.contains != "" {
					assert.Contains(t, p.Message, tt.contains)
				}
			}
			assert.Equal(t, tt.settings, got)
		})
	}
}

func TestWALArchiveDefaults(t *testing.T) {
	c := Config{}
	assert.Equal(t, 10*time.Second, c.WALArchiveMaxDelay())
	assert.Equal(t, int64(8)<<30, c.WALArchiveSlotWarnBytes())
	c.WALArchiveMaxDelaySeconds, c.WALArchiveSlotWarnGB = 3, 2
	assert.Equal(t, 3*time.Second, c.WALArchiveMaxDelay())
	assert.Equal(t, int64(2)<<30, c.WALArchiveSlotWarnBytes())
	d := Default()
	assert.False(t, d.WALArchiveEnabled, "archiving is off until an admin sets it up")
	assert.Equal(t, 10, d.WALArchiveMaxDelaySeconds)
	assert.Equal(t, 2, d.WALBaseBackupKeep)
	assert.Equal(t, 2, c.BaseBackupKeep(), "0: the default")
	c.WALBaseBackupKeep = 5
	assert.Equal(t, 5, c.BaseBackupKeep())
}
