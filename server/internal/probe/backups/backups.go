// Package backups judges the plugin's own backups: is the newest one recent, has one been
// proven restorable lately, and would it survive the loss of this server and stay secret.
package backups

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

// Component is the status component this probe reports under.
const Component = "backups"

// Input is what the backup catalogue says.
type Input struct {
	// Enabled: backups are scheduled. Without, the result is NotConfigured.
	Enabled bool
	// NewestSuccess is when the newest successful backup finished (zero: none yet).
	NewestSuccess time.Time
	// NewestVerified is when the newest verified backup (checksums re-read, or restored by a
	// drill) finished (zero: none).
	NewestVerified time.Time
	// LocalOnly: the newest backup is only on storage that dies with this deployment.
	LocalOnly bool
	// UnencryptedSecrets: the newest backup holds secrets (the config's database password,
	// SAML keys) without encryption.
	UnencryptedSecrets bool
}

// Thresholds say when backups are too old. Zero fields take the defaults.
type Thresholds struct {
	MaxAge         time.Duration // newest backup older: degraded (default 26h: daily plus slack)
	CriticalAge    time.Duration // older still: critical (default 72h)
	MaxVerifiedAge time.Duration // newest verified backup older, or none: degraded (default 8d: weekly plus slack)
}

// Defaults.
const (
	DefaultMaxAge         = 26 * time.Hour
	DefaultCriticalAge    = 72 * time.Hour
	DefaultMaxVerifiedAge = 8 * 24 * time.Hour
)

func (t Thresholds) withDefaults() Thresholds {
	if t.MaxAge <= 0 {
		t.MaxAge = DefaultMaxAge
	}
	if t.CriticalAge <= 0 {
		t.CriticalAge = DefaultCriticalAge
	}
	if t.MaxVerifiedAge <= 0 {
		t.MaxVerifiedAge = DefaultMaxVerifiedAge
	}
	return t
}

// Options say where the probe reads the backup catalogue and what is too old.
type Options struct {
	// Input reads what the backup and verify jobs recorded (no store access: fast).
	Input      func(ctx context.Context) Input
	Thresholds Thresholds
}

// Probe judges the backups Input describes, now; it satisfies status.Prober.
type Probe struct{ o Options }

// New returns the probe for o.
func New(o Options) *Probe { return &Probe{o: o} }

// Component is the status component.
func (p *Probe) Component() string { return Component }

// Name says what is checked.
func (p *Probe) Name() string { return "Backups" }

// Probe reads the catalogue and analyses it.
func (p *Probe) Probe(ctx context.Context) probe.Result {
	return Analyze(p.o.Input(ctx), p.o.Thresholds, time.Now())
}

// Analyze judges in against th at now.
func Analyze(in Input, th Thresholds, now time.Time) probe.Result {
	r := probe.Result{Component: Component, Name: "Plugin backups", State: probe.Healthy, CheckedAt: now}
	if !in.Enabled {
		r.State, r.Summary = probe.NotConfigured, "backups are not scheduled"
		return r
	}
	th = th.withDefaults()
	t := &probe.Table{Columns: []string{"Check", "Value", "Limit"}}

	age := ageAt(in.NewestSuccess, now)
	switch {
	case in.NewestSuccess.IsZero():
		r.Add(probe.Critical, "run `/dr backup now` and check the backup job's log", "no backup has succeeded yet")
	case age > th.CriticalAge:
		r.Add(probe.Critical, "check why the scheduled backups fail: `/dr backup list` and the server log",
			fmt.Sprintf("the newest successful backup is %s old, over the %s limit", human(age), human(th.CriticalAge)))
	case age > th.MaxAge:
		r.Add(probe.Degraded, "check why the scheduled backups fail: `/dr backup list` and the server log",
			fmt.Sprintf("the newest successful backup is %s old, over %s", human(age), human(th.MaxAge)))
	}
	t.Rows = append(t.Rows, []string{"Newest successful backup", when(in.NewestSuccess, now), human(th.MaxAge) + ", critical " + human(th.CriticalAge)})

	vage := ageAt(in.NewestVerified, now)
	switch {
	case in.NewestVerified.IsZero():
		r.Add(probe.Degraded, "schedule backup verification, or run `/dr backup verify <id> --drill` on the newest backup from `/dr backup list`",
			"no backup has been verified: it is not known that they can be restored")
	case vage > th.MaxVerifiedAge:
		r.Add(probe.Degraded, "check the verification job: `/dr backup list` and the server log",
			fmt.Sprintf("the newest verified backup is %s old, over %s", human(vage), human(th.MaxVerifiedAge)))
	}
	t.Rows = append(t.Rows, []string{"Newest verified backup", when(in.NewestVerified, now), human(th.MaxVerifiedAge)})

	if in.LocalOnly {
		r.Add(probe.Degraded, "add off-site storage (S3 in another region) to the backup settings",
			"local-only backups are not off-site: losing this server or region loses them too")
	}
	t.Rows = append(t.Rows, []string{"Stored off-site", yesNo(!in.LocalOnly), "yes"})
	if in.UnencryptedSecrets {
		r.Add(probe.Degraded, "set a backup encryption key in the plugin settings",
			"backups hold secrets unencrypted: anyone who can read the backup storage can read the database password and keys")
	}
	t.Rows = append(t.Rows, []string{"Secrets encrypted", yesNo(!in.UnencryptedSecrets), "yes"})
	r.Table = t

	// Timestamps, not ages (Prometheus' convention: the rule computes time() - t, and no +Inf);
	// 0 when there is none yet, which reads as very old.
	last, verified := 0.0, 0.0
	if !in.NewestSuccess.IsZero() {
		last = float64(in.NewestSuccess.UnixNano()) / 1e9
	}
	if !in.NewestVerified.IsZero() {
		verified = float64(in.NewestVerified.UnixNano()) / 1e9
	}
	r.Gauge("dr_backup_last_success_timestamp_seconds", "When the newest successful backup finished, in seconds since the epoch (0: none).", last, nil)
	r.Gauge("dr_backup_last_verified_timestamp_seconds", "When the newest verified backup's verification finished, in seconds since the epoch (0: none).", verified, nil)

	r.Summary = summary(in, now)
	r.SortFindings()
	return r
}

func summary(in Input, now time.Time) string {
	if in.NewestSuccess.IsZero() {
		return "no successful backup yet"
	}
	s := "newest backup " + human(ageAt(in.NewestSuccess, now)) + " old"
	if in.NewestVerified.IsZero() {
		return s + ", none verified"
	}
	return s + ", newest verified " + human(ageAt(in.NewestVerified, now)) + " old"
}

// ageAt is how long before now t was; a time in the future (clock skew) is age 0.
func ageAt(t, now time.Time) time.Duration {
	if d := now.Sub(t); d > 0 {
		return d
	}
	return 0
}

func when(t, now time.Time) string {
	if t.IsZero() {
		return "none"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC") + " (" + human(ageAt(t, now)) + " ago)"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// human is a coarse duration: "45s", "14m", "26h", "8d".
func human(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 72*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	default:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
}
