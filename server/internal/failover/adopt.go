package failover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
)

// Adoption marks a runbook the plugin took over from a runner without Mattermost (drctl). It is
// written at the destination by compare-and-swap before anything else, so that of the nodes of
// the new region that find the runbook exactly one adopts it.
type Adoption struct {
	Source string    `json:"source"` // the backup destination the runbook was found at
	Node   string    `json:"node"`
	Region string    `json:"region"`
	At     time.Time `json:"at"`
	// Copied: the runbook is in the plugin's journal; from then on that copy is the one that counts.
	Copied bool `json:"copied,omitempty"`
	// Reported: the hand-over was audited and posted (claimed before, so never twice).
	Reported bool `json:"reported,omitempty"`
}

// adopterGrace is how long the other nodes leave a hand-over to its adopter before they
// resume it themselves (the adopter died half-way).
const adopterGrace = 2 * time.Minute

// ErrAdopted says another node adopted the runbook first.
var ErrAdopted = errors.New("another node adopted the runbook")

// Source is a backup destination's journal, where drctl keeps its runbook.
type Source struct {
	Name    string
	Journal Journal
	// Beats reads the heartbeat of the runner journaling there (drctl's StoreLock). Without it
	// only a runbook that says it waits for the plugin is adopted.
	Beats interface {
		LastBeat(ctx context.Context) (*Heartbeat, error)
	}
}

// Handover adopts the runbooks drctl left waiting for the plugin. Service is the plugin's own
// (its journal, announcer, settings, nodes and audit trail): it finishes the runbook.
type Handover struct {
	Service *Service
	// Region is this node's region.
	Region string
	// Writes checks that the database this Mattermost runs on takes writes.
	Writes func(ctx context.Context) error
}

// Outcome is what Consider did with the runbook at one destination.
type Outcome struct {
	Run *Run
	// Adopted: this node took the runbook over now (its adoption mark won).
	Adopted bool
	// Resumed: this node went on with a hand-over that had stopped (a crash).
	Resumed bool
	// Refused says why a runbook that asks for the plugin is not adopted: for the ops channel.
	Refused string
	// Skipped says why there is nothing to do (over, adopted, still running): for the log.
	Skipped string
}

// Verdict is the rules' answer for a runbook found at a destination.
type Verdict struct {
	Adopt   bool
	Refused string
	Skipped string
}

// Judge applies the adoption rules that need nothing but the runbook, the settings' regions
// and this node's region. Nothing in a stored runbook is trusted beyond what it is checked for:
// one that does not move to this region, between this deployment's regions, with its database
// step done, is refused.
func Judge(run *Run, setup Setup, region string, held bool) Verdict {
	db := run.Step(KindDatabase)
	switch {
	case run.State.Terminal():
		return Verdict{Skipped: fmt.Sprintf("runbook %s is %s", run.ID, run.State)}
	case run.Adopted != nil:
		return Verdict{Skipped: fmt.Sprintf("runbook %s was adopted by node %s", run.ID, run.Adopted.Node)}
	case run.State != RunForPlugin && held:
		return Verdict{Skipped: fmt.Sprintf("runbook %s is %s and its runner is alive", run.ID, run.State)}
	case region == "":
		return Verdict{Refused: "this node's region is unknown: set DR_REGION in the environment of the app nodes or \"This region\" (DRThisRegion) in the plugin settings"}
	case !strings.EqualFold(run.To, region):
		return Verdict{Refused: fmt.Sprintf("it moves to %s, but this node is in %s: only a node of %s takes it over", run.To, region, run.To)}
	case !strings.EqualFold(run.From, setup.Primary) || !strings.EqualFold(run.To, setup.Standby):
		return Verdict{Refused: fmt.Sprintf("it goes from %s to %s, but the plugin settings name %s the primary and %s the standby region", run.From, run.To, setup.Primary, setup.Standby)}
	case db == nil:
		return Verdict{Refused: "it has no database step"}
	case db.State != StepDone:
		return Verdict{Refused: fmt.Sprintf("its database step is %s, not done: the database has not moved", db.State)}
	}
	return Verdict{Adopt: true}
}

// Consider looks at the runbook at src and adopts it when every rule holds and reality agrees;
// it goes on with a hand-over that stopped half-way (a crash) and does nothing twice.
func (h *Handover) Consider(ctx context.Context, src Source) (Outcome, error) {
	run, err := src.Journal.Load(ctx)
	if err != nil || run == nil {
		return Outcome{}, err
	}
	if run.Adopted != nil {
		return h.resume(ctx, src, run)
	}
	held, err := h.held(ctx, src, run)
	if err != nil {
		return Outcome{}, err
	}
	if out, ok, err := h.check(ctx, run, held); !ok || err != nil {
		return out, err
	}
	marked, err := h.mark(ctx, src, run)
	if errors.Is(err, ErrAdopted) {
		return Outcome{Run: run, Skipped: err.Error()}, nil
	}
	if err != nil {
		return Outcome{Run: run}, err
	}
	return h.finish(ctx, src, marked, false)
}

// check applies the rules, then asks the plugin's journal and the database: ok when run may be
// adopted, else the outcome says why not.
func (h *Handover) check(ctx context.Context, run *Run, held bool) (Outcome, bool, error) {
	setup, err := h.Service.Config.Setup(ctx)
	if err != nil {
		return refused(run, "the plugin settings do not say which regions are ours: "+err.Error())
	}
	if v := Judge(run, setup, h.Region, held); !v.Adopt {
		return Outcome{Run: run, Refused: v.Refused, Skipped: v.Skipped}, false, nil
	}
	if why, err := h.conflict(ctx, run); err != nil || why != "" {
		return Outcome{Run: run, Refused: why}, false, err
	}
	if err := h.reality(ctx, run); err != nil {
		return refused(run, err.Error())
	}
	return Outcome{}, true, nil
}

// refused is check's answer for a runbook it will not adopt: a finding for the ops channel,
// not an error of this node.
func refused(run *Run, why string) (Outcome, bool, error) {
	return Outcome{Run: run, Refused: why}, false, nil
}

// held says whether a runner still drives the runbook: its heartbeat there is fresh.
func (h *Handover) held(ctx context.Context, src Source, run *Run) (bool, error) {
	if run.State == RunForPlugin {
		return false, nil
	}
	if src.Beats == nil {
		// Without the runner's heartbeat nothing says it stopped: leave the runbook to it.
		return true, nil
	}
	hb, err := src.Beats.LastBeat(ctx)
	if err != nil {
		return false, fmt.Errorf("read the runner's heartbeat at %s: %w", src.Name, err)
	}
	return hb != nil && hb.Run == run.ID && (hb.At.IsZero() || h.Service.now().Sub(hb.At) <= h.Service.heartbeatTTL()), nil
}

// conflict says why the plugin's own journal keeps run out: it holds another active runbook.
func (h *Handover) conflict(ctx context.Context, run *Run) (string, error) {
	mine, err := h.Service.Journal.Load(ctx)
	if err != nil {
		return "", err
	}
	if mine != nil && mine.ID != run.ID && !mine.State.Terminal() {
		return fmt.Sprintf("the plugin's journal holds runbook %s (%s to %s), which is %s: finish it (`/dr failover resume`) or abort it (`/dr failover abort`) first", mine.ID, mine.From, mine.To, mine.State), nil
	}
	return "", nil
}

// reality checks what the storage says against the systems: the database takes writes here.
func (h *Handover) reality(ctx context.Context, run *Run) error {
	if h.Writes == nil {
		return errors.New("this node cannot check that its database takes writes")
	}
	if err := h.Writes(ctx); err != nil {
		return fmt.Errorf("the database this Mattermost runs on does not take writes: %w", err)
	}
	live, err := h.Service.Config.Live(ctx)
	if err != nil {
		return fmt.Errorf("read the settings: %w", err)
	}
	if live.AuroraGlobalID == "" {
		return nil
	}
	cluster := live.region(run.To).AuroraCluster
	c, err := live.aurora(ctx, run.From, run.To)
	if err != nil {
		return fmt.Errorf("ask AWS which Aurora cluster is the writer: %w", err)
	}
	g, err := c.GlobalCluster(ctx, live.AuroraGlobalID)
	if err != nil {
		return fmt.Errorf("ask AWS which Aurora cluster is the writer: %w", err)
	}
	if m, ok := g.Member(cluster); !ok || !m.IsWriter {
		w, _ := g.Writer()
		return fmt.Errorf("the writer of Aurora global cluster %s is %q, not %s's cluster %q", live.AuroraGlobalID, w.ID, run.To, cluster)
	}
	return nil
}

// mark records the intent at the destination: the adoption mark, by compare-and-swap, on the
// runbook as it is now (rules checked again, for a runner that wrote in between).
func (h *Handover) mark(ctx context.Context, src Source, run *Run) (*Run, error) {
	return src.Journal.Update(ctx, func(cur *Run) (*Run, error) {
		switch {
		case cur == nil || cur.ID != run.ID:
			return nil, fmt.Errorf("%w: the runbook at %s changed", ErrAdopted, src.Name)
		case cur.Adopted != nil:
			return nil, fmt.Errorf("%w: node %s took runbook %s over", ErrAdopted, cur.Adopted.Node, cur.ID)
		case cur.State != run.State || !cur.UpdatedAt.Equal(run.UpdatedAt):
			return nil, fmt.Errorf("%w: runbook %s changed while this node checked it", ErrAdopted, cur.ID)
		}
		cur.Adopted = &Adoption{Source: src.Name, Node: h.Service.Node, Region: h.Region, At: h.Service.now().UTC()}
		return cur, nil
	})
}

// resume goes on with a hand-over that stopped: copy the runbook if its adopter stopped before
// that (checking the rules again: the mark is the destination's word too), and drive it when
// nobody does. A runbook copied and since finished or replaced is left alone.
func (h *Handover) resume(ctx context.Context, src Source, run *Run) (Outcome, error) {
	if !strings.EqualFold(run.Adopted.Node, h.Service.Node) && h.Service.now().Sub(run.Adopted.At) < adopterGrace {
		return Outcome{Run: run, Skipped: fmt.Sprintf("node %s adopted runbook %s moments ago", run.Adopted.Node, run.ID)}, nil
	}
	mine, err := h.Service.Journal.Load(ctx)
	if err != nil {
		return Outcome{}, err
	}
	if mine == nil || mine.ID != run.ID {
		if run.Adopted.Copied {
			return Outcome{Run: run, Skipped: fmt.Sprintf("runbook %s was adopted by node %s", run.ID, run.Adopted.Node)}, nil
		}
		return h.recheck(ctx, src, run)
	}
	switch {
	case mine.State.Terminal():
		return Outcome{Run: mine, Skipped: fmt.Sprintf("runbook %s was adopted by node %s and is %s", mine.ID, run.Adopted.Node, mine.State)}, nil
	case h.Service.Alive(ctx, mine.ID):
		return Outcome{Run: mine, Skipped: fmt.Sprintf("runbook %s is running (node %s)", mine.ID, mine.Node)}, nil
	case mine.Adopted != nil && mine.Adopted.Reported && (mine.State == RunFailed || mine.State == RunWaiting):
		// A person's turn: `/dr failover resume` or confirm, as for a runbook started in chat.
		return Outcome{Run: mine, Skipped: fmt.Sprintf("runbook %s is %s: `/dr failover status`", mine.ID, mine.State)}, nil
	}
	return h.finish(ctx, src, run, true)
}

// recheck applies the rules to a marked runbook the plugin's journal does not have yet.
func (h *Handover) recheck(ctx context.Context, src Source, run *Run) (Outcome, error) {
	bare := *run
	bare.Adopted = nil
	if out, ok, err := h.check(ctx, &bare, false); !ok || err != nil {
		out.Run = run
		return out, err
	}
	return h.finish(ctx, src, run, true)
}

// finish copies the marked runbook into the plugin's journal, audits and posts the hand-over
// once, and drives the steps left in the failover job.
func (h *Handover) finish(ctx context.Context, src Source, marked *Run, resumed bool) (Outcome, error) {
	if h.Service.Hit != nil {
		// A kill here leaves the mark without the copy: the next look must finish the hand-over.
		h.Service.Hit("failover.handover.marked")
	}
	copied, err := h.copyIn(ctx, marked)
	if err != nil {
		return Outcome{Run: marked}, err
	}
	if !marked.Adopted.Copied {
		// Best effort: the plugin's copy has it; this spares the destination's readers a resume.
		_, _ = src.Journal.Update(ctx, func(cur *Run) (*Run, error) {
			if cur == nil || cur.ID != marked.ID || cur.Adopted == nil {
				return nil, fmt.Errorf("%w: the runbook at %s changed", ErrOtherRun, src.Name)
			}
			cur.Adopted.Copied = true
			return cur, nil
		})
	}
	if err := h.report(ctx, copied); err != nil {
		return Outcome{Run: copied}, err
	}
	out := Outcome{Run: copied, Adopted: !resumed, Resumed: resumed}
	if err := h.Service.drive(copied.ID, h.actor()); err != nil {
		return out, fmt.Errorf("runbook %s is adopted but could not start here: %w; `/dr failover resume` starts it", copied.ID, err)
	}
	return out, nil
}

// copyIn puts the runbook into the plugin's journal, unless it is there already.
func (h *Handover) copyIn(ctx context.Context, marked *Run) (*Run, error) {
	return h.Service.Journal.Update(ctx, func(cur *Run) (*Run, error) {
		switch {
		case cur != nil && cur.ID == marked.ID:
			return cur, nil
		case cur != nil && !cur.State.Terminal():
			return nil, coded(ErrActive, "runbook %s is %s in the plugin's journal: runbook %s cannot be adopted", cur.ID, cur.State, marked.ID)
		}
		c := *marked
		a := *marked.Adopted
		a.Copied = true
		c.Adopted = &a
		return &c, nil
	})
}

// actor is the plugin itself, which runs the steps it took over.
func (h *Handover) actor() Actor {
	return Actor{ID: audit.ActorSystem, Name: "dr-plugin@" + h.Service.Node}
}

// report audits what drctl did and posts the hand-over, once: the claim is journaled first,
// so that neither a restart nor another node does it again.
func (h *Handover) report(ctx context.Context, run *Run) error {
	claimed := false
	_, err := h.Service.Journal.Update(ctx, func(cur *Run) (*Run, error) {
		claimed = false
		if cur == nil || cur.ID != run.ID || cur.Adopted == nil {
			return nil, coded(ErrOtherRun, "runbook %s was replaced during its hand-over", run.ID)
		}
		if cur.Adopted.Reported {
			return cur, nil
		}
		cur.Adopted.Reported, claimed = true, true
		return cur, nil
	})
	if err != nil || !claimed {
		return err
	}
	for _, e := range HandoverAudit(run, h.actor()) {
		h.Service.audit(e)
	}
	if h.Service.Announcer != nil {
		if err := h.Service.Announcer.Ops(HandoverMarkdown(run, h.Service.now())); err != nil {
			h.Service.warn("Cannot post the runbook's hand-over", "run", run.ID, "error", err.Error())
		}
	}
	return nil
}

// MirrorEnd writes the end of an adopted runbook back where drctl found it, so that drctl (its
// status, its next start) sees it over rather than still waiting for the plugin. Only the
// runbook that was adopted from there is replaced.
func MirrorEnd(ctx context.Context, src Journal, run *Run) error {
	if run.Adopted == nil || !run.State.Terminal() {
		return nil
	}
	_, err := src.Update(ctx, func(cur *Run) (*Run, error) {
		if cur == nil || cur.ID != run.ID || cur.Adopted == nil {
			return nil, coded(ErrOtherRun, "the destination holds another runbook than %s", run.ID)
		}
		c := *run
		return &c, nil
	})
	return err
}
