package failover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Plan lays out the runbook req asks for and runs the preflight checks; it changes nothing.
func (s *Service) Plan(ctx context.Context, req Request) (Plan, error) {
	setup, err := s.Config.Setup(ctx)
	if err != nil {
		return Plan{}, err
	}
	last, err := s.Journal.Load(ctx)
	if err != nil {
		return Plan{}, err
	}
	from, to, err := direction(req, setup, last)
	if err != nil {
		return Plan{}, err
	}
	// Steps the last runbook deferred (or carried and did not finish) run first in the next one,
	// whichever way it goes: they bring the old region's side up to date before it leads again.
	var carriedFrom *Run
	if last != nil && last.State.Terminal() {
		carriedFrom = last
	}
	plan := Plan{}
	if last != nil && !last.State.Terminal() {
		plan.Notes = append(plan.Notes, fmt.Sprintf("Runbook `%s` is %s: a new one cannot start until it is resumed to its end or aborted.", last.ID, last.State))
	}
	live, err := s.Config.Live(ctx)
	if err != nil {
		return Plan{}, err
	}
	run := NewRun(req.Kind, req.Mode, from, to, req.Actor.ID, req.Actor.Name, carriedFrom, s.now())
	s.engine(req.Actor).Describe(live, run)
	plan.Run = run
	plan.Checks = s.preflight(ctx, setup, live, run)
	plan.Blocked = Blocked(plan.Checks)
	return plan, nil
}

// direction is where a runbook goes: a failover from the primary to the standby named in
// req.To, a failback back along the last runbook.
func direction(req Request, setup Setup, last *Run) (from, to string, err error) {
	if req.Kind == KindFailback {
		// A failback reverses the last runbook, completed or aborted half-way: every step
		// checks what is in place, so it undoes exactly what was done.
		switch {
		case last == nil:
			return "", "", errors.New("no failover to fail back from: `/dr failover plan --to <region>` moves to the standby region")
		case !last.State.Terminal():
			return "", "", fmt.Errorf("runbook `%s` is %s: resume it (`/dr failover resume`) or abort it (`/dr failover abort`) first", last.ID, last.State)
		case last.Kind == KindFailback && last.State == RunCompleted:
			return "", "", fmt.Errorf("the last runbook (`%s`) was a completed failback to %s: there is nothing to fail back; `/dr failover plan --to %s` moves again", last.ID, last.To, setup.Standby)
		}
		return last.To, last.From, nil
	}
	from, to = setup.Primary, setup.Standby
	switch {
	case strings.EqualFold(req.To, from):
		return "", "", fmt.Errorf("%s is the primary region already (the standby is %s)", from, to)
	case !strings.EqualFold(req.To, to):
		return "", "", fmt.Errorf("unknown region %q: the primary region is %s and the standby %s", req.To, from, to)
	}
	return from, to, nil
}

// preflight runs the status probes and the failover's own checks.
func (s *Service) preflight(ctx context.Context, setup Setup, live Live, run *Run) []Check {
	o := PreflightOptions{Mode: run.Mode, Waived: map[string]string{}}
	carriesOpenSearch := false
	for _, st := range run.Steps {
		if st.DeferredFrom != "" && st.Kind == KindOpenSearchFollow {
			carriesOpenSearch = true
			o.Waived["opensearch"] = fmt.Sprintf("the deferred step makes %s's OpenSearch follow %s before anything else moves", st.From, st.To)
		}
	}
	extra := append(settingsChecks(live, run), s.Checks...)
	if target := live.Regions[run.To]; live.OpenSearchConfigured() && target.OpenSearchURL != "" && !carriesOpenSearch {
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		extra = append(extra, FollowerCheckpoints(cctx, live, run.To))
		cancel()
	}
	extra = append(extra, s.backupCheck(ctx, setup))
	rep, err := s.Prober.Check(ctx)
	if err != nil {
		extra = append(extra, Check{Name: "Status probes", State: CheckFail, Detail: err.Error(), Fix: "see `/dr status`"})
	}
	return Preflight(rep, o, extra...)
}

// settingsChecks are the settings a runbook from run.From to run.To needs.
func settingsChecks(live Live, run *Run) []Check {
	var out []Check
	target := live.Regions[run.To]
	if live.AuroraGlobalID != "" && target.AuroraCluster == "" {
		out = append(out, Check{Name: "Settings: the Aurora cluster of " + run.To, State: CheckFail, Required: true,
			Detail: "not set", Fix: "set the standby region's Aurora cluster under Regions and database replication"})
	}
	if !live.OpenSearchConfigured() {
		return out
	}
	if target.OpenSearchURL == "" {
		out = append(out, Check{Name: "Settings: the OpenSearch cluster of " + run.To, State: CheckFail, Required: true,
			Detail: "not set", Fix: "set the OpenSearch URL of " + run.To + " under OpenSearch replication"})
	}
	if live.Regions[run.From].OpenSearchAlias == "" {
		out = append(out, Check{Name: "Settings: the OpenSearch connection from " + run.From + " to " + run.To, State: CheckFail,
			Detail: "the name of " + run.From + "'s connection to " + run.To + "'s cluster is not set, so " + run.From + " cannot follow " + run.To + " afterwards",
			Fix:    "set DROpenSearchReverseLeaderAlias (or DROpenSearchLeaderAlias) for that direction"})
	}
	return out
}

// backupCheck is "a fresh verified backup"; a record that cannot be read fails it.
func (s *Service) backupCheck(ctx context.Context, setup Setup) Check {
	maxAge := setup.BackupMaxAge
	if maxAge <= 0 {
		maxAge = DefaultBackupMaxAge
	}
	newest, err := s.Backups.NewestVerified(ctx)
	if err != nil {
		return Check{Name: "A fresh verified backup", State: CheckFail, Detail: fmt.Sprintf("cannot read when a backup was last verified: %v", err),
			Fix: "see `/dr backup list`; `/dr backup verify latest` records a verification"}
	}
	return BackupCheck(newest, maxAge, s.now())
}
