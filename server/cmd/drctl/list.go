package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
)

func runList(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	fs.SetOutput(out)
	from := fs.String("from", "", "backup destination: a folder or s3://bucket/prefix")
	var s3f s3Flags
	s3f.register(fs, "s3-", "--from")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := openStore(ctx, *from, &s3f)
	if err != nil {
		return err
	}
	ms, listErr := backup.List(ctx, st)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTARTED (UTC)\tDURATION\tCOMPONENTS\tSIZE\tENCRYPTED\tMATTERMOST\tVERIFIED")
	for _, m := range ms {
		verified := "never"
		if v, err := backup.ReadVerification(ctx, st, m.ID); err == nil && v != nil {
			verified = v.Outcome + " " + v.FinishedAt.UTC().Format("2006-01-02")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d MB\t%v\t%s\t%s\n", m.ID, m.StartedAt.UTC().Format("2006-01-02 15:04"),
			m.FinishedAt.Sub(m.StartedAt).Round(time.Second), m.Components, m.Size()>>20, m.Encryption.Encrypted, m.MattermostVersion, verified)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(ms) == 0 && listErr == nil {
		fmt.Fprintf(out, "no complete backups at %s\n", st)
	}
	if listErr != nil {
		return fmt.Errorf("some backups could not be read: %w", listErr)
	}
	return nil
}
