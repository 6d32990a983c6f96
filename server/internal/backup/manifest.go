package backup

import "time"

// runMarkerName is the run marker's name in a backup's folder (see runMarker).
const runMarkerName = "run.json"

// formatVersion is the version of destination d's manifest.
func (d *destState) formatVersion() int {
	if d.rawRefs > 0 {
		return 2
	}
	return 1
}

// runMarker is written first to backups/<id>/run.json (and rewritten every few minutes while
// the backup runs), so that a running backup is visible before its first object is complete:
// PrunePool keeps what it may use and CleanupIncomplete leaves it alone. It is deleted once
// the manifest is written.
type runMarker struct {
	ID            string    `json:"id"`
	StartedAt     time.Time `json:"started_at"`
	Heartbeat     time.Time `json:"heartbeat"`
	PluginVersion string    `json:"plugin_version,omitempty"`
	Destination   string    `json:"destination"`
	Recipients    []string  `json:"recipients,omitempty"`
}
