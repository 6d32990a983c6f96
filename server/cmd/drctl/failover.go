package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failover"
)

const failoverUsage = `drctl failover: run the failover runbook without Mattermost (the journal and the lock live at the destination)

  drctl failover plan   --from DEST --to REGION --mode failover|switchover [--json]
  drctl failover start  --from DEST --to REGION --mode failover|switchover --confirm [--force] [--json]
  drctl failover status --from DEST [--json]
  drctl failover resume --from DEST [--json]
  drctl failover abort  --from DEST

DEST is a folder or s3://bucket/prefix; the DR settings document there must be trusted (--trust-key,
as for drctl status). Credentials come from the environment: the AWS chain, PGPASSWORD or ~/.pgpass,
DR_OPENSEARCH_USERNAME/PASSWORD; DR_WEBHOOK_TARGETS sends each step and the result to webhooks.
Steps that need Mattermost (posts, node reports, the plugin's settings) wait for the plugin.
Results go to stdout (--json: one JSON document: the plan, the run, or {"run", "alive", "lock_holder"}
for status), each step's progress to stderr.
Exit status: 0 the runbook completed or waits only for the plugin, 1 failure, 2 usage.`

// failoverFlags are the flags the failover subcommands share.
type failoverFlags struct {
	src            settingsSource
	to, mode       string
	confirm, force bool
	asJSON         bool
	poll, lockTTL  time.Duration
}

func (f *failoverFlags) register(fs *flag.FlagSet, sub string) {
	f.src.register(fs)
	fs.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	fs.DurationVar(&f.poll, "poll", failover.DefaultPoll, "how often the steps poll AWS, OpenSearch and PostgreSQL while they wait")
	fs.DurationVar(&f.lockTTL, "lock-ttl", failover.DefaultLockExpiry, "how long the runbook lock of a drctl that died lasts")
	if sub == "plan" || sub == "start" {
		fs.StringVar(&f.to, "to", "", "the region to move to (the standby region)")
		fs.StringVar(&f.mode, "mode", "", "switchover (planned, no data loss) or failover (the region is down: may lose the last writes)")
	}
	if sub == "start" {
		fs.BoolVar(&f.confirm, "confirm", false, "go ahead (without it, only the plan is shown)")
		fs.BoolVar(&f.force, "force", false, "start although preflight checks fail (recorded)")
	}
}

// parse reads the flags of sub and checks what does not need the destination.
func (f *failoverFlags) parse(sub string, args []string, out io.Writer) (failover.Mode, error) {
	fs := flag.NewFlagSet("failover "+sub, flag.ContinueOnError)
	f.register(fs, sub)
	if err := parseFlags(fs, args, out, failoverUsage); err != nil {
		return "", err
	}
	switch {
	case fs.NArg() > 0:
		return "", usageErr("unexpected argument %q", fs.Arg(0))
	case f.src.from == "":
		return "", usageErr("--from is required: the backup destination that holds the journal, a folder or s3://bucket/prefix")
	case f.poll <= 0 || f.lockTTL < time.Second:
		return "", usageErr("--poll must be positive and --lock-ttl at least 1s")
	}
	if sub != "plan" && sub != "start" {
		return "", nil
	}
	if strings.TrimSpace(f.to) == "" {
		return "", usageErr("--to is required: the region to move to")
	}
	if f.mode == "" {
		return "", usageErr("--mode is required: switchover (planned, no data loss) or failover (the region is down)")
	}
	mode, err := failover.ParseMode(f.mode)
	if err != nil {
		return "", usageErr("--mode: %v", err)
	}
	return mode, nil
}

// runFailover dispatches the subcommands.
func runFailover(ctx context.Context, args []string, out, errOut io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(errOut, failoverUsage)
		return usageErr("say which: plan, start, status, resume or abort")
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(out, failoverUsage)
		return nil
	}
	subs := map[string]func(context.Context, string, []string, io.Writer, io.Writer) error{
		"plan": failoverStart, "start": failoverStart, "status": failoverStatus, "resume": failoverResume, "abort": failoverAbort,
	}
	fn, ok := subs[args[0]]
	if !ok {
		return usageErr("unknown subcommand %q: plan, start, status, resume or abort", args[0])
	}
	return fn(ctx, args[0], args[1:], out, errOut)
}

// failoverStart plans, and with start --confirm runs, a failover.
func failoverStart(ctx context.Context, sub string, args []string, out, errOut io.Writer) error {
	var f failoverFlags
	mode, err := f.parse(sub, args, out)
	if err != nil {
		return err
	}
	env, err := newFailoverEnv(ctx, &f, errOut)
	if err != nil {
		return err
	}
	defer env.notify.flush()
	req := failover.Request{Kind: failover.KindFailover, To: f.to, Mode: mode, Force: f.force, Actor: env.actor}
	if sub == "plan" || !f.confirm {
		return showPlan(ctx, env, &f, req, sub, out)
	}
	_, err = env.svc.Start(ctx, req)
	if err != nil {
		return env.explain(ctx, err)
	}
	return env.result(ctx, &f, out)
}

// showPlan prints the plan; start without --confirm says what --confirm would do and fails
// with a usage error, so that a script never takes it for a failover.
func showPlan(ctx context.Context, env *failoverEnv, f *failoverFlags, req failover.Request, sub string, out io.Writer) error {
	plan, err := env.svc.Plan(ctx, req)
	if err != nil {
		return err
	}
	if f.asJSON {
		if err := writeJSON(out, plan); err != nil {
			return err
		}
	} else {
		command := fmt.Sprintf("drctl failover start --from %s --to %s --mode %s", f.src.from, plan.Run.To, req.Mode)
		if req.Force {
			command += " --force"
		}
		fmt.Fprintln(out, failover.PlanMarkdown(plan, command))
	}
	if sub == "start" {
		return usageErr("nothing was done: add --confirm to run these steps now from this machine (the journal and the lock are kept at %s; Ctrl-C stops before the next step)", f.src.from)
	}
	return nil
}

// openFailover parses a subcommand's flags and wires the service for it.
func openFailover(ctx context.Context, sub string, args []string, out, errOut io.Writer) (*failoverFlags, *failoverEnv, error) {
	f := &failoverFlags{}
	if _, err := f.parse(sub, args, out); err != nil {
		return nil, nil, err
	}
	env, err := newFailoverEnv(ctx, f, errOut)
	if err != nil {
		return nil, nil, err
	}
	return f, env, nil
}

func failoverResume(ctx context.Context, sub string, args []string, out, errOut io.Writer) error {
	f, env, err := openFailover(ctx, sub, args, out, errOut)
	if err != nil {
		return err
	}
	defer env.notify.flush()
	// Say which runbook goes on before it does: the journal is only as trustworthy as the
	// destination, and the operator sees who started it.
	if cur, err := env.svc.Current(ctx); err == nil && cur != nil {
		fmt.Fprintf(errOut, "resuming runbook %s (%s from %s to %s, started by %s at %s, %s)\n", cur.ID, cur.Kind, cur.From, cur.To, cur.Actor, cur.CreatedAt.UTC().Format(time.RFC3339), cur.State)
	}
	if _, err := env.svc.Resume(ctx, env.actor); err != nil {
		return env.explain(ctx, err)
	}
	return env.result(ctx, f, out)
}

func failoverAbort(ctx context.Context, sub string, args []string, out, errOut io.Writer) error {
	f, env, err := openFailover(ctx, sub, args, out, errOut)
	if err != nil {
		return err
	}
	defer env.notify.flush()
	run, err := env.svc.Abort(ctx, env.actor)
	if err != nil {
		return env.explain(ctx, err)
	}
	if f.asJSON {
		return writeJSON(out, run)
	}
	if run.State == failover.RunAborted {
		fmt.Fprintln(out, failover.AbortMarkdown(run))
		return nil
	}
	fmt.Fprintf(out, "Abort requested: runbook %s stops before its next step (the holder of the lock finishes %q first).\n", run.ID, run.Current().Title)
	return nil
}

func failoverStatus(ctx context.Context, sub string, args []string, out, errOut io.Writer) error {
	f, env, err := openFailover(ctx, sub, args, out, errOut)
	if err != nil {
		return err
	}
	run, err := env.svc.Current(ctx)
	if err != nil {
		return err
	}
	holder, until, held, err := env.lock.Holder(ctx)
	if err != nil {
		return err
	}
	if f.asJSON {
		v := struct {
			Run    *failover.Run    `json:"run"`
			Alive  bool             `json:"alive"`
			Holder *failover.Holder `json:"lock_holder,omitempty"`
		}{Run: run}
		if run != nil {
			v.Alive = env.svc.Alive(ctx, run.ID)
		}
		if held {
			v.Holder = &holder
		}
		return writeJSON(out, v)
	}
	if run == nil {
		fmt.Fprintf(out, "No runbook was ever started at %s. `drctl failover plan --from %s --to <region> --mode failover|switchover` shows what one would do.\n", f.src.from, f.src.from)
		return nil
	}
	fmt.Fprintln(out, failover.StatusMarkdown(run, env.svc.Alive(ctx, run.ID), time.Now()))
	if held {
		fmt.Fprintf(out, "\nThe runbook lock is held by %s until %s.\n", holder, until.UTC().Format(time.RFC3339))
	}
	return nil
}

// result prints where the runbook is after the drive, and fails unless it completed or waits
// only for the plugin.
func (e *failoverEnv) result(ctx context.Context, f *failoverFlags, out io.Writer) error {
	run, err := e.svc.Current(ctx)
	if err != nil {
		return err
	}
	if f.asJSON {
		if err := writeJSON(out, run); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(out, failover.SummaryMarkdown(run, time.Now())) // the steps' table included
	}
	if msg := e.log.lastError(); msg != "" {
		return e.explain(ctx, errors.New(msg))
	}
	switch run.State {
	case failover.RunCompleted, failover.RunForPlugin:
		return nil
	}
	return fmt.Errorf("runbook %s is %s: fix what the failed step says, then `drctl failover resume --from %s`, or `drctl failover abort --from %s`", run.ID, run.State, f.src.from, f.src.from)
}

// explain adds who holds the lock to a refusal, and drctl's commands to the plugin's hints.
func (e *failoverEnv) explain(ctx context.Context, err error) error {
	msg := err.Error()
	if errors.Is(err, failover.ErrActive) || errors.Is(err, failover.ErrLocked) || strings.Contains(msg, failover.ErrLocked.Error()) {
		if h, until, held, herr := e.lock.Holder(ctx); herr == nil && held {
			msg += fmt.Sprintf(" (the runbook lock at the destination is held by %s until %s)", h, until.UTC().Format(time.RFC3339))
		}
	}
	msg = strings.NewReplacer("/dr failover resume", "drctl failover resume", "/dr failover abort", "drctl failover abort",
		"/dr failover status", "drctl failover status", "/dr failover confirm", "the plugin's /dr failover confirm").Replace(msg)
	return errors.New(msg)
}

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
