package main

import (
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/restore"
)

// restoreReport is drctl restore --json (its shape is in restoreHelp).
type restoreReport struct {
	DryRun            bool               `json:"dry_run"`
	OK                bool               `json:"ok"`
	BackupID          string             `json:"backup_id,omitempty"`
	Destination       string             `json:"destination"`
	Components        *format.Components `json:"components,omitempty"`
	MattermostVersion string             `json:"mattermost_version,omitempty"`
	StartedAt         *time.Time         `json:"started_at,omitempty"`
	TargetVersion     string             `json:"target_mattermost_version"`
	Trust             string             `json:"trust,omitempty"`
	Steps             []string           `json:"steps"`
	Done              []string           `json:"done,omitempty"`
	Skipped           []string           `json:"skipped,omitempty"`
	Files             int64              `json:"files,omitempty"`
	Bytes             int64              `json:"bytes,omitempty"`
	TookSeconds       float64            `json:"took_seconds,omitempty"`
	Error             string             `json:"error,omitempty"`
}

// newRestoreReport says what restore.Run did, or would have done (a dry run, a refused run).
func newRestoreReport(f *restoreFlags, o restore.Options, res *restore.Result, err error) restoreReport {
	rep := restoreReport{DryRun: f.dryRun, OK: err == nil, Destination: o.From.String(), TargetVersion: o.TargetVersion, Steps: []string{}}
	if err != nil {
		rep.Error = err.Error()
	}
	if res == nil || res.BackupID == "" {
		return rep
	}
	started := res.StartedAt
	rep.BackupID, rep.Components, rep.MattermostVersion, rep.StartedAt = res.BackupID, &res.Components, res.MattermostVersion, &started
	rep.Trust, rep.Done, rep.Skipped, rep.Files, rep.Bytes = res.Trust, res.Done, res.Skipped, res.Files, res.Bytes
	if res.Plan != nil {
		rep.Steps = res.Plan
	}
	rep.TookSeconds = res.Took.Seconds()
	return rep
}
