package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/restore"
)

func runList(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	fs.SetOutput(out)
	from := fs.String("from", "", "backup destination: a folder or s3://bucket/prefix")
	trustKey := fs.String("trust-key", "", trustKeyHelp+" (marks them)")
	var s3f s3Flags
	s3f.register(fs, "s3-", "--from")
	if err := fs.Parse(args); err != nil {
		return err
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
	now := time.Now()
	untrusted := false
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTARTED (UTC)\tDURATION\tCOMPONENTS\tSIZE\tENCRYPTED\tMATTERMOST\tVERIFIED\tSIGNER")
	for _, m := range ms {
		verified := "never"
		if v, err := format.ReadVerification(ctx, st, m.ID); err == nil && v != nil {
			verified = v.Outcome + " " + v.FinishedAt.UTC().Format("2006-01-02")
		}
		started := m.StartedAt.UTC().Format("2006-01-02 15:04")
		if format.DatedInFuture(m, now) {
			started += " (IN THE FUTURE)"
		}
		untrusted = untrusted || (restore.Trust{Key: key}).Untrusted(m, now) != ""
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d MB\t%v\t%s\t%s\t%s\n", m.ID, started,
			m.FinishedAt.Sub(m.StartedAt).Round(time.Second), m.Components, m.Size()>>20, m.Encryption.Encrypted, m.MattermostVersion, verified, signerColumn(m, key))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(ms) == 0 && listErr == nil {
		fmt.Fprintf(out, "no complete backups at %s\n", st)
	}
	if untrusted {
		fmt.Fprintln(out, "Unsigned backups were taken before the plugin signed its backups, or written by someone who can write this storage; a backup dated in the future has a forged manifest or a wrong clock. `drctl restore --id latest` never picks them; name one with --id and add --allow-untrusted to restore it anyway.")
	}
	if listErr != nil {
		return fmt.Errorf("some backups could not be read: %w", listErr)
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
