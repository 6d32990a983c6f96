package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
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

func newRestoreReport(ctx context.Context, f *restoreFlags, o restore.Options, res *restore.Result, steps []string, err error) restoreReport {
	rep := restoreReport{DryRun: f.dryRun, OK: err == nil, Destination: o.From.String(), TargetVersion: o.TargetVersion, Steps: steps}
	if rep.Steps == nil {
		rep.Steps = []string{}
	}
	if err != nil {
		rep.Error = err.Error()
	}
	if res == nil || res.BackupID == "" {
		return rep
	}
	rep.BackupID, rep.Done, rep.Skipped, rep.Files, rep.Bytes = res.BackupID, res.Done, res.Skipped, res.Files, res.Bytes
	rep.TookSeconds = res.Took.Seconds()
	// The manifest is read again for what the Result does not carry; restore.Run has just read
	// and trusted it, so a failure here only leaves these fields out.
	if m, merr := format.ReadManifest(ctx, o.From, res.BackupID); merr == nil {
		started := m.StartedAt.UTC()
		rep.Components, rep.MattermostVersion, rep.StartedAt = &m.Components, m.MattermostVersion, &started
		rep.Trust = restore.Trust{Key: o.TrustKey, AllowUntrusted: o.AllowUntrusted}.Describe(m, time.Now())
	}
	return rep
}

// stepTap passes restore's progress lines on to w and keeps the plan a dry run prints
// ("step N: …"): restore.Result does not carry it.
type stepTap struct {
	w     io.Writer
	line  bytes.Buffer
	steps []string
}

// progressStep is a plan line of restore's progress: "[   0.0s] step 2: verify: …".
var progressStep = regexp.MustCompile(`^\[\s*[0-9.]+s\] step [0-9]+: (.+)$`)

func (t *stepTap) Write(p []byte) (int, error) {
	for _, b := range p {
		if b != '\n' {
			t.line.WriteByte(b)
			continue
		}
		t.endLine()
	}
	return t.w.Write(p)
}

func (t *stepTap) endLine() {
	if m := progressStep.FindStringSubmatch(t.line.String()); m != nil {
		t.steps = append(t.steps, m[1])
	}
	t.line.Reset()
}

// flush keeps a last line without its newline.
func (t *stepTap) flush() {
	if t.line.Len() > 0 {
		t.endLine()
	}
}
