package kvstate

import (
	"time"

	walprobe "github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/walarchive"
)

// BackupInfo is what the newest successful backup said about itself, for status.
type BackupInfo struct {
	ID                 string `json:"id"`
	LocalOnly          bool   `json:"local_only"`
	UnencryptedSecrets bool   `json:"unencrypted_secrets"`
}

// BackupStats are the newest successful backup's size and duration, for the metrics.
type BackupStats struct {
	SizeBytes       int64   `json:"size_bytes"`
	DurationSeconds float64 `json:"duration_seconds"`
}

// BackupRecord is what the plugin recorded of one of its backups.
type BackupRecord struct {
	// Manifests are the SHA-256 of the manifest at each destination.
	Manifests  map[string]string `json:"manifests"`
	RecordedAt time.Time         `json:"recorded_at"`
	// AdoptedBy is the admin who vouched for a backup made before signing (/dr backup trust).
	AdoptedBy string `json:"adopted_by,omitempty"`
}

// FailoverAlive marks the node and process running a runbook.
type FailoverAlive struct {
	Run     string `json:"run"`
	Node    string `json:"node"`
	Process int    `json:"process"`
	// At is when the node last refreshed it (absent from marks of older versions).
	At time.Time `json:"at,omitzero"`
}

// CaptureState is what the node running file captures reports after each attempt.
type CaptureState struct {
	Node        string    `json:"node"`
	LastSuccess time.Time `json:"last_success,omitzero"` // when the newest capture completed
	LastID      string    `json:"last_id,omitempty"`     // its backup ID
	LastFiles   int64     `json:"last_files"`            // files in its index
	LastNew     int64     `json:"last_new"`              // new pool objects it stored
	// LastChecked is when the newest capture attempt succeeded, storing a capture or finding
	// nothing new (backup.ErrNothingNew).
	LastChecked time.Time `json:"last_checked,omitzero"`
	// Failures counts the captures failed in a row since the last success, FailingSince when
	// the first of them failed, LastError why the last did.
	Failures     int       `json:"failures,omitempty"`
	FailingSince time.Time `json:"failing_since,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
}

// WALArchiveState is what the node running the WAL archiver reports.
type WALArchiveState struct {
	Node       string    `json:"node"`
	ReportedAt time.Time `json:"reported_at"`
	Setup      string    `json:"setup,omitempty"` // what is missing for archiving to run, and what to do
	Running    bool      `json:"running"`
	CaughtUp   time.Time `json:"caught_up"`
	LastFile   string    `json:"last_file,omitempty"`
	LastError  string    `json:"last_error,omitempty"`
	Pending    int       `json:"pending"`
	Restarts   int       `json:"restarts"`
	Stored     int64     `json:"stored"`
}

// PITRWindows is the point-in-time restore window of each destination, as the node running the
// WAL archiver last read it from the destinations themselves (listing them is too slow for a
// status probe's deadline).
type PITRWindows struct {
	Node      string                          `json:"node"`
	CheckedAt time.Time                       `json:"checked_at"`
	Windows   map[string]walprobe.WindowInput `json:"windows"`          // by destination name
	Errors    map[string]string               `json:"errors,omitempty"` // destination name -> why it could not be read
}
