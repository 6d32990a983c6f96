package settings

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/robfig/cron/v3"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/duration"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/s3"
)

// Backup settings live in Config (plugin.json's settings_schema is flat); these helpers read
// and check them.

// Components a backup can hold.
var Components = []string{"database", "config", "files"}

// cronParser accepts the five standard fields and the @daily-style descriptors.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule returns the parsed schedule in its time zone, or nil when scheduling is off.
func (c Config) Schedule() (cron.Schedule, *time.Location, error) {
	expr := strings.TrimSpace(c.BackupSchedule)
	if expr == "" {
		return nil, nil, nil
	}
	loc, err := time.LoadLocation(nonEmpty(strings.TrimSpace(c.BackupTimeZone), "UTC"))
	if err != nil {
		return nil, nil, fmt.Errorf("unknown time zone %q: use an IANA name such as UTC, Europe/Berlin or America/New_York", c.BackupTimeZone)
	}
	sched, err := cronParser.Parse(expr)
	if err != nil {
		return nil, nil, fmt.Errorf("%q is not a cron expression (%w): use five fields, minute hour day month weekday, e.g. `30 2 * * *` for 02:30 every day, or @daily", expr, err)
	}
	return sched, loc, nil
}

// VerifySchedule returns the parsed verification schedule (in BackupTimeZone), or nil when off.
func (c Config) VerifySchedule() (cron.Schedule, *time.Location, error) {
	return Config{BackupSchedule: c.BackupVerifySchedule, BackupTimeZone: c.BackupTimeZone}.Schedule()
}

// BackupComponentList returns the chosen components, in the standard order.
func (c Config) BackupComponentList() ([]string, error) {
	return ParseComponents(c.BackupComponents)
}

// ParseComponents reads a comma-separated list such as "database,config"; empty means all.
// "db" is accepted for database.
func ParseComponents(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return append([]string(nil), Components...), nil
	}
	want := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		p := strings.ToLower(strings.TrimSpace(part))
		if p == "db" {
			p = "database"
		}
		if p == "" {
			continue
		}
		known := false
		for _, c := range Components {
			known = known || c == p
		}
		if !known {
			return nil, fmt.Errorf("unknown component %q: use database (or db), config and files, separated by commas", part)
		}
		want[p] = true
	}
	var out []string
	for _, c := range Components {
		if want[c] {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no component chosen: use database, config and/or files")
	}
	return out, nil
}

// S3 returns the S3 destination settings, or ok=false when no bucket is set.
func (c Config) S3() (cfg s3.Config, ok bool) {
	if strings.TrimSpace(c.BackupS3Bucket) == "" {
		return s3.Config{}, false
	}
	return s3.Config{
		Bucket: strings.TrimSpace(c.BackupS3Bucket), Prefix: strings.TrimSpace(c.BackupS3Prefix),
		Region: strings.TrimSpace(c.BackupS3Region), Endpoint: strings.TrimSpace(c.BackupS3Endpoint),
		PathStyle: c.BackupS3PathStyle, AccessKeyID: strings.TrimSpace(c.BackupS3AccessKeyID),
		SecretAccessKey: c.BackupS3SecretAccessKey, StorageClass: strings.TrimSpace(c.BackupS3StorageClass),
		SSE: strings.TrimSpace(c.BackupS3SSE), SSEKMSKeyID: strings.TrimSpace(c.BackupS3KMSKeyID),
	}, true
}

// AgeRecipients parses the encryption recipients (public keys, one per line or comma
// separated; # starts a comment). Empty means backups are not encrypted.
func (c Config) AgeRecipients() ([]string, error) {
	var out []string
	for i, line := range strings.FieldsFunc(c.BackupAgeRecipients, func(r rune) bool { return r == '\n' || r == ',' }) {
		line = strings.TrimSpace(line)
		if j := strings.Index(line, "#"); j >= 0 {
			line = strings.TrimSpace(line[:j])
		}
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "AGE-SECRET-KEY-") {
			return nil, fmt.Errorf("recipient %d is a private key (AGE-SECRET-KEY-…): put only public keys (age1…) here; keep the identity off the server", i+1)
		}
		if _, err := age.ParseX25519Recipient(line); err != nil {
			return nil, fmt.Errorf("recipient %d (%q) is not an age public key: paste the age1… line printed by age-keygen", i+1, abbreviate(line))
		}
		out = append(out, line)
	}
	return out, nil
}

// StaleAfter is how old the newest successful backup may get before the bot alerts; 0 = never.
func (c Config) StaleAfter() time.Duration {
	d, err := duration.Parse(c.BackupStaleAfter)
	if err != nil {
		return 0
	}
	return d
}

func (c Config) validateBackup() Problems {
	var ps Problems
	if _, _, err := c.Schedule(); err != nil {
		setting := "BackupSchedule"
		if strings.HasPrefix(err.Error(), "unknown time zone") {
			setting = "BackupTimeZone"
		}
		ps = append(ps, Problem{setting, err.Error()})
	}
	if _, _, err := c.VerifySchedule(); err != nil && !strings.HasPrefix(err.Error(), "unknown time zone") {
		ps = append(ps, Problem{"BackupVerifySchedule", err.Error()})
	}
	if ds := strings.TrimSpace(c.BackupDrillDatabaseURL); ds != "" && !strings.HasPrefix(ds, "postgres://") && !strings.HasPrefix(ds, "postgresql://") {
		ps = append(ps, Problem{"BackupDrillDatabaseURL", "use a PostgreSQL URL starting with postgres:// whose user may create databases, or leave it empty to drill on the Mattermost database server"})
	}
	if f := strings.TrimSpace(c.BackupAgeIdentityFile); strings.Contains(f, "AGE-SECRET-KEY-") {
		ps = append(ps, Problem{"BackupAgeIdentityFile", "an age identity (private key) must never be stored in the plugin settings: put it in a file on the app node and give its path"})
	} else if f != "" && !strings.HasPrefix(f, "/") {
		ps = append(ps, Problem{"BackupAgeIdentityFile", "use an absolute path, such as /etc/mattermost/dr-age-identity.txt"})
	}
	if ds := strings.TrimSpace(c.BackupDataSource); ds != "" && !strings.HasPrefix(ds, "postgres://") && !strings.HasPrefix(ds, "postgresql://") {
		ps = append(ps, Problem{"BackupDataSource", "use a PostgreSQL URL starting with postgres://, or leave it empty to dump the server's own database"})
	}
	if tz := strings.TrimSpace(c.BackupTimeZone); tz != "" {
		if _, err := time.LoadLocation(tz); err != nil && strings.TrimSpace(c.BackupSchedule) == "" {
			ps = append(ps, Problem{"BackupTimeZone", fmt.Sprintf("unknown time zone %q: use an IANA name such as UTC, Europe/Berlin or America/New_York", tz)})
		}
	}
	if _, err := c.BackupComponentList(); err != nil {
		ps = append(ps, Problem{"BackupComponents", err.Error()})
	}
	if d := strings.TrimSpace(c.BackupLocalDirectory); d != "" && !strings.HasPrefix(d, "/") && !strings.HasPrefix(d, "./") {
		ps = append(ps, Problem{"BackupLocalDirectory", fmt.Sprintf("%q: use an absolute path (/var/backups/mattermost) or one relative to the Mattermost folder starting with ./", d)})
	}
	if s3cfg, ok := c.S3(); ok {
		var joined interface{ Unwrap() []error }
		if err := s3cfg.Validate(); err != nil {
			if errors.As(err, &joined) {
				for _, e := range joined.Unwrap() {
					var ce *s3.ConfigError
					if errors.As(e, &ce) {
						ps = append(ps, Problem{"BackupS3" + ce.Setting, ce.Problem})
					} else {
						ps = append(ps, Problem{"BackupS3", e.Error()})
					}
				}
			} else {
				ps = append(ps, Problem{"BackupS3", err.Error()})
			}
		}
	} else if strings.TrimSpace(c.BackupS3AccessKeyID+c.BackupS3Endpoint+c.BackupS3Prefix) != "" {
		ps = append(ps, Problem{"BackupS3Bucket", "S3 settings are filled in but the bucket is empty: set the bucket, or clear the other S3 settings"})
	}
	if _, err := c.AgeRecipients(); err != nil {
		ps = append(ps, Problem{"BackupAgeRecipients", err.Error()})
	}
	if c.BackupCompressionLevel < 0 || c.BackupCompressionLevel > 4 {
		ps = append(ps, Problem{"BackupCompressionLevel", "use 1 (fastest) to 4 (smallest), or 0 for the default (1)"})
	}
	for name, v := range map[string]int{"BackupKeepLast": c.BackupKeepLast, "BackupKeepDaily": c.BackupKeepDaily, "BackupKeepWeekly": c.BackupKeepWeekly, "BackupKeepMonthly": c.BackupKeepMonthly} {
		if v < 0 {
			ps = append(ps, Problem{name, "must be 0 or more"})
		}
	}
	if s := strings.TrimSpace(c.BackupStaleAfter); s != "" && s != "0" {
		if _, err := duration.Parse(s); err != nil {
			ps = append(ps, Problem{"BackupStaleAfter", err.Error() + "; or 0 to never alert"})
		}
	}
	return ps
}

func nonEmpty(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

func abbreviate(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}
