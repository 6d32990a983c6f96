package plugin

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/plugin"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/kvstate"
)

const (
	// headLogInterval bounds the "audit head" lines in the server log: at most one per interval
	// per node, and the last head of a burst is logged when the interval ends.
	headLogInterval = 10 * time.Second
	// anonRefusalLogInterval bounds the lines about refused requests without a session.
	anonRefusalLogInterval = time.Minute
	// headLogMessage starts every server log line that carries the head: search the log for it.
	headLogMessage = "Disaster Recovery audit head"
)

// auditor appends to the plugin's own trail and, on servers that have it (10.10+), to
// Mattermost's audit log too. The plugin's trail is the one that counts: Mattermost drops
// audit records unless audit logging is configured. It also copies the head into the server
// log, an anchor that someone who can only write the database cannot rewrite.
type auditor struct {
	trail      *audit.Trail
	api        plugin.API
	mmAuditLog bool

	mu      sync.Mutex
	head    audit.Anchor // newest record this node appended
	logHead *throttle
}

func newAuditor(trail *audit.Trail, api plugin.API) *auditor {
	a := &auditor{trail: trail, api: api, mmAuditLog: serverAtLeast(api.GetServerVersion(), 10, 10)}
	a.logHead = newThrottle(headLogInterval, a.writeHeadLog)
	return a
}

// Append records e. A failure to write the trail is logged: the action it describes has
// already happened and must still be reported to the admin.
func (a *auditor) Append(e audit.Entry) (audit.Record, error) {
	rec, err := a.trail.Append(e)
	if err != nil {
		a.logUnrecorded(e, err)
	} else {
		a.noteHead(rec)
	}
	a.mattermostAudit(e, rec.Seq)
	return rec, err
}

// AppendBatch records entries in order, as Append does each (see audit.Trail.AppendBatch):
// every entry the trail could not record is logged, and each goes to Mattermost's audit log.
func (a *auditor) AppendBatch(entries []audit.Entry) ([]audit.Record, error) {
	recs, err := a.trail.AppendBatch(entries)
	if err != nil {
		for _, e := range entries[len(recs):] {
			a.logUnrecorded(e, err)
		}
	}
	if len(recs) > 0 {
		a.noteHead(recs[len(recs)-1])
	}
	for i, e := range entries {
		var seq uint64 // 0: not in the trail
		if i < len(recs) {
			seq = recs[i].Seq
		}
		a.mattermostAudit(e, seq)
	}
	return recs, err
}

func (a *auditor) logUnrecorded(e audit.Entry, err error) {
	a.api.LogError("Cannot write the Disaster Recovery audit trail", "action", e.Action, "target", e.Target, "error", err.Error())
}

// mattermostAudit copies the entry to Mattermost's audit log, on servers that have it.
func (a *auditor) mattermostAudit(e audit.Entry, seq uint64) {
	if !a.mmAuditLog {
		return
	}
	r := &model.AuditRecord{EventName: "disasterRecovery." + e.Action, Status: string(e.Outcome), Meta: map[string]any{"target": e.Target, "reason": e.Reason, "seq": seq}}
	r.Actor.UserId = e.ActorID
	a.api.LogAuditRec(r)
}

func (a *auditor) noteHead(rec audit.Record) {
	a.mu.Lock()
	if rec.Seq > a.head.Seq {
		a.head = audit.Anchor{Seq: rec.Seq, Hash: rec.Hash}
	}
	a.mu.Unlock()
	a.logHead.trigger()
}

func (a *auditor) writeHeadLog() {
	a.mu.Lock()
	h := a.head
	a.mu.Unlock()
	a.api.LogInfo(headLogMessage, "head", h.String(), "seq", h.Seq, "hash", h.Hash)
}

// throttle calls fn at most once per interval: at once when the last call is older than the
// interval, otherwise once at the end of the interval for all the triggers meanwhile.
type throttle struct {
	interval time.Duration
	fn       func()

	mu    sync.Mutex
	last  time.Time
	timer *time.Timer
}

func newThrottle(interval time.Duration, fn func()) *throttle {
	return &throttle{interval: interval, fn: fn}
}

func (t *throttle) trigger() {
	t.mu.Lock()
	if t.timer != nil {
		t.mu.Unlock()
		return // already due at the end of the interval
	}
	if wait := t.interval - time.Since(t.last); wait > 0 {
		t.timer = time.AfterFunc(wait, t.fire)
		t.mu.Unlock()
		return
	}
	t.last = time.Now()
	t.mu.Unlock()
	t.fn()
}

func (t *throttle) fire() {
	t.mu.Lock()
	t.timer, t.last = nil, time.Now()
	t.mu.Unlock()
	t.fn()
}

// anonRefusals logs the requests refused for want of a Mattermost session (or with a wrong
// metrics token and no session). They are not audited: anyone can send them, and one record
// each would let an anonymous client grow the trail, and the log, without bound. A signed-in
// non-admin is audited as before (refused).
type anonRefusals struct {
	logWarn func(msg string, keyValuePairs ...any)

	mu     sync.Mutex
	count  int
	what   string
	reason string
	log    *throttle
}

func newAnonRefusals(logWarn func(msg string, keyValuePairs ...any)) *anonRefusals {
	l := &anonRefusals{logWarn: logWarn}
	l.log = newThrottle(anonRefusalLogInterval, l.flush)
	return l
}

// maxLoggedPath bounds the attacker-chosen part of the line.
const maxLoggedPath = 200

func (l *anonRefusals) note(what, reason string) {
	if len(what) > maxLoggedPath {
		what = strings.ToValidUTF8(what[:maxLoggedPath], "") + "…"
	}
	l.mu.Lock()
	l.count++
	l.what, l.reason = what, reason
	l.mu.Unlock()
	l.log.trigger()
}

func (l *anonRefusals) flush() {
	l.mu.Lock()
	n, what, reason := l.count, l.what, l.reason
	l.count = 0
	l.mu.Unlock()
	if n == 0 {
		return
	}
	l.logWarn("Disaster Recovery refused requests without a Mattermost session (not recorded in the audit trail; at most one line a minute)",
		"refused", n, "last", what, "reason", reason)
}

// auditHead is the head to record in a backup's manifest; nil when it cannot be read (the
// backup still runs: the head is an extra, not part of the backup).
func (p *Plugin) auditHead() *format.AuditAnchor {
	h, err := p.trail.Head()
	if err != nil {
		p.API.LogWarn("Cannot read the audit trail head for the backup manifest; run /dr audit verify", "error", err.Error())
		return nil
	}
	if h.Seq == 0 {
		return nil
	}
	return &format.AuditAnchor{Seq: h.Seq, Hash: h.Hash}
}

// backupAnchors reads the audit head recorded in every backup's manifest at every
// destination. A destination that cannot be read is reported, and the others still count.
func (p *Plugin) backupAnchors(ctx context.Context) (anchors []audit.Anchor, perDest map[string]int, problems []string) {
	cfg, _ := p.config()
	dests, err := p.destinations(ctx, cfg, "")
	if err != nil {
		return nil, nil, []string{"the backup destinations: " + err.Error()}
	}
	// Every manifest's head is checked, this server's or not: a manifest planted in a
	// destination can only raise a false alarm, which is labelled as coming from it, while
	// skipping the others would let someone who swapped the signing key in the database also
	// silence the anchors of every real backup.
	trust, trustErr := p.trust()
	perDest = map[string]int{}
	for _, d := range dests {
		ms, err := format.List(ctx, d.Store)
		if err != nil {
			problems = append(problems, fmt.Sprintf("destination %s: %v", d.Name, err))
		}
		for _, m := range ms {
			if m.AuditHead == nil {
				continue // written before backups recorded the head
			}
			source := fmt.Sprintf("backup %s at destination %s", m.ID, d.Name)
			if trustErr != nil {
				source += " (whether this server made it is unknown: " + trustErr.Error() + ")"
			} else if ok, why := trust.Check(d.Name, m); !ok {
				source += " (NOT made by this server: " + why + ")"
			}
			anchors = append(anchors, audit.Anchor{Seq: m.AuditHead.Seq, Hash: m.AuditHead.Hash, Source: source})
			perDest[d.Name]++
		}
	}
	return anchors, perDest, problems
}

// auditHeadPost posts the head to the ops channel once a UTC day, from one node: a copy that
// readers of the channel (and its notifications and exports) keep.
func (p *Plugin) auditHeadPost(now time.Time) {
	day := now.UTC().Format(time.DateOnly)
	// The day is claimed atomically so that one node of the cluster posts it.
	last, err := kvstate.AuditPostDay.Load(p.state())
	if err != nil || last.Value == day {
		return
	}
	h, err := p.trail.Head()
	if err != nil || h.Seq == 0 {
		return // nothing to anchor yet (or an unreadable head, which /dr audit verify reports)
	}
	if ok, err := kvstate.AuditPostDay.CompareAndSet(p.state(), last, day); err != nil || !ok {
		return // another node claimed today's post
	}
	p.API.LogInfo(headLogMessage, "head", h.String(), "seq", h.Seq, "hash", h.Hash)
	_ = p.notifier.Ops(auditHeadMessage(day, h))
}

func auditHeadMessage(day string, h audit.Anchor) string {
	return fmt.Sprintf(":lock: Audit trail head on %s: record %d, hash `%s`. Keep this as a copy outside the database: `/dr audit verify --anchor %s` checks the trail against it.",
		day, h.Seq, h.Hash, h.String())
}

// serverAtLeast compares a "major.minor.patch" server version.
func serverAtLeast(version string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(version, "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}
