package metrics

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Scope says which nodes expose a metric and what its value covers.
type Scope string

// Scopes. In an HA cluster Prometheus scrapes every node: Cluster metrics read shared state
// (the database, the KV store) and are the same on every node; Node metrics are this node's.
const (
	Cluster Scope = "cluster"
	Node    Scope = "node"
)

// Description documents one metric family the plugin exposes. Catalog is the list the README
// table is generated from and the shipped rules and dashboard are checked against.
type Description struct {
	Name   string
	Type   string // gauge or counter
	Labels []string
	Scope  Scope
	Help   string
}

// Catalog lists every metric family the plugin exposes, in the README's order.
var Catalog = []Description{
	{"dr_status_verdict", "gauge", nil, Cluster, "Disaster recovery verdict: 0 healthy, 1 degraded, 2 critical."},
	{"dr_status_checked_timestamp_seconds", "gauge", nil, Node, "When this node's status probes last ran (reports are cached up to 15 s)."},
	{"dr_probe_up", "gauge", []string{"component", "probe"}, Cluster, "1 when the probe could tell its component's state, 0 when it could not (configured but not answering). Components that are not set up have no series."},
	{"dr_probe_state", "gauge", []string{"component", "probe", "state"}, Cluster, "1 for the probe's state (healthy, degraded, critical, unknown), 0 for the others."},
	{"dr_probe_duration_seconds", "gauge", []string{"component", "probe"}, Node, "How long the probe took."},
	{"dr_component_configured", "gauge", []string{"component"}, Cluster, "1 when the component is set up and checked, 0 when it is not set up (see /dr status for what that means for DR)."},

	{"dr_backup_last_success_timestamp_seconds", "gauge", nil, Cluster, "When the newest successful backup finished, in seconds since the epoch; 0: none yet."},
	{"dr_backup_last_verified_timestamp_seconds", "gauge", nil, Cluster, "When the newest verified backup's verification finished, in seconds since the epoch; 0: none yet."},
	{"dr_backup_last_failure_timestamp_seconds", "gauge", nil, Node, "When a backup run on this node last failed, in seconds since the epoch; 0: none since the plugin started."},
	{"dr_verify_last_failure_timestamp_seconds", "gauge", nil, Node, "When a verification on this node last failed, in seconds since the epoch; 0: none since the plugin started."},
	{"dr_backup_last_size_bytes", "gauge", nil, Cluster, "Stored size of the newest successful backup."},
	{"dr_backup_last_duration_seconds", "gauge", nil, Cluster, "Duration of the newest successful backup."},
	{"dr_backup_stale_after_seconds", "gauge", nil, Cluster, "The BackupStaleAfter setting: how old the newest successful backup may get; 0: never stale."},
	{"dr_backup_schedule_interval_seconds", "gauge", nil, Cluster, "Time between two scheduled backups (BackupSchedule); 0: no schedule."},
	{"dr_rpo_lag_budget_seconds", "gauge", nil, Cluster, "The DRRPOLagThreshold setting: the replication lag the recovery point objective allows."},
	{"dr_backup_runs_total", "counter", []string{"outcome"}, Node, "Backup runs this node finished since the plugin started, by outcome (success, failure)."},
	{"dr_verify_runs_total", "counter", []string{"outcome"}, Node, "Backup verifications this node finished since the plugin started, by outcome (success, failure)."},
	{"dr_sso_switches_total", "counter", []string{"direction"}, Node, "Users this node switched since the plugin started, by direction (to_fallback: SSO to email/password, to_sso: back)."},
	{"dr_failover_steps_total", "counter", []string{"outcome"}, Node, "Failover runbook steps this node finished since the plugin started, by outcome (done, waiting, deferred, skipped, failed)."},
	{"dr_alerts_total", "counter", nil, Node, "Alerts this node raised since the plugin started (status critical, backup failed or stale, SSO fallback, runbook announcements; not their resolutions), whether or not webhook targets are configured."},
	{"dr_sso_fallback_users", "gauge", nil, Cluster, "Users switched to email/password by the SSO outage fallback."},

	{"dr_nodes", "gauge", []string{"region"}, Cluster, "Mattermost nodes with a recent report, by region."},
	{"dr_scheduler_nodes", "gauge", []string{"region"}, Cluster, "Mattermost nodes running the job scheduler, by region."},
	{"dr_pg_replicas_streaming", "gauge", nil, Cluster, "PostgreSQL standbys streaming WAL from the primary."},
	{"dr_pg_replication_lag_bytes", "gauge", []string{"replica"}, Cluster, "Bytes of WAL a PostgreSQL standby has not replayed yet."},
	{"dr_pg_replication_lag_seconds", "gauge", []string{"replica"}, Cluster, "Seconds a PostgreSQL standby's replay is behind the primary."},
	{"dr_wal_archive_running", "gauge", nil, Cluster, "1 when a node runs pg_receivewal and reports it, 0 when WAL archiving is on but not running (no series while it is off)."},
	{"dr_wal_archive_lag_seconds", "gauge", nil, Cluster, "Seconds since everything pg_receivewal received was stored at every destination: the recovery point if the database were lost now."},
	{"dr_wal_archive_pending_files", "gauge", nil, Cluster, "Completed WAL files in the archiving node's spool not yet stored at every destination."},
	{"dr_wal_archive_slot_retained_bytes", "gauge", nil, Cluster, "Bytes of WAL the primary keeps for the archive's replication slot (pg_current_wal_lsn() - restart_lsn)."},
	{"dr_wal_archive_slot_warn_bytes", "gauge", nil, Cluster, "The WALArchiveSlotWarnGB setting in bytes: the WAL the slot may hold before the status warns."},
	{"dr_pitr_newest_wal_timestamp_seconds", "gauge", []string{"destination"}, Cluster, "When the newest WAL file was stored at the destination (Unix time): writes after it are not restorable yet."},
	{"dr_pitr_base_backup_timestamp_seconds", "gauge", []string{"destination"}, Cluster, "When the newest usable base backup at the destination finished (Unix time): a point-in-time restore replays the WAL since then."},
	{"dr_pitr_window_seconds", "gauge", []string{"destination"}, Cluster, "Length of the point-in-time restore window at the destination: from the oldest usable base backup to the newest WAL."},
	{"dr_aurora_members", "gauge", nil, Cluster, "Clusters in the Aurora global database."},
	{"dr_aurora_members_connected", "gauge", nil, Cluster, "Clusters of the Aurora global database whose synchronization status is connected."},
	{"dr_aurora_failover_in_progress", "gauge", nil, Cluster, "1 while a switchover or failover of the Aurora global database runs."},
	{"dr_aurora_writer_expected", "gauge", nil, Cluster, "1 when the writer of the Aurora global database is the primary region's cluster."},
	{"dr_aurora_write_forwarding_enabled", "gauge", []string{"cluster", "region"}, Cluster, "1 when write forwarding is enabled on a secondary cluster."},
	{"dr_aurora_rpo_lag_seconds", "gauge", []string{"cluster", "region"}, Cluster, "RPO lag of an Aurora secondary cluster (CloudWatch AuroraGlobalDBRPOLag)."},
	{"dr_aurora_replication_lag_seconds", "gauge", []string{"cluster", "region"}, Cluster, "Replication lag of an Aurora secondary cluster (CloudWatch AuroraGlobalDBReplicationLag)."},
	{"dr_aurora_restorable_lag_seconds", "gauge", []string{"cluster", "region"}, Cluster, "Seconds between now and the latest restorable time (AWS point-in-time restore) of this region's Aurora cluster."},
	{"dr_aurora_backup_retention_days", "gauge", []string{"cluster", "region"}, Cluster, "Days of automated backups RDS keeps for this region's Aurora cluster (BackupRetentionPeriod): how far back point-in-time restore reaches."},
	{"dr_s3_replication_pending_objects", "gauge", []string{"bucket"}, Cluster, "Objects waiting to be replicated to the other region."},
	{"dr_s3_replication_failed_objects", "gauge", []string{"bucket"}, Cluster, "Objects whose replication failed."},
	{"dr_s3_versioning_enabled", "gauge", []string{"bucket"}, Cluster, "1 when the bucket has versioning enabled (replication needs it)."},
	{"dr_opensearch_autofollow_rule_present", "gauge", []string{"pattern"}, Cluster, "1 when the follower has the auto-follow rule for Mattermost's posts indices."},
	{"dr_opensearch_autofollow_failed_indices", "gauge", []string{"pattern"}, Cluster, "Leader indices the auto-follow rule could not start replicating."},
	{"dr_opensearch_checkpoint_lag_operations", "gauge", []string{"index"}, Cluster, "Operations a follower index is behind its leader."},
	{"dr_opensearch_follower_indices", "gauge", []string{"state"}, Cluster, "Mattermost indices on the follower by replication state (syncing, bootstrapping, paused, failed, stopped, not_following)."},
	{"dr_opensearch_unfollowed_leader_indices", "gauge", nil, Cluster, "Leader indices Mattermost uses that the follower does not replicate."},
	{"dr_idp_up", "gauge", []string{"service"}, Cluster, "1 when an SSO provider configured in Mattermost answers, 0 when it is down."},
}

// Renames are the metrics this version replaced: old name, new name, how to change a rule.
var Renames = [][3]string{
	{"dr_backup_age_seconds", "dr_backup_last_success_timestamp_seconds", "`time() - dr_backup_last_success_timestamp_seconds`; no `+Inf` any more: no backup yet is timestamp 0, i.e. very old"},
	{"dr_backup_last_verified_age_seconds", "dr_backup_last_verified_timestamp_seconds", "`time() - dr_backup_last_verified_timestamp_seconds`; 0 when none was verified"},
}

// Lookup returns the description of the family name.
func Lookup(name string) (Description, bool) {
	i := slices.IndexFunc(Catalog, func(d Description) bool { return d.Name == name })
	if i < 0 {
		return Description{}, false
	}
	return Catalog[i], true
}

// Table is the README's metrics table, generated from Catalog.
func Table() string {
	var b strings.Builder
	b.WriteString("| Metric | Type | Labels | Per | Meaning |\n| --- | --- | --- | --- | --- |\n")
	for _, d := range Catalog {
		labels := "-"
		if len(d.Labels) > 0 {
			labels = "`" + strings.Join(d.Labels, "`, `") + "`"
		}
		meaning := d.Help
		if d.Type == "counter" {
			meaning += " Resets when the plugin restarts (use `rate`/`increase`)."
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", d.Name, d.Type, labels, d.Scope, strings.ReplaceAll(meaning, "|", `\|`))
	}
	b.WriteString("\nRenamed in this version (change your rules):\n\n| Old | New | Use |\n| --- | --- | --- |\n")
	for _, r := range Renames {
		fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", r[0], r[1], r[2])
	}
	return b.String()
}

// metricRef finds metric names in PromQL or Go source.
var metricRef = regexp.MustCompile(`\bdr_[a-z0-9_]+\b`)

// Unknown returns the dr_ names text uses that Catalog does not list, sorted and unique.
func Unknown(text string) []string {
	var out []string
	for _, n := range metricRef.FindAllString(text, -1) {
		if _, ok := Lookup(n); !ok && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}
