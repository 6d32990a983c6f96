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

// newRestoreReport says what restore.Run did; the trust line and the steps are the ones it printed.
func newRestoreReport(ctx context.Context, f *restoreFlags, o restore.Options, res *restore.Result, tap *stepTap, err error) restoreReport {
	rep := restoreReport{DryRun: f.dryRun, OK: err == nil, Destination: o.From.String(), TargetVersion: o.TargetVersion,
		Trust: tap.trust, Steps: tap.steps}
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
	// The manifest is read again for what the Result does not carry. The storage may have
	// changed it since restore.Run read it: a copy that is not trusted now is not reported from.
	trust := restore.Trust{Key: o.TrustKey, AllowUntrusted: o.AllowUntrusted}
	m, merr := format.ReadManifest(ctx, o.From, res.BackupID)
	if merr == nil && m.ID == res.BackupID && (trust.Untrusted(m, time.Now()) == "" || o.AllowUntrusted) {
		started := m.StartedAt.UTC()
		rep.Components, rep.MattermostVersion, rep.StartedAt = &m.Components, m.MattermostVersion, &started
	}
	return rep
}

// stepTap passes restore's progress lines on to w and keeps the plan a dry run prints
// ("step N: …") and the trust decision ("trust: …"): restore.Result carries neither.
type stepTap struct {
	w     io.Writer
	line  bytes.Buffer
	steps []string
	trust string
}

// Lines of restore's progress: "[   0.0s] step 2: verify: …", "[   0.0s] trust: backup … is signed by …".
var (
	progressStep  = regexp.MustCompile(`^\[\s*[0-9.]+s\] step [0-9]+: (.+)$`)
	progressTrust = regexp.MustCompile(`^\[\s*[0-9.]+s\] trust: (.+)$`)
)

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
	if m := progressTrust.FindStringSubmatch(t.line.String()); m != nil && t.trust == "" {
		t.trust = m[1]
	}
	t.line.Reset()
}

// flush keeps a last line without its newline.
func (t *stepTap) flush() {
	if t.line.Len() > 0 {
		t.endLine()
	}
}
