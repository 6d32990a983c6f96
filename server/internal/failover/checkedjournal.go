package failover

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrForeignRun is wrapped when the journal at a destination holds a runbook that does not
// belong to the deployment the trusted settings describe.
var ErrForeignRun = errors.New("the failover journal does not match the trusted DR settings")

// CheckedJournal refuses a stored runbook that the trusted settings do not account for. Whoever
// can write the backup storage can write the journal, and a runbook drctl resumes calls real
// systems: its regions, step kinds and id must be the ones this deployment's runbooks have.
type CheckedJournal struct {
	Journal
	// Regions are the trusted settings' two regions.
	Regions [2]string
	// Where names the journal in errors (the destination).
	Where string
}

// Load returns the current runbook after checking it.
func (j CheckedJournal) Load(ctx context.Context) (*Run, error) {
	r, err := j.Journal.Load(ctx)
	if err != nil || r == nil {
		return r, err
	}
	if err := j.Check(r); err != nil {
		return nil, err
	}
	return r, nil
}

// Update checks the stored runbook before fn sees it.
func (j CheckedJournal) Update(ctx context.Context, fn func(cur *Run) (*Run, error)) (*Run, error) {
	return j.Journal.Update(ctx, func(cur *Run) (*Run, error) {
		if cur != nil {
			if err := j.Check(cur); err != nil {
				return nil, err
			}
		}
		return fn(cur)
	})
}

var runIDPattern = regexp.MustCompile(`^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$`)

// Check says why r cannot be this deployment's runbook; nil when it can.
func (j CheckedJournal) Check(r *Run) error {
	var why []string
	if !runIDPattern.MatchString(r.ID) {
		why = append(why, fmt.Sprintf("its id %q is not a runbook id", r.ID))
	}
	if !j.pair(r.From, r.To) {
		why = append(why, fmt.Sprintf("it goes from %q to %q", r.From, r.To))
	}
	if r.Kind != KindFailover && r.Kind != KindFailback {
		why = append(why, fmt.Sprintf("its kind is %q", r.Kind))
	}
	known := Steps(Deps{})
	for _, s := range r.Steps {
		if _, ok := known[s.Kind]; !ok {
			why = append(why, fmt.Sprintf("step %q has the unknown kind %q", s.Name, s.Kind))
		}
		if !j.pair(s.From, s.To) {
			why = append(why, fmt.Sprintf("step %q goes from %q to %q", s.Name, s.From, s.To))
		}
	}
	if len(why) == 0 {
		return nil
	}
	return fmt.Errorf("%w: the runbook at %s (%s) cannot be this deployment's, whose regions are %s and %s: %s. drctl will not act on it; if it was planted or belongs to another deployment, move %s away and start again",
		ErrForeignRun, j.Where, StoreKeyCurrent, j.Regions[0], j.Regions[1], strings.Join(why, "; "), StoreKeyCurrent)
}

// pair says whether from and to are the two regions, either way round.
func (j CheckedJournal) pair(from, to string) bool {
	a, b := j.Regions[0], j.Regions[1]
	return (from == a && to == b) || (from == b && to == a)
}
