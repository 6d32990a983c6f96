package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/bytesize"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pitr"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/restore"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/walarchive"
)

const listHelp = `drctl list --from <folder|s3://bucket/prefix> [--trust-key KEY] [--json]: list the complete
backups at a destination, newest first, with each one's signer and last verification.

--json prints one document:
  {"destination": "s3://…",
   "backups": [{"id", "started_at", "finished_at", "duration_seconds", "components": {"database", "config", "files"},
                "class": "logical", "base" (a base backup) or "capture" (a file capture), "size_bytes", "encrypted", "mattermost_version",
                "verification": {"outcome", "finished_at"} (absent: never verified),
                "signer": fingerprint or "unsigned", "signed_by_trust_key", "untrusted": why (absent: trusted),
                "dated_in_future"}],
   "pitr_window": {"from", "to", "base_backups", "notes", "error"} (absent: no WAL archive here;
                  from/to need --trust-key: only what the server signed counts),
   "error": some backups could not be read (absent: none; exit status 1)}`

// listedBackup is one backup of drctl list --json.
type listedBackup struct {
	ID                string            `json:"id"`
	StartedAt         time.Time         `json:"started_at"`
	FinishedAt        time.Time         `json:"finished_at"`
	DurationSeconds   float64           `json:"duration_seconds"`
	Components        format.Components `json:"components"`
	Class             string            `json:"class"` // format.Manifest.Class
	SizeBytes         int64             `json:"size_bytes"`
	Encrypted         bool              `json:"encrypted"`
	MattermostVersion string            `json:"mattermost_version"`
	Verification      *listedCheck      `json:"verification,omitempty"`
	Signer            string            `json:"signer"`
	SignedByTrustKey  bool              `json:"signed_by_trust_key"`
	Untrusted         string            `json:"untrusted,omitempty"`
	DatedInFuture     bool              `json:"dated_in_future"`
}

type listedCheck struct {
	Outcome    string    `json:"outcome"`
	FinishedAt time.Time `json:"finished_at"`
}

func runList(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	from := fs.String("from", "", "backup destination: a folder or s3://bucket/prefix")
	trustKey := fs.String("trust-key", "", trustKeyHelp+" (marks them)")
	asJSON := fs.Bool("json", false, "print one JSON document (its shape is above)")
	var s3f s3Flags
	s3f.register(fs, "s3-", "--from")
	if err := parseFlags(fs, args, out, listHelp); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	key, err := loadTrustKey(*trustKey)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, *from, &s3f)
	if err != nil {
		return err
	}
	ms, listErr := format.List(ctx, st)
	backups := describeBackups(ctx, st, ms, key)
	window := readWindow(ctx, st, key)
	if *asJSON {
		err = writeListJSON(out, st, backups, window, listErr)
	} else {
		err = writeListText(out, errOut, st, backups, key, ms)
		if err == nil && window != nil {
			writeWindowText(out, window)
		}
	}
	if err != nil {
		return err
	}
	if listErr != nil {
		return fmt.Errorf("some backups could not be read: %w", listErr)
	}
	return nil
}

// describeBackups reads what list shows of each backup.
func describeBackups(ctx context.Context, st storage.Store, ms []*format.Manifest, key format.PublicKey) []listedBackup {
	now := time.Now()
	out := make([]listedBackup, 0, len(ms))
	for _, m := range ms {
		b := listedBackup{ID: m.ID, StartedAt: m.StartedAt.UTC(), FinishedAt: m.FinishedAt.UTC(),
			DurationSeconds: m.FinishedAt.Sub(m.StartedAt).Round(time.Second).Seconds(), Components: m.Components, Class: m.Class(),
			SizeBytes: m.Size(), Encrypted: m.Encryption.Encrypted, MattermostVersion: m.MattermostVersion,
			Signer: restore.Signer(m), SignedByTrustKey: !key.IsZero() && m.Provenance.SignedBy(key),
			Untrusted: (restore.Trust{Key: key}).Untrusted(m, now), DatedInFuture: format.DatedInFuture(m, now)}
		if v, err := format.ReadVerification(ctx, st, m.ID); err == nil && v != nil {
			b.Verification = &listedCheck{Outcome: v.Outcome, FinishedAt: v.FinishedAt.UTC()}
		}
		out = append(out, b)
	}
	return out
}

func writeListJSON(out io.Writer, st storage.Store, backups []listedBackup, window *listedWindow, listErr error) error {
	v := struct {
		Destination string         `json:"destination"`
		Backups     []listedBackup `json:"backups"`
		Window      *listedWindow  `json:"pitr_window,omitempty"`
		Error       string         `json:"error,omitempty"`
	}{Destination: st.String(), Backups: backups, Window: window}
	if listErr != nil {
		v.Error = listErr.Error()
	}
	return writeJSON(out, v)
}

// writeListText prints the table to out; what to make of untrusted backups goes to errOut.
func writeListText(out, errOut io.Writer, st storage.Store, backups []listedBackup, key format.PublicKey, ms []*format.Manifest) error {
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTARTED (UTC)\tDURATION\tCOMPONENTS\tSIZE\tENCRYPTED\tMATTERMOST\tVERIFIED\tSIGNER")
	untrusted := false
	for i, b := range backups {
		verified := "never"
		if b.Verification != nil {
			verified = b.Verification.Outcome + " " + b.Verification.FinishedAt.Format("2006-01-02")
		}
		started := b.StartedAt.Format("2006-01-02 15:04")
		if b.DatedInFuture {
			started += " (IN THE FUTURE)"
		}
		untrusted = untrusted || b.Untrusted != ""
		comps := b.Components.String()
		if b.Class == format.ClassCapture {
			comps += " (file capture)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.ID, started, time.Duration(b.DurationSeconds)*time.Second,
			comps, bytesize.Format(b.SizeBytes), yesNo(b.Encrypted), b.MattermostVersion, verified, signerColumn(ms[i], key))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(backups) == 0 {
		fmt.Fprintf(errOut, "no complete backups at %s\n", st)
	}
	if untrusted {
		fmt.Fprintln(errOut, "Unsigned backups were taken before the plugin signed its backups, or written by someone who can write this storage; a backup dated in the future has a forged manifest or a wrong clock. `drctl restore --id latest` never picks them; name one with --id and add --allow-untrusted to restore it anyway.")
	}
	return nil
}

// signerColumn is who signed m, and whether that is the trusted key when one is given.
func signerColumn(m *format.Manifest, key format.PublicKey) string {
	s := restore.Signer(m)
	switch {
	case key.IsZero() || !m.Provenance.Signed():
	case m.Provenance.SignedBy(key):
		s += " (trusted)"
	default:
		s += " (NOT the --trust-key)"
	}
	return s
}

// yesNo is how a table says a boolean: admins read "yes", not "true".
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// listedWindow is the point-in-time restore window of a destination with a WAL archive.
type listedWindow struct {
	From        time.Time `json:"from,omitzero"`
	To          time.Time `json:"to,omitzero"`
	BaseBackups []string  `json:"base_backups,omitempty"`
	Notes       []string  `json:"notes,omitempty"`
	Error       string    `json:"error,omitempty"`
}

// readWindow reads the restorable window, or nil when st holds no WAL archive.
func readWindow(ctx context.Context, st storage.Store, key format.PublicKey) *listedWindow {
	if _, err := st.Stat(ctx, walarchive.SystemKey); errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	lw := &listedWindow{}
	if key.IsZero() {
		lw.Error = "this destination holds a WAL archive: give --trust-key to see the point-in-time restore window (only what the server signed counts)"
		return lw
	}
	w, err := pitr.ReadWindow(ctx, pitr.Source{Store: st, Key: key})
	if w != nil {
		lw.From, lw.To, lw.Notes = w.From.UTC(), w.To.UTC(), w.Notes
		for _, m := range w.Bases {
			lw.BaseBackups = append(lw.BaseBackups, m.ID)
		}
	}
	if err != nil {
		lw.Error = err.Error()
	}
	return lw
}

func writeWindowText(out io.Writer, w *listedWindow) {
	fmt.Fprintln(out)
	if w.Error != "" {
		fmt.Fprintf(out, "point-in-time restore: %s\n", w.Error)
	} else {
		fmt.Fprintf(out, "point-in-time restore window: %s to %s (UTC), from %d base backup(s) and the WAL archive; drctl restore --to-time reaches any second in it\n",
			w.From.Format("2006-01-02 15:04:05"), w.To.Format("2006-01-02 15:04:05"), len(w.BaseBackups))
	}
	for _, n := range w.Notes {
		fmt.Fprintln(out, "  note:", n)
	}
}
