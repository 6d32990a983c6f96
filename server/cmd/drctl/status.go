package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/drsettings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/s3"
)

// Exit codes of drctl status, as monitoring systems read them (the Nagios convention).
const (
	exitHealthy  = 0
	exitDegraded = 1
	exitCritical = 2
	exitUnknown  = 3 // could not check: an unreadable destination, an unreadable or untrusted settings document
)

const statusHelp = `drctl status --from <folder|s3://bucket/prefix> | --settings FILE [--trust-key KEY] [--json] [--verbose] [--notify]:
run the probes of /dr status from the DR settings document and print the report. Credentials come from the
environment: the AWS chain, PGPASSWORD or ~/.pgpass, DR_OPENSEARCH_USERNAME/PASSWORD.

Exit status (the Nagios convention): 0 healthy, 1 degraded, 2 critical, 3 unknown (drctl could not check:
no, unreadable or untrusted settings document, unreadable destination). A usage error (a bad or missing
flag) also exits 2, and prints no report.

--json prints one document, the JSON of GET /plugins/…/api/v1/status:
  {"verdict": healthy|degraded|critical, "reasons": [{"component", "probe", "state", "message", "fix"}] (worst first),
   "results": [{"component", "name", "state", "summary", "findings", "table", "metrics", "checked_at", "duration_ns"}],
   "checked_at", "duration_ns", "cached"}`

// Environment variables of the OpenSearch credentials.
const (
	envOpenSearchUser     = "DR_OPENSEARCH_USERNAME"
	envOpenSearchPassword = "DR_OPENSEARCH_PASSWORD" //nolint:gosec // the variable's name, not a secret
)

// exitError carries a command's own exit status; err (may be nil) is printed.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func runStatus(ctx context.Context, args []string, out, errOut io.Writer) error {
	err := status0(ctx, args, out, errOut)
	var ee *exitError
	if errors.Is(err, flag.ErrHelp) || errors.Is(err, errUsage) || errors.As(err, &ee) {
		return err
	}
	return &exitError{code: exitUnknown, err: err} // drctl could not tell: unknown
}

// status0 runs the check; it always ends in an error: the verdict's exitError, or why it
// could not check.
func status0(ctx context.Context, args []string, out, errOut io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	var src settingsSource
	src.register(fs)
	asJSON := fs.Bool("json", false, "print one JSON document (its shape is above)")
	verbose := fs.Bool("verbose", false, "show every component's table, healthy ones too")
	notify := fs.Bool("notify", false, "send the verdict to the webhooks in $"+envWebhookTargets+" when it is critical or degraded")
	osUser := fs.String("opensearch-username", os.Getenv(envOpenSearchUser), "OpenSearch user (default $"+envOpenSearchUser+")")
	osPassword := fs.String("opensearch-password", "", "OpenSearch password (prefer $"+envOpenSearchPassword+": an argument shows in the process list)")
	if err := parseFlags(fs, args, out, statusHelp); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	if *notify {
		if targets, err := webhookTargets(); err != nil || len(targets) == 0 {
			return orUsage(err, "--notify sends to the targets in $%s (one per line: generic <url> | pagerduty <routing key> [<url>] | slack <url>), which is not set", envWebhookTargets)
		}
	}
	st, err := src.load(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(errOut, st.decision.Note)
	probes, err := statusProbes(ctx, st, &src.s3, *osUser, orEnv(*osPassword, envOpenSearchPassword))
	if err != nil {
		return err
	}
	rep, err := probes.Check(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(out, status.Markdown(rep, status.MarkdownOptions{Verbose: *verbose}))
	}
	code := verdictCode(rep.Verdict)
	if *notify && (code == exitDegraded || code == exitCritical) {
		if err := notifyStatus(ctx, errOut, string(rep.Verdict), status.Markdown(rep, status.MarkdownOptions{})); err != nil {
			return &exitError{code: code, err: err}
		}
	}
	return &exitError{code: code}
}

// verdictCode is the exit status of a verdict.
func verdictCode(v probe.State) int {
	switch v {
	case probe.Healthy:
		return exitHealthy
	case probe.Degraded:
		return exitDegraded
	case probe.Critical:
		return exitCritical
	}
	return exitUnknown
}

// backupKeys are the keys whose backups count: the key that vouched for the document (a
// document used only because of --allow-untrusted vouches for nothing), and --trust-key.
func backupKeys(st *drSettings) []format.PublicKey {
	var keys []format.PublicKey
	if !st.decision.Signer.IsZero() {
		keys = append(keys, st.decision.Signer)
	}
	return keys
}

// documentDestination opens the backup destination the document names, for --settings
// without --from: the off-site S3 one first. Nil when it names none.
func documentDestination(ctx context.Context, d drsettings.Document, f *s3Flags) (storage.Store, error) {
	if b := d.Backups.S3; b != nil {
		c := f.config(b.Bucket, b.Prefix)
		c.Region, c.Endpoint, c.PathStyle = orDefault(f.region, b.Region), orDefault(f.endpoint, b.Endpoint), f.pathStyle || b.PathStyle
		st, err := s3.New(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("open the backup destination %s the settings name: %w", b.URL(), err)
		}
		return st, nil
	}
	if l := d.Backups.Local; l != nil {
		if fi, err := os.Stat(l.Folder); err == nil && fi.IsDir() {
			return local.New(l.Folder)
		}
	}
	return nil, nil
}

func orEnv(v, env string) string {
	if v != "" {
		return v
	}
	return os.Getenv(env)
}

func orDefault(v, def string) string {
	if strings.TrimSpace(v) != "" {
		return v
	}
	return def
}
