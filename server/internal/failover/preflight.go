package failover

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/opensearchccr"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
)

// CheckState is a preflight check's outcome.
type CheckState string

// Check outcomes.
const (
	CheckPass CheckState = "pass"
	CheckWarn CheckState = "warn"
	CheckFail CheckState = "fail"
)

// Check is one preflight check.
type Check struct {
	Name   string     `json:"name"`
	State  CheckState `json:"state"`
	Detail string     `json:"detail"`
	Fix    string     `json:"fix,omitempty"`
	// Required checks block in failover mode too: they are about the target or the settings,
	// not about the region that is down.
	Required bool `json:"required,omitempty"`
}

// preflightComponents are the status components a failover depends on, with what the check
// means for it. Other components (idp, backups: see BackupCheck) do not gate a failover.
var preflightComponents = []struct{ component, name string }{
	{"database", "Database replication: the standby has the data (RPO lag under the threshold)"},
	{"opensearch", "OpenSearch followers are syncing"},
	{"s3", "S3 replication: no FAILED objects, nothing left behind"},
	{"scheduler", "Job scheduler placement"},
}

// PreflightOptions say how to read the report.
type PreflightOptions struct {
	Mode Mode
	// Waived components are shown but only warn, with the reason: a failback whose first step
	// makes the old region's OpenSearch follow again cannot expect it to follow already.
	Waived map[string]string
}

// Preflight turns a fresh status report and the extra checks into the preflight list. In
// switchover mode every problem fails the check; in failover mode (the region is down, so the
// old region's checks fail by definition) problems are warnings, except Required checks.
func Preflight(rep status.Report, o PreflightOptions, extra ...Check) []Check {
	bad := CheckFail
	if o.Mode == Failover {
		bad = CheckWarn
	}
	var out []Check
	for _, pc := range preflightComponents {
		var results []probe.Result
		for _, r := range rep.Results {
			if r.Component == pc.component && r.State != probe.NotConfigured {
				results = append(results, r)
			}
		}
		if len(results) == 0 {
			continue
		}
		c := Check{Name: pc.name, State: CheckPass}
		var details, fixes []string
		for _, r := range results {
			details = append(details, r.Name+": "+r.Summary)
			if r.State == probe.Healthy {
				continue
			}
			c.State = bad
			if why, ok := o.Waived[pc.component]; ok {
				c.State = CheckWarn
				details = append(details, "not required: "+why)
			}
			for _, f := range r.Findings {
				if f.State == probe.Healthy {
					continue
				}
				details = append(details, string(f.State)+": "+f.Message)
				if f.Fix != "" {
					fixes = append(fixes, f.Fix)
				}
			}
		}
		c.Detail, c.Fix = strings.Join(details, "; "), strings.Join(dedupe(fixes), "; ")
		out = append(out, c)
	}
	for _, c := range extra {
		if c.State == CheckFail && o.Mode == Failover && !c.Required {
			c.State = CheckWarn
		}
		out = append(out, c)
	}
	return out
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Blocked says whether a check failed.
func Blocked(checks []Check) bool {
	for _, c := range checks {
		if c.State == CheckFail {
			return true
		}
	}
	return false
}

// RequiredFailed says whether a check that --force cannot skip failed.
func RequiredFailed(checks []Check) bool {
	for _, c := range checks {
		if c.State == CheckFail && c.Required {
			return true
		}
	}
	return false
}

// BackupCheck is "a fresh verified backup": the newest verified backup is younger than maxAge.
func BackupCheck(newestVerified time.Time, maxAge time.Duration, now time.Time) Check {
	c := Check{Name: "A fresh verified backup"}
	switch {
	case newestVerified.IsZero():
		c.State, c.Detail = CheckFail, "no backup was ever verified"
	case now.Sub(newestVerified) > maxAge:
		c.State, c.Detail = CheckFail, fmt.Sprintf("the newest verified backup is %s old (more than %s)", now.Sub(newestVerified).Round(time.Minute), maxAge)
	default:
		c.State, c.Detail = CheckPass, fmt.Sprintf("verified %s ago", now.Sub(newestVerified).Round(time.Second))
		return c
	}
	c.Fix = "run `/dr backup now`, then `/dr backup verify latest`"
	return c
}

// FollowerCheckpoints checks on the follower cluster of region follower (the target) that every
// replicated index is SYNCING with its leader's checkpoint: nothing indexed in the old region
// is missing in the new one.
func FollowerCheckpoints(ctx context.Context, live Live, follower string) Check {
	c := Check{Name: "OpenSearch followers in " + follower + " have their leaders' checkpoints", State: CheckPass}
	cl, err := live.openSearch(follower)
	if err != nil {
		c.State, c.Detail = CheckFail, err.Error()
		return c
	}
	names, err := followerIndices(ctx, cl, live)
	if err != nil {
		c.State, c.Detail = CheckFail, err.Error()
		return c
	}
	var behind, ok []string
	for _, ix := range names {
		st, err := cl.Status(ctx, ix)
		switch {
		case err != nil:
			behind = append(behind, fmt.Sprintf("%s: %v", ix, err))
		case st.Status != opensearchccr.StateSyncing:
			behind = append(behind, fmt.Sprintf("%s is %s", ix, st.Status))
		default:
			if lag, _ := st.Lag(); lag > 0 {
				behind = append(behind, fmt.Sprintf("%s is %d operations behind", ix, lag))
			} else {
				ok = append(ok, ix)
			}
		}
	}
	if len(behind) > 0 {
		c.State, c.Detail = CheckFail, strings.Join(behind, "; ")
		c.Fix = "wait for the followers to catch up (`/dr status`), resume paused ones, or use --mode failover if the old region is down"
		return c
	}
	c.Detail = fmt.Sprintf("%d indices syncing with equal checkpoints (%s)", len(ok), strings.Join(ok, ", "))
	return c
}

// followerIndices are the indices replication covers on a cluster: the expected ones and every
// index matching the auto-follow pattern.
func followerIndices(ctx context.Context, cl *opensearchccr.Client, live Live) ([]string, error) {
	names := append([]string(nil), live.indices()...)
	ixs, err := cl.Indices(ctx, live.pattern())
	if err != nil {
		return nil, err
	}
	for _, ix := range ixs {
		if !contains(names, ix.Name) {
			names = append(names, ix.Name)
		}
	}
	sort.Strings(names[len(live.indices()):])
	return names, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
