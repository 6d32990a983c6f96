package plugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failover"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/kvstate"
)

// handoverDelay debounces the look for a runbook drctl left: a burst of configuration changes
// (a save, then the server's own reload) makes one look.
const handoverDelay = 3 * time.Second

// handover schedules and runs the look for runbooks drctl left waiting for the plugin
// (issue #14): at activation and after every configuration change, in the background.
type handover struct {
	mu    sync.Mutex
	timer *time.Timer
	pass  sync.Mutex // one look at a time on this node
}

// kickHandover looks for a runbook to adopt a moment from now, once for a burst of calls.
func (p *Plugin) kickHandover() {
	h := &p.handover
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.timer != nil {
		h.timer.Stop()
	}
	h.timer = time.AfterFunc(handoverDelay, p.lookForHandover)
}

// stopHandover cancels a pending look (deactivation).
func (p *Plugin) stopHandover() {
	h := &p.handover
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
}

// lookForHandover considers the runbook journaled at each backup destination.
func (p *Plugin) lookForHandover() {
	p.handover.pass.Lock()
	defer p.handover.pass.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, _ := p.config()
	dests, err := p.destinations(ctx, cfg, "")
	if err != nil {
		p.API.LogWarn("Disaster Recovery cannot look for a runbook left by drctl", "error", err.Error())
		return
	}
	h := &failover.Handover{Service: p.failoverService(), Region: nodeRegion(cfg), Writes: p.databaseTakesWrites}
	for _, d := range dests {
		j, err := failover.NewStoreJournal(d.Store)
		if err != nil {
			continue // this destination cannot hold drctl's journal either
		}
		src := failover.Source{Name: d.Name, Journal: j}
		// drctl's lease there: its heartbeat says whether drctl still drives a runbook that
		// does not wait for the plugin yet. Only read here.
		if lock, err := failover.NewStoreLock(d.Store, failover.Holder{Node: p.node, Process: os.Getpid()}, 0); err == nil {
			src.Beats = lock
		}
		out, err := h.Consider(ctx, src)
		p.handoverOutcome(d.Name, out, err)
		if out.Adopted || out.Resumed {
			return // one runbook at a time
		}
	}
}

// handoverOutcome logs what a look found, and posts a refusal once.
func (p *Plugin) handoverOutcome(dest string, out failover.Outcome, err error) {
	switch {
	case err != nil:
		p.API.LogWarn("Disaster Recovery could not take over the runbook left by drctl", "destination", dest, "error", err.Error())
	case out.Adopted || out.Resumed:
		p.API.LogInfo("Disaster Recovery took over the runbook left by drctl", "destination", dest, "run", out.Run.ID, "resumed", out.Resumed)
	case out.Refused != "":
		// Warned once (with the post); the looks of every minute after that only debug.
		log := p.API.LogDebug
		if p.postRefusalOnce(dest, out) {
			log = p.API.LogWarn
		}
		log("Disaster Recovery did not adopt the runbook found at a backup destination", "destination", dest, "run", out.Run.ID, "reason", out.Refused)
	case out.Skipped != "":
		p.API.LogDebug("Disaster Recovery leaves the runbook at a backup destination alone", "destination", dest, "reason", out.Skipped)
	}
}

// postRefusalOnce tells the ops channel what was found and why it was not adopted; the same
// runbook refused for the same reason is posted once across the cluster and restarts. It says
// whether this call was that once.
func (p *Plugin) postRefusalOnce(dest string, out failover.Outcome) bool {
	sum := sha256.Sum256([]byte(dest + "\x00" + out.Run.ID + "\x00" + out.Refused))
	ok, err := kvstate.HandoverRefusals.Key(hex.EncodeToString(sum[:16])).Create(p.state(), time.Now().UTC())
	if err != nil || !ok {
		return false
	}
	if err := p.opsAndAlertFailover(refusalMarkdown(dest, out)); err != nil {
		p.API.LogWarn("Cannot post to the ops channel", "error", err.Error())
	}
	return true
}

// refusalMarkdown says what was found and why it was not adopted. What the runbook says comes
// from the storage, which is not trusted: it is shown as plain text, shortened.
func refusalMarkdown(dest string, out failover.Outcome) string {
	r := out.Run
	return fmt.Sprintf(":warning: **A failover runbook at backup destination `%s` was not adopted.** "+
		"It says: runbook %s, %s from %s to %s (%s), %s, started by %s at %s.\n\n**Why not:** %s\n\n"+
		"Nothing was changed. If drctl ran it for this deployment, fix what the reason says (the plugin looks again after every settings change and restart). "+
		"If nobody here ran it, someone else can write to the backup storage: check who has access to it.",
		dest, plain(r.ID), plain(string(r.Kind)), plain(r.From), plain(r.To), plain(string(r.Mode)), plain(string(r.State)), plain(r.Actor),
		r.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC"), defused(out.Refused))
}

// defused keeps the reason readable but inert: it quotes values from the storage, so no code
// spans and no mentions (a planted region named "@all" must not notify anyone).
func defused(s string) string {
	s = strings.NewReplacer("`", "'", "@", "@\u200b").Replace(s)
	if r := []rune(s); len(r) > 600 {
		s = string(r[:600]) + "…"
	}
	return s
}

// plain renders an untrusted value as inline code without markup, at most 80 characters.
func plain(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '`' || !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 80 {
		s = string(r[:80]) + "…"
	}
	if s == "" {
		return "(empty)"
	}
	return "`" + s + "`"
}

// databaseTakesWrites checks that the database this Mattermost runs on is a primary that
// accepts a write: what the database step at the destination claims, seen from here.
func (p *Plugin) databaseTakesWrites(ctx context.Context) error {
	db, err := p.client.Store.GetMasterDB()
	if err != nil {
		return fmt.Errorf("open Mattermost's database: %w", err)
	}
	var inRecovery bool
	if err := db.QueryRowContext(ctx, `SELECT pg_is_in_recovery()`).Scan(&inRecovery); err != nil {
		return fmt.Errorf("ask the database whether it is in recovery: %w", err)
	}
	if inRecovery {
		return errors.New("it is a standby (pg_is_in_recovery() is true)")
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin a test write: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE dr_handover_write_check (at timestamptz) ON COMMIT DROP`); err != nil {
		return fmt.Errorf("test write: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO dr_handover_write_check VALUES (now())`); err != nil {
		return fmt.Errorf("test write: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("test write: %w", err)
	}
	return nil
}

// handoverMirror hears the runbook's events: when an adopted runbook ends, its end is written
// back to the destination drctl journals at.
type handoverMirror struct{ p *Plugin }

func (m handoverMirror) Event(ev failover.Event) {
	r := ev.Run
	if ev.Kind != failover.EventRunStopped || r == nil || r.Adopted == nil || !r.State.Terminal() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, _ := m.p.config()
	err := func() error {
		dests, err := m.p.destinations(ctx, cfg, r.Adopted.Source)
		if err != nil {
			return err
		}
		j, err := failover.NewStoreJournal(dests[0].Store)
		if err != nil {
			return err
		}
		return failover.MirrorEnd(ctx, j, r)
	}()
	if err != nil {
		m.p.API.LogWarn("Disaster Recovery could not write the runbook's end back for drctl", "run", r.ID, "destination", r.Adopted.Source, "error", err.Error())
	}
}
