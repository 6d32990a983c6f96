package kvstate

import (
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/nodes"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
)

// Every key of the plugin's KV store. The encodings are those earlier versions wrote: change
// one only with a reader of the old bytes (kvstate_test.go stores them).

const (
	kept     = "kept until deleted"
	forever  = "kept (never deleted)"
	replaced = "kept; each write replaces it"
)

// Backups (server/plugin backup.go, provenance.go, schedule.go, verify.go).
var (
	IndexIdentity = register(&Key[string]{Spec{Name: "backup/index-identity", Owner: "plugin (backup.go)", Lifetime: forever,
		Doc: "the age identity the file index of encrypted backups is also encrypted to, created once"}, JSON[string]{}})
	SigningKey = register(&Key[string]{Spec{Name: "backup/signing-key", Owner: "plugin (provenance.go)", Lifetime: forever,
		Doc: "the key that signs this server's manifests, created once"}, JSON[string]{}})
	Records = register(&Key[map[string]*BackupRecord]{Spec{Name: "backup/records", Owner: "plugin (provenance.go)", Lifetime: replaced,
		Doc: "by backup id, the manifests' SHA-256 this server made or adopted"}, JSON[map[string]*BackupRecord]{}})
	Pins = register(&Key[map[string]bool]{Spec{Name: "backup/pins", Owner: "plugin (backup.go)", Lifetime: replaced,
		Doc: "ids of the backups retention keeps"}, JSON[map[string]bool]{}})
	LastSuccess = register(&Key[time.Time]{Spec{Name: "backup/last-success", Owner: "plugin (schedule.go)", Lifetime: replaced,
		Doc: "when the newest backup succeeded"}, UnixMilliString{}})
	LastBackupInfo = register(&Key[BackupInfo]{Spec{Name: "backup/last-info", Owner: "plugin (backup.go)", Lifetime: replaced,
		Doc: "what the newest successful backup said about itself, for status"}, JSON[BackupInfo]{}})
	LastBackupStats = register(&Key[BackupStats]{Spec{Name: "backup/last-stats", Owner: "plugin (backup.go)", Lifetime: replaced,
		Doc: "size and duration of the newest successful backup, for the metrics"}, JSONInString[BackupStats]{}})
	LastVerified = register(&Key[time.Time]{Spec{Name: "backup/last-verified", Owner: "plugin (verify.go)", Lifetime: replaced,
		Doc: "when a backup last verified"}, UnixMilliString{}})
	BackupSlot = register(&Key[time.Time]{Spec{Name: "backup/schedule/last-slot", Owner: "plugin (schedule.go)", Lifetime: replaced,
		Doc: "the last slot of the backup schedule claimed by a node"}, UnixMilliString{}})
	VerifySlot = register(&Key[time.Time]{Spec{Name: "backup/verify-schedule/last-slot", Owner: "plugin (verify.go)", Lifetime: replaced,
		Doc: "the last slot of the verify schedule claimed by a node"}, UnixMilliString{}})
	StaleAlerted = register(&Key[string]{Spec{Name: "backup/stale-alerted-period", Owner: "plugin (schedule.go)", Lifetime: "deleted when a backup succeeds",
		Doc: "the stale period (age / threshold) already alerted"}, JSON[string]{}})
	BackupFailAlerted = register(&Key[string]{Spec{Name: "backup/fail-alerted", Owner: "plugin (alerts.go)", Lifetime: "emptied when a backup succeeds",
		Doc: "the failed backup whose webhook alert is still open (resolved by the next success)"}, JSON[string]{}})
	FirstSeen = register(&Key[time.Time]{Spec{Name: "first-seen", Owner: "plugin (schedule.go)", Lifetime: forever,
		Doc: "when the plugin first ran on this server (stale alerts count from it before any backup)"}, UnixMilliString{}})
	BaseSlot = register(&Key[time.Time]{Spec{Name: "backup/base-schedule/last-slot", Owner: "plugin (walarchive.go)", Lifetime: replaced,
		Doc: "the last slot of the base backup schedule claimed by a node"}, UnixMilliString{}})
	CaptureDirty = register(&Key[string]{Spec{Name: "backup/capture/dirty", Owner: "plugin (capture.go)", Lifetime: replaced,
		Doc: "a new random mark each time a node sees a post with files; the capture loop captures when it changed"}, JSON[string]{}})
	CaptureReport = register(&Key[CaptureState]{Spec{Name: "backup/capture/report", Owner: "plugin (capture.go)", Lifetime: replaced,
		Doc: "the outcome of the newest file captures, for /dr status"}, JSON[CaptureState]{}})
	BackupLockWanted = register(&Key[time.Time]{Spec{Name: "backup/lock-wanted", Owner: "plugin (backup.go)", TTL: 45 * time.Second,
		Lifetime: "expires 45 s after a backup, retention or delete last waited for the backup lock", Doc: "a file capture holding the lock gives it up when set"}, UnixMilliString{}})
	WALArchiveReport = register(&Key[WALArchiveState]{Spec{Name: "wal-archive/report", Owner: "plugin (walarchive.go)", Lifetime: replaced,
		Doc: "what the node running the WAL archiver last reported (every few seconds), for /dr status on every node"}, JSON[WALArchiveState]{}})
	PITRWindowReport = register(&Key[PITRWindows]{Spec{Name: "wal-archive/windows", Owner: "plugin (walarchive.go)", Lifetime: replaced,
		Doc: "the point-in-time restore window of each destination, read every minute by the node running the WAL archiver, for /dr status"}, JSON[PITRWindows]{}})
	WALArchiveLock = register(&Mutex{Spec{Name: mutexPrefix + "wal-archive", Owner: "plugin (walarchive.go) via pluginapi cluster.Mutex", TTL: 15 * time.Second,
		Lifetime: "expires 15 s after its holder stops refreshing it", Doc: "the one node that runs the WAL archiver; another takes over when it dies"}})
	BackupLock = register(&Mutex{Spec{Name: mutexPrefix + "backup-lock", Owner: "plugin (backup.go) via pluginapi cluster.Mutex", TTL: 15 * time.Second,
		Lifetime: "expires 15 s after its holder stops refreshing it", Doc: "one backup, retention or delete at a time across the cluster"}})
)

// Status, announcements and audit anchors (server/plugin status.go, plugin.go, audit.go).
var (
	AlertState = register(&Key[status.AlertState]{Spec{Name: "status/alert-state", Owner: "plugin (status.go)", Lifetime: replaced,
		Doc: "the debounced verdict last posted by the status alerts"}, JSON[status.AlertState]{}})
	NodeReports = register(&Family[nodes.NodeReport]{Spec{Name: "nodes/", Family: true, Owner: "plugin (status.go)", TTL: 10 * time.Minute,
		Lifetime: "expires 10 min after the node's last report (every minute)", Doc: "by node id, each node's report for the nodes probe"}, JSON[nodes.NodeReport]{}})
	AnnouncedVersion = register(&Key[string]{Spec{Name: "announced-version", Owner: "plugin (plugin.go)", Lifetime: replaced,
		Doc: "the plugin version last announced in the ops channel"}, JSON[string]{}})
	AuditPostDay = register(&Key[string]{Spec{Name: "audit-anchor/posted-day", Owner: "plugin (audit.go)", Lifetime: replaced,
		Doc: "the UTC day of the newest daily audit head post, claimed by one node"}, JSON[string]{}})
	BackupScheduleJob = register(&Job{Spec{Name: cronPrefix + "backup-schedule", Owner: "plugin (plugin.go) via pluginapi cluster.Job", Lifetime: kept + " (and mutex_cron_backup-schedule, 15 s)",
		Doc: "the once-a-minute backup schedule, stale, verify and status alert tick"}})
	SSOExpiryJob = register(&Job{Spec{Name: cronPrefix + "sso-expiry", Owner: "plugin (plugin.go) via pluginapi cluster.Job", Lifetime: kept + " (and mutex_cron_sso-expiry, 15 s)",
		Doc: "the once-a-minute check for expired SSO fallbacks"}})
)

// Failover (server/plugin/failover.go).
var (
	FailoverAliveMark = register(&Key[FailoverAlive]{Spec{Name: "failover/alive", Owner: "plugin (failover.go)", TTL: 30 * time.Second,
		Lifetime: "expires 30 s after the running node's last refresh; deleted when the runbook stops", Doc: "the node and process running the runbook now"}, JSON[FailoverAlive]{}})
	FailoverLock = register(&Mutex{Spec{Name: mutexPrefix + "failover-runbook", Owner: "plugin (failover.go) via pluginapi cluster.Mutex", TTL: 15 * time.Second,
		Lifetime: "expires 15 s after its holder stops refreshing it", Doc: "one runbook step at a time across the cluster"}})
	HandoverRefusals = register(&Family[time.Time]{Spec{Name: "failover/handover-refused/", Family: true, Owner: "plugin (handover.go)", Lifetime: forever,
		Doc: "by hash of destination, runbook and reason, when the ops channel was told a runbook found at a destination was not adopted"}, JSON[time.Time]{}})
)

// Keys the owning packages read and write behind their own KV interfaces.
var (
	_ = register(&Owned{Spec{Name: "audit/head", Owner: "internal/audit", Lifetime: replaced,
		Doc: "seq and hash of the audit trail's newest record"}})
	_ = register(&Owned{Spec{Name: "audit/r/", Family: true, Owner: "internal/audit", Lifetime: forever,
		Doc: "the audit trail's records by zero-padded seq"}})
	_ = register(&Owned{Spec{Name: "sso/fb/", Family: true, Owner: "internal/ssofallback", Lifetime: "deleted when the user is restored",
		Doc: "by user id, a user switched to email/password and the SSO binding to restore"}})
	_ = register(&Owned{Spec{Name: "sso/lock/", Family: true, Owner: "internal/ssofallback", TTL: 15 * time.Second,
		Lifetime: "expires 15 s after its holder's last refresh; deleted on release", Doc: "by user id, the lease of a fallback or restore of that user"}})
	_ = register(&Owned{Spec{Name: "sso/button/", Family: true, Owner: "plugin (actions.go)", TTL: ssoButtonTTL,
		Lifetime: "expires 30 days after its fallback", Doc: "by random token, the user ids a fallback switched, for the Restore now button of its post"}})
	_ = register(&Owned{Spec{Name: "failover/current", Owner: "internal/failover", Lifetime: replaced,
		Doc: "the journal of the current (or last) failover runbook"}})
	_ = register(&Owned{Spec{Name: "failover/runs/", Family: true, Owner: "internal/failover", Lifetime: forever,
		Doc: "by run id, finished runbooks, for the record"}})
)

// ssoButtonTTL is how long a fallback's Restore now button works (then /dr sso restore does).
const ssoButtonTTL = 30 * 24 * time.Hour

// SSOButtonTTL is ssoButtonTTL, for the plugin that writes the keys.
const SSOButtonTTL = ssoButtonTTL
