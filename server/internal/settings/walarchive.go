package settings

import (
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Defaults of the WAL archiving settings when left at 0.
const (
	DefaultWALArchiveMaxDelay    = 10 * time.Second
	DefaultWALArchiveSlotWarnGB  = 8
	DefaultWALBaseBackupKeep     = 2
	maxWALArchiveMaxDelaySeconds = 3600
	// DefaultFileCaptureIntervalSeconds is how often at most uploads are captured by default.
	DefaultFileCaptureIntervalSeconds = 60
	maxFileCaptureIntervalSeconds     = 3600
)

// WALArchiveMaxDelay is how often the WAL segment being written is stored (default 10 s).
func (c Config) WALArchiveMaxDelay() time.Duration {
	if c.WALArchiveMaxDelaySeconds <= 0 {
		return DefaultWALArchiveMaxDelay
	}
	return time.Duration(c.WALArchiveMaxDelaySeconds) * time.Second
}

// WALArchiveSlotWarnBytes is how much WAL the primary may hold for the archive's slot before
// the status warns (default 8 GB).
func (c Config) WALArchiveSlotWarnBytes() int64 {
	gb := c.WALArchiveSlotWarnGB
	if gb <= 0 {
		gb = DefaultWALArchiveSlotWarnGB
	}
	return int64(gb) << 30
}

// BaseBackupKeep is how many base backups retention keeps, the newest ones (default 2): with
// 2, a point-in-time restore reaches back to the start of the older one, and a damaged newest
// one still leaves one to start from.
func (c Config) BaseBackupKeep() int {
	if c.WALBaseBackupKeep <= 0 {
		return DefaultWALBaseBackupKeep
	}
	return c.WALBaseBackupKeep
}

// BaseSchedule returns the parsed base backup schedule (in BackupTimeZone), or nil when off.
func (c Config) BaseSchedule() (cron.Schedule, *time.Location, error) {
	return Config{BackupSchedule: c.WALBaseBackupSchedule, BackupTimeZone: c.BackupTimeZone}.Schedule()
}

// FileCaptureInterval is how often at most the files uploaded since the last capture are
// captured while WAL archiving runs; 0: never.
func (c Config) FileCaptureInterval() time.Duration {
	if !c.WALArchiveEnabled || c.FileCaptureIntervalSeconds <= 0 {
		return 0
	}
	return time.Duration(c.FileCaptureIntervalSeconds) * time.Second
}

func (c Config) validateWALArchive() Problems {
	var ps Problems
	if c.FileCaptureIntervalSeconds < 0 || c.FileCaptureIntervalSeconds > maxFileCaptureIntervalSeconds {
		ps = append(ps, Problem{"FileCaptureIntervalSeconds", "use 1 to 3600 seconds, or 0 to capture no uploads between backups"})
	}
	if ds := strings.TrimSpace(c.WALArchiveDataSource); ds != "" && !strings.HasPrefix(ds, "postgres://") && !strings.HasPrefix(ds, "postgresql://") {
		ps = append(ps, Problem{"WALArchiveDataSource", "use a PostgreSQL URL starting with postgres:// of a role with REPLICATION on the primary, or leave it empty to use the server's own database connection"})
	}
	if c.WALArchiveMaxDelaySeconds < 0 || c.WALArchiveMaxDelaySeconds > maxWALArchiveMaxDelaySeconds {
		ps = append(ps, Problem{"WALArchiveMaxDelaySeconds", "use 1 to 3600 seconds, or 0 for the default (10)"})
	}
	if c.WALArchiveSlotWarnGB < 0 {
		ps = append(ps, Problem{"WALArchiveSlotWarnGB", "must be 0 (default 8) or more"})
	}
	if c.WALBaseBackupKeep < 0 {
		ps = append(ps, Problem{"WALBaseBackupKeep", "must be 0 (default 2) or more; the newest base backup is always kept"})
	}
	if _, _, err := c.BaseSchedule(); err != nil && !strings.HasPrefix(err.Error(), "unknown time zone") {
		ps = append(ps, Problem{"WALBaseBackupSchedule", err.Error()})
	}
	if strings.TrimSpace(c.WALBaseBackupSchedule) != "" && !c.WALArchiveEnabled {
		ps = append(ps, Problem{"WALBaseBackupSchedule", "a base backup holds no WAL and restores nothing without the WAL archive: turn on WALArchiveEnabled, or clear the schedule"})
	}
	return ps
}
