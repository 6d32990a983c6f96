// Command drctl lists, verifies and restores the backups the Disaster Recovery plugin takes,
// on any machine: the new server of a restore needs neither Mattermost running nor the plugin.
//
//	drctl list    --from <folder|s3://bucket/prefix> [--trust-key KEY] [--json]
//	drctl verify  --from … --id <id|latest> [--trust-key KEY] [--identity FILE] [--drill-database-url …] [--json]
//	drctl restore --from … --id <id|latest> --trust-key KEY --database-url … --config-dir … --data-dir … [--dry-run [--json]] [flags]
//	drctl settings show --from … [--trust-key KEY] [--json]
//	drctl status --from … [--trust-key KEY] [--json] [--notify]   (exit 0 healthy, 1 degraded, 2 critical, 3 unknown)
//	drctl failover plan|start|status|resume|abort --from … (drctl failover -h)
//
// Results go to stdout (one JSON document with --json), progress and warnings to stderr; usage
// errors exit 2. drctl help <command> shows a command's flags and its JSON.
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
	// run writes its results to out and its progress, notes and warnings to errOut.
	run func(ctx context.Context, args []string, out, errOut io.Writer) error
}

var commands = []command{
	{name: "list", summary: "list the complete backups at a destination", run: runList},
	{name: "verify", summary: "re-read a backup and check every checksum (and restore a drill)", run: runVerify},
	{name: "restore", summary: "restore a backup onto a new server: database, config, files", run: runRestore},
	{name: "wal-fetch", summary: "PostgreSQL's restore_command of a point-in-time restore: fetch one WAL file, checked", run: runWalFetch},
	{name: "settings", summary: "show the DR settings document the plugin keeps at a destination", run: runSettings},
	{name: "status", summary: "are we ready to lose a region? exit 0 healthy, 1 degraded, 2 critical, 3 unknown", run: runStatus},
	{name: "failover", summary: "run the failover runbook without Mattermost: plan, start, status, resume, abort", run: runFailover},
	{name: "version", summary: "print drctl's version (also drctl --version)", run: runVersion},
}

func runVersion(_ context.Context, args []string, out, _ io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	if err := parseFlags(fs, args, out, "drctl version: print drctl's version, as `drctl <version>`"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("unexpected argument %q", fs.Arg(0))
	}
	_, err := fmt.Fprintln(out, "drctl", version)
	return err
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "drctl: backups of the Mattermost Disaster Recovery plugin")
	fmt.Fprintln(w, "\nUsage: drctl <command> [flags]   (drctl help <command>, or drctl <command> -h, for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nResults go to stdout, progress and warnings to stderr. Exit status: 0 done, 1 failed, 2 usage error\n(drctl status: see drctl help status).")
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, out, errOut io.Writer) int {
	if len(args) == 0 {
		usage(errOut)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(out)
		return 0
	case "-version", "--version":
		args = append([]string{"version"}, args[1:]...)
	case "help":
		return runHelp(ctx, args[1:], out, errOut)
	}
	c := findCommand(args[0])
	if c == nil {
		fmt.Fprintf(errOut, "drctl: unknown command %q\n\n", args[0])
		usage(errOut)
		return 2
	}
	return exitCode(c.name, c.run(ctx, args[1:], out, errOut), errOut)
}

// runHelp is `drctl help [command [subcommand]]`: the same as `drctl command [subcommand] -h`.
func runHelp(ctx context.Context, args []string, out, errOut io.Writer) int {
	if len(args) == 0 {
		usage(out)
		return 0
	}
	c := findCommand(args[0])
	if c == nil {
		fmt.Fprintf(errOut, "drctl help: unknown command %q\n\n", args[0])
		usage(errOut)
		return 2
	}
	help := append(append([]string{}, args[1:]...), "-h")
	return exitCode(c.name, c.run(ctx, help, out, errOut), errOut)
}

func findCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// exitCode prints err, if any, to errOut and returns the exit status it means.
func exitCode(name string, err error, errOut io.Writer) int {
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		if ee.err != nil && !errors.Is(ee.err, flag.ErrHelp) {
			fmt.Fprintln(errOut, "drctl "+name+":", ee.err)
		}
		return ee.code
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(errOut, "drctl "+name+":", err)
		return 2
	default:
		fmt.Fprintln(errOut, "drctl "+name+": error:", err)
		return 1
	}
}

// parseFlags parses a command's flags. -h prints help (what the command does and prints, then
// its flags) to out and returns flag.ErrHelp; a flag that does not parse is a usage error (exit 2)
// and prints nothing to out, so that stdout only ever holds results.
func parseFlags(fs *flag.FlagSet, args []string, out io.Writer, help string) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(out, "%s\n\nFlags:\n", help)
		fs.SetOutput(out)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		return err
	}
	return usageErr("%v (drctl help %s lists the flags)", err, fs.Name())
}

var errUsage = errors.New("usage")

func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}
