package plugin

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/walarchive"
)

// The archiving loop restarts for the settings it runs with, and only for those: a change of
// the ops channel must not stop pg_receivewal.
func TestWALArchiveKey(t *testing.T) {
	p := &Plugin{}
	cfg := settings.Default()
	cfg.WALArchiveDataSource = "postgres://arch:pw@db/mm"
	assert.Empty(t, p.walArchiveKey(cfg), "off: nothing runs")
	cfg.WALArchiveEnabled = true
	on := p.walArchiveKey(cfg)
	assert.NotEmpty(t, on)

	other := cfg
	other.OpsChannelName, other.BackupSchedule, other.WALBaseBackupSchedule = "elsewhere", "@daily", "@weekly"
	assert.Equal(t, on, p.walArchiveKey(other), "settings the archiver does not use")
	for name, change := range map[string]func(*settings.Config){
		"max delay":   func(c *settings.Config) { c.WALArchiveMaxDelaySeconds = 3 },
		"connection":  func(c *settings.Config) { c.WALArchiveDataSource = "postgres://arch2:pw@db/mm" },
		"destination": func(c *settings.Config) { c.BackupLocalDirectory = "/var/backups/mm" },
		"s3 key":      func(c *settings.Config) { c.BackupS3SecretAccessKey = "new" },
		"recipients":  func(c *settings.Config) { c.BackupAgeRecipients = "age1…" },
		"pg_dump":     func(c *settings.Config) { c.BackupPgDumpPath = "/usr/lib/postgresql/17/bin" },
	} {
		c := cfg
		change(&c)
		assert.NotEqual(t, on, p.walArchiveKey(c), name)
	}
}

// A pg_receivewal that stops because the server refuses it is reported as what to change;
// any other failure stays an error.
func TestWALState(t *testing.T) {
	dsn := "postgres://mm:Sup3r-secret@db.internal:5432/mattermost"
	st := walState(walarchive.Status{LastError: `pg_receivewal stopped (exit status 1): pg_receivewal: error: connection to server at "10.0.0.5", port 5432 failed: FATAL:  no pg_hba.conf entry for replication connection from host "10.0.0.9", user "mm", no encryption`,
		Restarts: 3}, dsn)
	assert.Contains(t, st.Setup, "`host replication mm 10.0.0.9/32 scram-sha-256`")
	assert.Equal(t, 3, st.Restarts)

	now := time.Now()
	st = walState(walarchive.Status{Running: true, CaughtUp: now, LastFile: "wal/00000001/x.zst", LastError: "store x at s3: access denied"}, dsn)
	assert.Empty(t, st.Setup, "running: a failed pass is not a set-up problem")
	assert.True(t, st.Running)
	assert.Equal(t, now, st.CaughtUp)

	st = walState(walarchive.Status{LastError: "pg_receivewal stopped (exit status 1): could not connect: connection refused"}, dsn)
	assert.Empty(t, st.Setup)
	assert.Contains(t, st.LastError, "connection refused")
}

func TestBaseOnly(t *testing.T) {
	assert.True(t, baseBackupRequest("u", "admin", "c").baseOnly())
	assert.False(t, backupRequest{Components: []string{"database", "config", "files"}}.baseOnly())
	_, err := settings.ParseComponents("base")
	assert.Error(t, err, "--only and BackupComponents never pick the base backup")
}

func TestWALSettingsProblem(t *testing.T) {
	assert.Empty(t, walSettingsProblem(settings.Problems{{Setting: "OpsTeamName", Message: "bad"}, {Setting: "BackupSchedule", Message: "bad"}}),
		"settings archiving does not use never stop it")
	got := walSettingsProblem(settings.Problems{{Setting: "WALArchiveDataSource", Message: "use a PostgreSQL URL"}, {Setting: "BackupS3Region", Message: "missing"}})
	assert.Equal(t, "fix the settings first: WALArchiveDataSource: use a PostgreSQL URL; BackupS3Region: missing", got)
}
