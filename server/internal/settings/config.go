// Package settings holds the plugin's settings as the System Console saves them (plugin.json
// settings_schema) and checks them. Checks here are about the values themselves; checks that
// need the server (does the team exist?) belong to the services that use the setting.
package settings

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/duration"
)

// Config mirrors plugin.json's settings_schema. Field names are the setting keys.
type Config struct {
	OpsTeamName      string
	OpsChannelName   string
	CreateOpsChannel bool
	AlertMentionHere bool // critical posts in the ops channel start with @here

	SSOFallbackDefaultExpiry string // duration; "" or "0" = no expiry
	AutoRestoreOnExpiry      bool

	BackupSchedule          string // cron; empty = no scheduled backups
	BackupTimeZone          string
	BackupComponents        string // comma-separated; empty = all
	BackupDataSource        string // optional: dump from this database (a replica) instead
	BackupPgDumpPath        string // optional: explicit pg_dump
	BackupLocalDirectory    string // empty = ./dr-backups beside the server's data folder
	BackupS3Bucket          string
	BackupS3Prefix          string
	BackupS3Region          string
	BackupS3Endpoint        string
	BackupS3PathStyle       bool
	BackupS3AccessKeyID     string
	BackupS3SecretAccessKey string
	BackupS3StorageClass    string
	BackupS3SSE             string
	BackupS3KMSKeyID        string
	BackupAgeRecipients     string
	BackupCompressionLevel  int
	BackupKeepLast          int
	BackupKeepDaily         int
	BackupKeepWeekly        int
	BackupKeepMonthly       int
	BackupStaleAfter        string
	BackupVerifySchedule    string // cron for verifying the latest backup; empty = off
	BackupVerifyDrill       bool   // scheduled verifications also restore into a scratch database
	BackupDrillDatabaseURL  string // where drills may create and drop databases; empty = Mattermost's server
	BackupAgeIdentityFile   string // path on the app node of the age identity that verify decrypts with

	// Continuous WAL archiving and base backups (server/plugin walarchive.go).
	WALArchiveEnabled         bool   // run pg_receivewal on one node and store the WAL at the destinations
	WALArchiveMaxDelaySeconds int    // how often the segment being written is stored: the recovery point (0 = 10)
	WALArchiveDataSource      string // a role with REPLICATION on the primary; empty = SqlSettings.DataSource
	WALArchiveSlotWarnGB      int    // WAL the primary holds for the slot above which status warns (0 = 8)
	WALBaseBackupSchedule     string // cron for base backups (BackupTimeZone); empty = none
	WALBaseBackupKeep         int    // base backups retention keeps, the newest ones (0 = 2)
	// FileCaptureIntervalSeconds: with WAL archiving, how often at most the archiving node
	// captures newly uploaded files into the pool (0 = off; see plugin/capture.go).
	FileCaptureIntervalSeconds int

	// Regions and database, S3 and OpenSearch replication, DNS and failover, status alerts
	// (sections of the System Console; the keys are what saved configs use).
	DRTopology             string // "single" or "two_regions"
	DRPrimaryRegion        string // the region that normally serves (e.g. us-east-1)
	DRSecondaryRegion      string // the standby region
	DRThisRegion           string // this cluster's region; DR_REGION on a node wins
	DRSchedulerInSecondary bool   // the secondary region's nodes run the job scheduler too (unusual)
	DRMetricsToken         string // bearer token a Prometheus scraper may use on /api/v1/metrics
	DRStatusAlerts         bool   // post verdict changes to the ops channel
	DRStatusAlertAfter     string // a change is posted once it held this long (and two checks); "0": at once
	DRRPOLagThreshold      string // duration: database lag above this is degraded

	DRPostgresStandbyDataSource string // self-hosted: the DR standby (promoted on failover)
	DRAuroraGlobalClusterID     string // AWS: the Aurora global database
	DRAuroraPrimaryCluster      string // its DB cluster in the primary region (identifier or ARN)
	DRAuroraSecondaryCluster    string // and in the standby region
	DRAWSAccessKeyID            string // empty: the default AWS credential chain
	DRAWSSecretAccessKey        string
	DRAWSEndpoint               string // replaces the AWS API endpoints (VPC endpoints, tests)
	DRS3PrimaryBucket           string // the file store bucket in the primary region
	DRS3SecondaryBucket         string // its replica in the standby region
	DRS3PrimaryEndpoint         string // S3-compatible stores (MinIO); empty for AWS
	DRS3SecondaryEndpoint       string
	DRS3PathStyle               bool
	DRS3AccessKeyID             string // empty: DRAWSAccessKeyID, else the default chain
	DRS3SecretAccessKey         string
	DRS3PendingThreshold        int    // PENDING objects among the newest sampled: this many or more is degraded (0 = 10)
	DRS3FailedThreshold         int    // FAILED objects: this many or more is critical (0 = 1)
	DROpenSearchPrimaryURL      string // the leader cluster
	DROpenSearchSecondaryURL    string // the follower cluster
	DROpenSearchUsername        string
	DROpenSearchPassword        string
	DROpenSearchLeaderAlias     string
	DROpenSearchIndices         string // comma-separated, default channels,users,files
	DROpenSearchLagThreshold    int    // operations; 0 = 1000

	// Guided failover (server/internal/failover).
	DROpenSearchReverseLeaderAlias string // the primary cluster's name for its connection to the standby cluster (followed after a failover)
	DROpenSearchRoles              string // "leader_cluster_role,follower_cluster_role" for use_roles; empty: none (no security plugin)
	DRRoute53ZoneID                string // hosted zone of the record users resolve; empty: DNS is changed by hand
	DRRoute53RecordName            string
	DRRoute53RecordType            string // A, AAAA or CNAME
	DRRoute53RecordTTL             int    // seconds; 0 = 60
	DRRoute53PrimaryValue          string // the record's value(s) when the primary region serves, comma-separated
	DRRoute53SecondaryValue        string // and when the standby region serves
	DRFailoverAnnounceAll          bool   // also announce failovers in every team's Town Square
	DRFailoverPollInterval         string // how often the runbook polls while it waits; default 5s

	// Alerts that do not depend on Mattermost (alerting.go).
	AlertWebhookTargets          string // one target per line: generic <url>, pagerduty <routing key> [<url>], slack <url>
	AlertHeartbeatURL            string // pinged on every status check (a dead man's switch)
	AlertHeartbeatReportCritical bool   // ping <url>/fail while the status alert says critical
}

// Default is what a fresh install runs with before an admin saves anything.
func Default() Config {
	return Config{OpsChannelName: "dr-ops", CreateOpsChannel: true, AlertMentionHere: true, SSOFallbackDefaultExpiry: "24h",
		BackupTimeZone: "UTC", BackupComponents: "database,config,files", BackupCompressionLevel: 1,
		BackupKeepLast: 7, BackupKeepDaily: 7, BackupKeepWeekly: 4, BackupKeepMonthly: 6, BackupStaleAfter: "26h",
		BackupVerifyDrill: true, DRTopology: "single", DRStatusAlerts: true, DRStatusAlertAfter: "2m", DRRPOLagThreshold: "30s",
		DROpenSearchIndices: "channels,users,files", DROpenSearchLagThreshold: 1000, DRS3PendingThreshold: 10, DRS3FailedThreshold: 1,
		DRRoute53RecordType: "CNAME", DRRoute53RecordTTL: 60, DRFailoverPollInterval: "5s",
		WALArchiveMaxDelaySeconds: 10, WALArchiveSlotWarnGB: 8, WALBaseBackupKeep: DefaultWALBaseBackupKeep,
		FileCaptureIntervalSeconds: DefaultFileCaptureIntervalSeconds}
}

// Problem is one wrong setting: which one, and what to do about it.
type Problem struct {
	Setting string `json:"setting"`
	Message string `json:"message"`
}

func (p Problem) String() string { return p.Setting + ": " + p.Message }

// Problems is the list of everything wrong with a configuration; empty means valid.
type Problems []Problem

func (ps Problems) Error() string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return "invalid settings: " + strings.Join(parts, "; ")
}

// ErrorOrEmpty is Error() for a non-empty list and "" otherwise.
func (ps Problems) ErrorOrEmpty() string {
	if len(ps) == 0 {
		return ""
	}
	return ps.Error()
}

// Normalize trims what admins paste with stray spaces and lower-cases URL names, so that
// " Ops " and "ops" mean the same team.
func (c Config) Normalize() Config {
	c.OpsTeamName = strings.ToLower(strings.TrimSpace(c.OpsTeamName))
	c.OpsChannelName = strings.ToLower(strings.TrimSpace(c.OpsChannelName))
	if c.OpsChannelName == "" {
		c.OpsChannelName = Default().OpsChannelName
	}
	return c
}

// Mattermost URL names: 2-64 characters of a-z, 0-9, '-' and '_' (teams also allow no '_',
// but the server rejects those itself with its own message).
var urlName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{1,63}$`)

// Validate returns every problem found, in settings order. It never fails fast: an admin
// fixing settings wants the whole list at once.
func (c Config) Validate() Problems {
	var ps Problems
	if c.OpsTeamName != "" && !urlName.MatchString(c.OpsTeamName) {
		ps = append(ps, Problem{"OpsTeamName", fmt.Sprintf("%q is not a team URL name: use the name from the team's URL (2-64 lower-case letters, digits, '-' or '_'), not its display name", c.OpsTeamName)})
	}
	if !urlName.MatchString(c.OpsChannelName) {
		ps = append(ps, Problem{"OpsChannelName", fmt.Sprintf("%q is not a channel URL name: use 2-64 lower-case letters, digits, '-' or '_', e.g. dr-ops", c.OpsChannelName)})
	}
	ps = append(ps, c.validateBackup()...)
	ps = append(ps, c.validateWALArchive()...)
	ps = append(ps, c.validateStatus()...)
	ps = append(ps, c.validateAlerting()...)
	if c.SSOFallbackDefaultExpiry != "" && c.SSOFallbackDefaultExpiry != "0" {
		if _, err := duration.Parse(c.SSOFallbackDefaultExpiry); err != nil {
			ps = append(ps, Problem{"SSOFallbackDefaultExpiry", err.Error() + "; or 0 for no expiry"})
		}
	}
	return ps
}

// SSOFallbackExpiry is how long a fallback lasts when the command does not say; 0 = no expiry.
func (c Config) SSOFallbackExpiry() time.Duration {
	d, err := duration.Parse(c.SSOFallbackDefaultExpiry)
	if err != nil {
		return 0
	}
	return d
}

// Changed lists the settings whose values differ between c and other, by key name only, so
// that a record of the change never holds a secret.
func (c Config) Changed(other Config) []string {
	a, b := reflect.ValueOf(c), reflect.ValueOf(other)
	var out []string
	for i := 0; i < a.NumField(); i++ {
		if !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			out = append(out, a.Type().Field(i).Name)
		}
	}
	return out
}

// RPOLagThreshold is DRRPOLagThreshold (default 30s).
func (c Config) RPOLagThreshold() time.Duration {
	if d, err := duration.Parse(strings.TrimSpace(c.DRRPOLagThreshold)); err == nil && d > 0 {
		return d
	}
	return 30 * time.Second
}

func (c Config) validateStatus() Problems {
	var ps Problems
	switch c.DRTopology {
	case "", "single":
	case "two_regions":
		if strings.TrimSpace(c.DRPrimaryRegion) == "" || strings.TrimSpace(c.DRSecondaryRegion) == "" {
			ps = append(ps, Problem{"DRPrimaryRegion", "a two-region topology needs both region names (such as us-east-1 and us-west-2)"})
		} else if strings.EqualFold(c.DRPrimaryRegion, c.DRSecondaryRegion) {
			ps = append(ps, Problem{"DRSecondaryRegion", "the secondary region must differ from the primary region"})
		}
	default:
		ps = append(ps, Problem{"DRTopology", fmt.Sprintf("%q: use single or two_regions", c.DRTopology)})
	}
	if s := strings.TrimSpace(c.DRRPOLagThreshold); s != "" {
		if d, err := duration.Parse(s); err != nil || d <= 0 {
			ps = append(ps, Problem{"DRRPOLagThreshold", "use a duration such as 30s or 5m"})
		}
	}
	if c.DRAuroraGlobalClusterID != "" && (strings.TrimSpace(c.DRAuroraPrimaryCluster) == "" || strings.TrimSpace(c.DRPrimaryRegion) == "") {
		ps = append(ps, Problem{"DRAuroraPrimaryCluster", "the Aurora check needs the primary region and its DB cluster identifier"})
	}
	if (c.DRAWSAccessKeyID == "") != (c.DRAWSSecretAccessKey == "") {
		ps = append(ps, Problem{"DRAWSAccessKeyID", "give both the access key ID and the secret access key, or neither to use the default AWS credential chain"})
	}
	ps = append(ps, c.validateURLs()...)
	if (c.DRS3PrimaryBucket == "") != (c.DRS3SecondaryBucket == "") {
		ps = append(ps, Problem{"DRS3SecondaryBucket", "the S3 replication check needs both buckets: the primary region's and its replica"})
	}
	if (c.DRS3AccessKeyID == "") != (c.DRS3SecretAccessKey == "") {
		ps = append(ps, Problem{"DRS3AccessKeyID", "give both the S3 access key ID and secret, or neither"})
	}
	if c.DROpenSearchPrimaryURL != "" && c.DROpenSearchSecondaryURL == "" {
		ps = append(ps, Problem{"DROpenSearchSecondaryURL", "the OpenSearch check needs the follower (standby region) cluster's URL"})
	}
	if c.DRS3PendingThreshold < 0 || c.DRS3FailedThreshold < 0 {
		ps = append(ps, Problem{"DRS3PendingThreshold", "the S3 thresholds must be 0 (default) or more"})
	}
	if c.DROpenSearchLagThreshold < 0 {
		ps = append(ps, Problem{"DROpenSearchLagThreshold", "must be 0 (default 1000) or more"})
	}
	ps = append(ps, c.validateFailover()...)
	if s := strings.TrimSpace(c.DRStatusAlertAfter); s != "" && s != "0" {
		if d, err := duration.Parse(s); err != nil || d < 0 {
			ps = append(ps, Problem{"DRStatusAlertAfter", "use a duration such as 2m or 10m, or 0 to post a change at the first check that sees it"})
		}
	}
	if t := c.DRMetricsToken; t != "" && len(t) < 16 {
		ps = append(ps, Problem{"DRMetricsToken", "use at least 16 random characters (openssl rand -hex 24), or leave it empty to allow only admins"})
	}
	return ps
}

// FailoverPollInterval is DRFailoverPollInterval (default 5s).
func (c Config) FailoverPollInterval() time.Duration {
	if d, err := duration.Parse(strings.TrimSpace(c.DRFailoverPollInterval)); err == nil && d >= 100*time.Millisecond {
		return d
	}
	return 5 * time.Second
}

// SplitList splits a comma-separated setting, dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func (c Config) validateFailover() Problems {
	var ps Problems
	if strings.TrimSpace(c.DRRoute53ZoneID) != "" {
		typ := strings.ToUpper(strings.TrimSpace(c.DRRoute53RecordType))
		switch {
		case strings.TrimSpace(c.DRRoute53RecordName) == "":
			ps = append(ps, Problem{"DRRoute53RecordName", "the Route 53 switch needs the record's name, such as chat.example.com"})
		case typ != "A" && typ != "AAAA" && typ != "CNAME":
			ps = append(ps, Problem{"DRRoute53RecordType", fmt.Sprintf("%q: use A, AAAA or CNAME", c.DRRoute53RecordType)})
		}
		for name, v := range map[string]string{"DRRoute53PrimaryValue": c.DRRoute53PrimaryValue, "DRRoute53SecondaryValue": c.DRRoute53SecondaryValue} {
			switch n := len(SplitList(v)); {
			case n == 0:
				ps = append(ps, Problem{name, "the Route 53 switch needs the record's value for both regions (a load balancer's name for CNAME, addresses for A/AAAA)"})
			case n > 1 && typ == "CNAME":
				ps = append(ps, Problem{name, "a CNAME record holds exactly one value"})
			}
		}
	}
	if c.DRRoute53RecordTTL < 0 {
		ps = append(ps, Problem{"DRRoute53RecordTTL", "use 0 (60 seconds) or more"})
	}
	if r := strings.TrimSpace(c.DROpenSearchRoles); r != "" && len(SplitList(r)) != 2 {
		ps = append(ps, Problem{"DROpenSearchRoles", "give the leader cluster role and the follower cluster role, comma-separated (such as all_access,all_access), or leave it empty"})
	}
	if s := strings.TrimSpace(c.DRFailoverPollInterval); s != "" {
		if d, err := duration.Parse(s); err != nil || d < 100*time.Millisecond {
			ps = append(ps, Problem{"DRFailoverPollInterval", "use a duration of at least 100ms, such as 5s"})
		}
	}
	return ps
}

// StatusAlertAfter is how long a new verdict must hold before it is posted (DRStatusAlertAfter,
// default 2m; 0 posts it at the first check that sees it).
func (c Config) StatusAlertAfter() time.Duration {
	s := strings.TrimSpace(c.DRStatusAlertAfter)
	if s == "0" {
		return 0
	}
	if d, err := duration.Parse(s); err == nil && d >= 0 {
		return d
	}
	return 2 * time.Minute
}
