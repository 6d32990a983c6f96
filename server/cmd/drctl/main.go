// Command drctl lists, verifies and restores the backups the Disaster Recovery plugin takes,
// on any machine: the new server of a restore needs neither Mattermost running nor the plugin.
//
//	drctl list    --from <folder|s3://bucket/prefix> [--trust-key KEY]
//	drctl verify  --from … --id <id|latest> [--trust-key KEY] [--identity FILE] [--drill-database-url …]
//	drctl restore --from … --id <id|latest> --trust-key KEY --database-url … --config-dir … --data-dir … [flags]
//	drctl settings show --from … [--trust-key KEY] [--json]
//	drctl status --from … [--trust-key KEY] [--json] [--notify]   (exit 0 healthy, 1 degraded, 2 critical, 3 unknown)
//	drctl failover plan|start|status|resume|abort --from … (drctl failover -h)
//
// Backups are trusted by their signature (--trust-key: the public key `/dr version` shows);
// see restore.Trust.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set by the build (-ldflags "-X main.version=…").
var version = "dev"

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, out io.Writer) error
	// runIO is run for commands that also write progress to stderr.
	runIO func(ctx context.Context, args []string, out, errOut io.Writer) error
}

var commands = []command{
	{name: "list", summary: "list the complete backups at a destination", run: runList},
	{name: "verify", summary: "re-read a backup and check every checksum (and restore a drill)", run: runVerify},
	{name: "restore", summary: "restore a backup onto a new server: database, config, files", run: runRestore},
	{name: "settings", summary: "show the DR settings document the plugin keeps at a destination", run: runSettings},
	{name: "status", summary: "are we ready to lose a region? exit 0 healthy, 1 degraded, 2 critical, 3 unknown", runIO: runStatus},
	{name: "failover", summary: "run the failover runbook without Mattermost: plan, start, status, resume, abort", runIO: runFailover},
	{name: "version", summary: "print drctl's version", run: func(_ context.Context, _ []string, out io.Writer) error {
		_, err := fmt.Fprintln(out, "drctl", version)
		return err
	}},
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "drctl: backups of the Mattermost Disaster Recovery plugin")
	fmt.Fprintln(w, "\nUsage: drctl <command> [flags]   (drctl <command> -h for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, out, errOut io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(out)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		var err error
		if c.runIO != nil {
			err = c.runIO(ctx, args[1:], out, errOut)
		} else {
			err = c.run(ctx, args[1:], out)
		}
		var ee *exitError
		switch {
		case errors.As(err, &ee):
			if ee.err != nil && !errors.Is(ee.err, flag.ErrHelp) {
				fmt.Fprintln(errOut, "drctl "+c.name+":", ee.err)
			}
			return ee.code
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintln(errOut, "drctl "+c.name+":", err)
			return 2
		default:
			fmt.Fprintln(errOut, "drctl "+c.name+": error:", err)
			return 1
		}
	}
	fmt.Fprintf(errOut, "drctl: unknown command %q\n\n", args[0])
	usage(errOut)
	return 2
}

var errUsage = errors.New("usage")

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}
