package failover_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failover"
)

const drctlUser = "ops@laptop"

// runWith is a runbook from east to west as drctl leaves it: the database promoted, the steps
// that need Mattermost waiting for the plugin.
func runWith(fn func(r *failover.Run)) *failover.Run {
	now := time.Now().UTC()
	r := failover.NewRun(failover.KindFailover, failover.Failover, east, west, "drctl:"+drctlUser, drctlUser, nil, now)
	r.State = failover.RunForPlugin
	for i := range r.Steps {
		s := &r.Steps[i]
		s.State = failover.StepDone
		if s.Kind == failover.KindAnnounce || s.Kind == failover.KindScheduler || s.Kind == failover.KindSettings {
			s.State = failover.StepForPlugin
		}
	}
	if fn != nil {
		fn(r)
	}
	return r
}

func setStep(kind string, state failover.StepState) func(r *failover.Run) {
	return func(r *failover.Run) { r.Step(kind).State = state }
}

func TestJudge(t *testing.T) {
	setup := failover.Setup{Primary: east, Standby: west}
	for _, tc := range []struct {
		name           string
		run            *failover.Run
		region         string
		held           bool
		refused, skips string // substrings; both empty: adopted
	}{
		{name: "waiting for the plugin", run: runWith(nil), region: west},
		{name: "region case differs", run: runWith(nil), region: strings.ToUpper(west)},
		{name: "waiting for the plugin, heartbeat fresh", run: runWith(nil), region: west, held: true},
		{name: "interrupted, runner gone", run: runWith(func(r *failover.Run) { r.State = failover.RunInterrupted }), region: west},
		{name: "failed after the database, runner gone", run: runWith(func(r *failover.Run) {
			r.State = failover.RunFailed
			r.Step(failover.KindDNS).State = failover.StepFailed
		}), region: west},
		{name: "running, runner alive", run: runWith(func(r *failover.Run) { r.State = failover.RunRunning }), region: west, held: true, skips: "runner is alive"},
		{name: "completed", run: runWith(func(r *failover.Run) { r.State = failover.RunCompleted }), region: west, skips: "completed"},
		{name: "aborted", run: runWith(func(r *failover.Run) { r.State = failover.RunAborted }), region: west, skips: "aborted"},
		{name: "adopted already", run: runWith(func(r *failover.Run) { r.Adopted = &failover.Adoption{Node: "node-b"} }), region: west, skips: "adopted by node node-b"},
		{name: "no region here", run: runWith(nil), region: "", refused: "region is unknown"},
		{name: "moves to another region", run: runWith(nil), region: east, refused: "moves to us-west-2, but this node is in us-east-1"},
		{name: "to a region not ours", run: runWith(func(r *failover.Run) { r.To = "eu-west-1" }), region: "eu-west-1", refused: "the plugin settings name us-east-1 the primary"},
		{name: "from a region not ours", run: runWith(func(r *failover.Run) { r.From = "eu-west-1" }), region: west, refused: "goes from eu-west-1 to us-west-2"},
		{name: "backwards", run: runWith(func(r *failover.Run) { r.From, r.To = west, east }), region: east, refused: "the plugin settings name"},
		{name: "database pending", run: runWith(setStep(failover.KindDatabase, failover.StepPending)), region: west, refused: "database step is pending"},
		{name: "database failed", run: runWith(setStep(failover.KindDatabase, failover.StepFailed)), region: west, refused: "database step is failed"},
		{name: "database waits for a person", run: runWith(setStep(failover.KindDatabase, failover.StepWaiting)), region: west, refused: "database step is waiting"},
		{name: "database left for the plugin", run: runWith(setStep(failover.KindDatabase, failover.StepForPlugin)), region: west, refused: "not done"},
		{name: "no database step", run: runWith(func(r *failover.Run) {
			r.Step(failover.KindDatabase).Kind, r.Step(failover.KindDatabase).Name = "x", "x"
		}), region: west, refused: "no database step"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := failover.Judge(tc.run, setup, tc.region, tc.held)
			switch {
			case tc.refused != "":
				assert.False(t, v.Adopt)
				assert.Contains(t, v.Refused, tc.refused)
			case tc.skips != "":
				assert.False(t, v.Adopt)
				assert.Empty(t, v.Refused, "nothing to warn about")
				assert.Contains(t, v.Skipped, tc.skips)
			default:
				assert.True(t, v.Adopt, "%+v", v)
			}
		})
	}
}

// handover is the plugin's side (f.svc, in the new region) and a destination journal that
// drctl wrote.
type handover struct {
	*fixture
	h      *failover.Handover
	dest   *failover.StoreJournal
	writes error
}

func newHandover(t *testing.T) *handover {
	t.Helper()
	f := newFixture()
	j, _ := storeJournal(t)
	x := &handover{fixture: f, dest: j}
	x.h = &failover.Handover{Service: f.svc, Region: west, Writes: func(context.Context) error { return x.writes }}
	return x
}

// drctl runs the runbook at the destination the way drctl does: the same service without
// Mattermost, a person confirming the database promotion (nothing is configured here).
func (x *handover) drctl(t *testing.T) *failover.Run {
	t.Helper()
	shell := &failover.Service{Journal: x.dest, Lock: &fakeLock{}, Config: x.config, Prober: fakeProber{}, Backups: x.backups,
		Runner: &syncRunner{}, Clock: x.clock, Node: "laptop", Process: 7}
	ctx := context.Background()
	actor := failover.Actor{ID: "drctl:" + drctlUser, Name: drctlUser}
	_, err := shell.Start(ctx, failover.Request{Kind: failover.KindFailover, To: west, Mode: failover.Failover, Actor: actor})
	require.NoError(t, err)
	_, err = shell.Confirm(ctx, actor)
	require.NoError(t, err)
	run := x.atDest(t)
	require.Equal(t, failover.RunForPlugin, run.State)
	return run
}

func (x *handover) atDest(t *testing.T) *failover.Run {
	t.Helper()
	run, err := x.dest.Load(context.Background())
	require.NoError(t, err)
	return run
}

func (x *handover) consider(t *testing.T) failover.Outcome {
	t.Helper()
	out, err := x.h.Consider(context.Background(), failover.Source{Name: "local", Journal: x.dest})
	require.NoError(t, err)
	return out
}

func (x *handover) posts(substr string) int {
	x.ann.mu.Lock()
	defer x.ann.mu.Unlock()
	n := 0
	for _, m := range x.ann.ops {
		if strings.Contains(m, substr) {
			n++
		}
	}
	return n
}

func (x *handover) audits(prefix string) int {
	x.audit.mu.Lock()
	defer x.audit.mu.Unlock()
	n := 0
	for _, e := range x.audit.entries {
		if strings.HasPrefix(e, prefix) {
			n++
		}
	}
	return n
}

func TestHandoverAdoptsAndFinishes(t *testing.T) {
	x := newHandover(t)
	drctl := x.drctl(t)
	out := x.consider(t)
	require.True(t, out.Adopted, "%+v", out)

	run := x.load(t)
	assert.Equal(t, drctl.ID, run.ID)
	assert.Equal(t, failover.RunCompleted, run.State, failover.StatusMarkdown(run, false, time.Now()))
	assert.Equal(t, west, x.settings.PrimaryRegion(), "the plugin swapped its settings")
	require.NotNil(t, run.Adopted)
	assert.True(t, run.Adopted.Copied && run.Adopted.Reported)
	assert.Equal(t, "node-a", run.Adopted.Node)
	assert.Equal(t, drctlUser, run.Step(failover.KindDatabase).Actor, "drctl's step keeps its actor")
	assert.Equal(t, "dr-plugin@node-a", run.Step(failover.KindSettings).Actor)
	for _, s := range run.Steps {
		assert.True(t, s.State.Finished() && s.State != failover.StepForPlugin, "%s is %s", s.Name, s.State)
	}
	marked := x.atDest(t)
	require.NotNil(t, marked.Adopted)
	assert.True(t, marked.Adopted.Copied, "the destination says the plugin's journal has it")

	assert.Equal(t, 1, x.posts(":handshake: **Failover `"+run.ID+"` from us-east-1 to us-west-2 (failover) was started by drctl (`ops@laptop`)"))
	assert.Equal(t, 1, x.posts("completed**"))
	assert.Equal(t, 1, x.posts("Started by drctl (`ops@laptop`); adopted by the plugin on node `node-a`"), "the summary names the hand-over")
	assert.Equal(t, 1, x.audits("failover.adopt "+run.ID+" succeeded"))
	assert.Equal(t, 1, x.audits("failover.start "+run.ID+" started"))
	assert.Equal(t, 1, x.audits("failover.step "+run.ID+"/database succeeded"), "drctl's database step is audited once, from the hand-over")
	assert.Equal(t, 1, x.audits("failover.complete "+run.ID))

	// The end is written back for drctl; a runbook that replaced it there is left alone.
	require.NoError(t, failover.MirrorEnd(context.Background(), x.dest, run))
	assert.Equal(t, failover.RunCompleted, x.atDest(t).State)
	other := *run
	other.ID = "someone-else"
	require.ErrorIs(t, failover.MirrorEnd(context.Background(), x.dest, &other), failover.ErrOtherRun)

	// A restart: nothing again.
	posts, audits := len(x.ann.ops), len(x.audit.entries)
	out = x.consider(t)
	assert.False(t, out.Adopted || out.Resumed)
	assert.Empty(t, out.Refused)
	assert.Contains(t, out.Skipped, "completed")
	assert.Len(t, x.ann.ops, posts)
	assert.Len(t, x.audit.entries, audits)
}

func TestHandoverAuditCarriesDrctlActor(t *testing.T) {
	run := runWith(func(r *failover.Run) {
		now := time.Now()
		db := r.Step(failover.KindDatabase)
		db.StartedAt, db.FinishedAt, db.DurationMS, db.Attempts, db.Actor = &now, &now, 1234, 2, "other@host"
		r.Adopted = &failover.Adoption{Source: "s3", Node: "n1", Region: west}
	})
	entries := failover.HandoverAudit(run, failover.Actor{ID: "system", Name: "dr-plugin@n1"})
	var db, adopt bool
	for _, e := range entries {
		switch {
		case e.Action == "failover.step" && e.Target == run.ID+"/database":
			db = true
			assert.Equal(t, "drctl: other@host", e.Actor)
			assert.Equal(t, "drctl:"+drctlUser, e.ActorID)
			assert.Equal(t, "1234", e.Details["duration_ms"])
			assert.Equal(t, "2", e.Details["attempts"])
		case e.Action == "failover.adopt":
			adopt = true
			assert.Equal(t, "s3", e.Details["source"])
			assert.Equal(t, "drctl: "+drctlUser, e.Details["started_by"])
		}
	}
	assert.True(t, db && adopt, "%+v", entries)
	md := failover.HandoverMarkdown(run, time.Now())
	assert.Contains(t, md, "| other@host |")
	assert.Contains(t, md, "1.2s")
}

func TestHandoverRefusals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		region  string
		plant   func(r *failover.Run)
		writes  error
		kvRun   bool
		refused string
	}{
		{name: "to another region", region: east, refused: "moves to us-west-2, but this node is in us-east-1"},
		{name: "regions not ours", plant: func(r *failover.Run) { r.From = "eu-central-1" }, refused: "goes from eu-central-1"},
		{name: "database not done", plant: setStep(failover.KindDatabase, failover.StepWaiting), refused: "database step is waiting"},
		{name: "database does not take writes", writes: errors.New("cannot execute INSERT in a read-only transaction"), refused: "does not take writes: cannot execute INSERT"},
		{name: "the plugin runs another runbook", kvRun: true, refused: "the plugin's journal holds runbook"},
		{name: "planted mark, regions not ours", plant: func(r *failover.Run) {
			r.To = "eu-central-1"
			r.Adopted = &failover.Adoption{Node: "node-a", Region: west}
		}, refused: "moves to eu-central-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newHandover(t)
			x.drctl(t)
			if tc.region != "" {
				x.h.Region = tc.region
			}
			x.writes = tc.writes
			if tc.plant != nil {
				_, err := x.dest.Update(context.Background(), func(r *failover.Run) (*failover.Run, error) { tc.plant(r); return r, nil })
				require.NoError(t, err)
			}
			var mine *failover.Run
			if tc.kvRun {
				mine = x.start(t)
			}
			out := x.consider(t)
			assert.False(t, out.Adopted || out.Resumed)
			assert.Contains(t, out.Refused, tc.refused)
			cur, err := x.svc.Current(context.Background())
			require.NoError(t, err)
			if mine == nil {
				assert.Nil(t, cur, "nothing was copied into the plugin's journal")
			} else {
				assert.Equal(t, mine.ID, cur.ID)
			}
			if tc.plant == nil {
				assert.Nil(t, x.atDest(t).Adopted, "no mark at the destination")
			}
			assert.Equal(t, 0, x.audits("failover.adopt"))
			assert.Equal(t, east, x.settings.PrimaryRegion())
		})
	}
}

// A node that died after each stage of the hand-over: the next look finishes it, once.
func TestHandoverResumesAfterACrash(t *testing.T) {
	for _, stage := range []string{"marked", "copied", "reported"} {
		t.Run(stage, func(t *testing.T) {
			x := newHandover(t)
			run := x.drctl(t)
			ctx := context.Background()
			marked, err := x.dest.Update(ctx, func(r *failover.Run) (*failover.Run, error) {
				r.Adopted = &failover.Adoption{Source: "local", Node: "node-a", Region: west, At: x.clock.Now()}
				return r, nil
			})
			require.NoError(t, err)
			if stage != "marked" {
				_, err = x.svc.Journal.Update(ctx, func(*failover.Run) (*failover.Run, error) {
					c := *marked
					a := *marked.Adopted
					a.Copied, a.Reported = true, stage == "reported"
					c.Adopted = &a
					if stage == "reported" { // it died while the plugin ran the settings step
						c.State = failover.RunRunning
						c.Step(failover.KindAnnounce).State = failover.StepDone
						c.Step(failover.KindSettings).State = failover.StepRunning
					}
					return &c, nil
				})
				require.NoError(t, err)
			}
			out := x.consider(t)
			assert.True(t, out.Resumed, "%+v", out)
			got := x.load(t)
			assert.Equal(t, run.ID, got.ID)
			assert.Equal(t, failover.RunCompleted, got.State)
			wantReport := 1
			if stage == "reported" {
				wantReport = 0
			}
			assert.Equal(t, wantReport, x.audits("failover.adopt "+run.ID))
			assert.Equal(t, wantReport, x.posts(":handshake: **Failover"))
			out = x.consider(t)
			assert.False(t, out.Resumed || out.Adopted)
		})
	}
}

// The nodes of the new region all find the runbook at once: exactly one adopts it.
func TestHandoverRaceOneWins(t *testing.T) {
	x := newHandover(t)
	run := x.drctl(t)
	kv := &pluginapi.MemoryStore{}
	const n = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []string
	)
	for i := range n {
		node := fmt.Sprintf("node-%d", i)
		svc := *x.svc
		svc.Journal, svc.Node, svc.Process = failover.NewKVJournal(kv), node, 100+i
		h := &failover.Handover{Service: &svc, Region: west, Writes: func(context.Context) error { return nil }}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := h.Consider(context.Background(), failover.Source{Name: "local", Journal: x.dest})
			assert.NoError(t, err)
			assert.Empty(t, out.Refused)
			if out.Adopted {
				mu.Lock()
				winners = append(winners, node)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Len(t, winners, 1)
	marked := x.atDest(t)
	require.NotNil(t, marked.Adopted)
	assert.Equal(t, winners[0], marked.Adopted.Node)
	assert.Equal(t, 1, x.audits("failover.adopt "+run.ID))
	assert.Equal(t, 1, x.posts(":handshake: **Failover"))
	got, err := failover.NewKVJournal(kv).Load(context.Background())
	require.NoError(t, err)
	assert.Equal(t, failover.RunCompleted, got.State)
}
