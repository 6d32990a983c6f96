package plugin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/adminapi"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/bytesize"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/jobs"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/slashcmd"
)

func (p *Plugin) backupCommands(t *slashcmd.Tree) {
	t.Add(nil, &slashcmd.Command{Name: "backup", Summary: "Back up the database, the config and the files; list, show, delete, pin"})
	t.Add([]string{"backup"}, &slashcmd.Command{
		Name: "now", Summary: "Start a backup in the background; progress follows here and the bot posts the result",
		Flags: []slashcmd.Flag{
			{Name: "only", Kind: slashcmd.List, Help: "components: database (db), config, files; default: the BackupComponents setting"},
			{Name: "destination", Kind: slashcmd.String, Help: "only this destination: local or s3"},
		},
		Run: p.runBackupNow,
	})
	t.Add([]string{"backup"}, &slashcmd.Command{
		Name: "base", Summary: "Take a base backup of the whole database cluster, the starting point of a point-in-time restore with the WAL archive; progress follows here and the bot posts the result",
		Run: p.runBackupBase,
	})
	t.Add([]string{"backup"}, &slashcmd.Command{Name: "list", Summary: "Complete backups at each destination, newest first", Run: p.runBackupList})
	t.Add([]string{"backup"}, &slashcmd.Command{Name: "show", Summary: "One backup: what it holds, where, sizes, verification", Args: "<id|latest>", MinArgs: 1, MaxArgs: 1,
		Flags: []slashcmd.Flag{{Name: "verbose", Kind: slashcmd.Bool, Help: "also list every object with its size and SHA-256"}}, Run: p.runBackupShow})
	t.Add([]string{"backup"}, &slashcmd.Command{Name: "retention", Summary: "Preview retention: per destination and class what is kept and removed, and the archived WAL it deletes (changes nothing)",
		Flags: []slashcmd.Flag{{Name: "destination", Kind: slashcmd.String, Help: "only this destination: local or s3"}}, Run: p.runBackupRetention})
	t.Add([]string{"backup"}, &slashcmd.Command{Name: "cancel", Summary: "Stop the running backup (nothing of it is kept), or else the running verification", Run: p.runBackupCancel})
	t.Add([]string{"backup"}, &slashcmd.Command{Name: "delete", Summary: "Delete a backup at every destination (needs --confirm)", Args: "<id>", MinArgs: 1, MaxArgs: 1,
		Flags: []slashcmd.Flag{{Name: "confirm", Kind: slashcmd.Bool, Help: "really delete"}}, Run: p.runBackupDelete})
	t.Add([]string{"backup"}, &slashcmd.Command{Name: "pin", Summary: "Keep a backup whatever the retention policy says", Args: "<id>", MinArgs: 1, MaxArgs: 1, Run: p.runBackupPin(true)})
	t.Add([]string{"backup"}, &slashcmd.Command{Name: "trust", Summary: "Adopt an older backup of this server, made before backups were signed: records and signs it (needs --confirm)",
		Args: "<id>", MinArgs: 1, MaxArgs: 1, Flags: []slashcmd.Flag{{Name: "confirm", Kind: slashcmd.Bool, Help: "really adopt it"}}, Run: p.runBackupTrust})
	t.Add([]string{"backup"}, &slashcmd.Command{Name: "unpin", Summary: "Let the retention policy decide again", Args: "<id>", MinArgs: 1, MaxArgs: 1, Run: p.runBackupPin(false)})
}

func (p *Plugin) backupRequestFrom(userID, channelID string, only []string, destination string) (backupRequest, error) {
	cfg, _ := p.config()
	comps, err := cfg.BackupComponentList()
	if len(only) > 0 {
		comps, err = settings.ParseComponents(strings.Join(only, ","))
	}
	if err != nil {
		return backupRequest{}, err
	}
	a := p.actor(userID)
	return backupRequest{ActorID: userID, Actor: a.Username, ChannelID: channelID, Components: comps, Destination: strings.ToLower(destination)}, nil
}

func (p *Plugin) runBackupNow(ctx context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	req, err := p.backupRequestFrom(inv.Caller.UserID, inv.Caller.ChannelID, inv.List("only"), inv.String("destination"))
	if err != nil {
		return nil, err
	}
	cfg, _ := p.config()
	if _, err := p.destinations(ctx, cfg, req.Destination); err != nil {
		return nil, err
	}
	j, err := p.startBackup(req)
	if err != nil {
		return nil, err
	}
	return &slashcmd.Response{Text: fmt.Sprintf("Backup job `%s` started (%s). Progress follows here; the bot posts the result to the ops channel and to you.", j.ID, strings.Join(req.Components, ", "))}, nil
}

// backupEntry is one backup id with its manifest at each destination.
type backupEntry struct {
	ID        string                      `json:"id"`
	Pinned    bool                        `json:"pinned"`
	Manifests map[string]*format.Manifest `json:"manifests"`
	// Verifications are the verification.json sidecars, by destination.
	Verifications map[string]*format.Verification `json:"verifications,omitempty"`
	// Verification is the newest of them, in short (null when never verified).
	Verification *verificationSummary `json:"verification"`
	// NotMadeHere says, for a backup that this server did not make (listed apart: never the
	// latest, never drilled, never counted or deleted by retention), why, by destination.
	NotMadeHere map[string]string `json:"not_made_here,omitempty"`
}

type verificationSummary struct {
	CheckedAt  time.Time `json:"checked_at"`
	Outcome    string    `json:"outcome"`
	Drill      bool      `json:"drill"`
	Summary    string    `json:"summary"`
	DurationMS int64     `json:"duration_ms"`
}

// addVerification records a destination's sidecar and keeps the newest as the summary; a
// failed verification anywhere wins, so a damaged copy is never hidden by a good one.
func (e *backupEntry) addVerification(dest string, v *format.Verification) {
	if e.Verifications == nil {
		e.Verifications = map[string]*format.Verification{}
	}
	e.Verifications[dest] = v
	cur := e.Verification
	replace := cur == nil
	if !replace {
		vFailed, curFailed := v.Outcome == format.OutcomeFailed, cur.Outcome == format.OutcomeFailed
		replace = vFailed && !curFailed || vFailed == curFailed && v.FinishedAt.After(cur.CheckedAt)
	}
	if replace {
		e.Verification = &verificationSummary{CheckedAt: v.FinishedAt, Outcome: v.Outcome, Drill: v.Drill, Summary: dest + ": " + v.Summary(), DurationMS: v.DurationMS}
	}
}

// started is when the backup started (the same at every destination).
func (e *backupEntry) started() time.Time {
	for _, m := range e.Manifests {
		return m.StartedAt
	}
	return time.Time{}
}

// backupListing is every backup at the configured destinations.
type backupListing struct {
	Backups []backupEntry // this server's, newest first, file captures aside
	// Captures are this server's file captures (format.ClassCapture), newest first: listed
	// apart (one line in /dr backup list, left out of GET /backups: one a minute would drown
	// the backups), never the latest, restored only by point in time.
	Captures  []backupEntry
	Untrusted []backupEntry // the others (NotMadeHere set), newest first
	Problems  []string
}

func (p *Plugin) listBackups(ctx context.Context) (*backupListing, error) {
	cfg, _ := p.config()
	dests, err := p.destinations(ctx, cfg, "")
	if err != nil {
		return nil, err
	}
	trust, err := p.trust()
	if err != nil {
		return nil, err
	}
	pins, _ := p.pins()
	ours, others := map[string]*backupEntry{}, map[string]*backupEntry{}
	entry := func(byID map[string]*backupEntry, id string) *backupEntry {
		e := byID[id]
		if e == nil {
			e = &backupEntry{ID: id, Manifests: map[string]*format.Manifest{}}
			byID[id] = e
		}
		return e
	}
	l := &backupListing{}
	for _, d := range dests {
		ms, err := format.List(ctx, d.Store)
		if err != nil {
			l.Problems = append(l.Problems, fmt.Sprintf("%s: %v", d.Name, err))
		}
		trusted, untrusted := trust.Classify(d.Name, ms)
		for _, m := range trusted {
			e := entry(ours, m.ID)
			e.Pinned = pins[m.ID]
			e.Manifests[d.Name] = m
			// Only a verification this server signed counts.
			if v, err := format.ReadVerification(ctx, d.Store, m.ID); err == nil && v != nil && trust.SignedByKey(v.Provenance) {
				e.addVerification(d.Name, v)
			}
		}
		for _, u := range untrusted {
			e := entry(others, u.Manifest.ID)
			e.Manifests[d.Name] = u.Manifest
			if e.NotMadeHere == nil {
				e.NotMadeHere = map[string]string{}
			}
			e.NotMadeHere[d.Name] = u.Reason
		}
	}
	for _, e := range sortedEntries(ours) {
		if e.class() == format.ClassCapture {
			l.Captures = append(l.Captures, e)
		} else {
			l.Backups = append(l.Backups, e)
		}
	}
	l.Untrusted = sortedEntries(others)
	return l, nil
}

// sortedEntries orders entries newest first by start time (ids only order to the second).
func sortedEntries(byID map[string]*backupEntry) []backupEntry {
	out := make([]backupEntry, 0, len(byID))
	for _, e := range byID {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool {
		si, sj := out[i].started(), out[j].started()
		if !si.Equal(sj) {
			return si.After(sj)
		}
		return out[i].ID > out[j].ID
	})
	return out
}

// class is the backup's class (format.Manifest.Class), the same at every destination.
func (e *backupEntry) class() string {
	for _, m := range e.Manifests {
		return m.Class()
	}
	return format.ClassLogical
}

// notMadeHere says in one line why e is not this server's backup.
func (e *backupEntry) notMadeHere() string {
	var parts []string
	for _, d := range destinationNames(e.Manifests) {
		parts = append(parts, d+": "+e.NotMadeHere[d])
	}
	return strings.Join(parts, "; ")
}

func (p *Plugin) runBackupList(ctx context.Context, _ *slashcmd.Invocation) (*slashcmd.Response, error) {
	l, err := p.listBackups(ctx)
	if err != nil {
		return nil, err
	}
	list, problems := l.Backups, l.Problems
	var b strings.Builder
	if j := p.jobs.Running(backupJob); j != nil {
		fmt.Fprintf(&b, "A backup is running (job `%s`, %s, started %s ago).\n\n", j.ID, j.Progress(), time.Since(j.Started).Round(time.Second))
	}
	if len(list) == 0 {
		b.WriteString("No complete backups yet. Run `/dr backup now`.")
	} else {
		fmt.Fprintf(&b, "| backup | finished (UTC) | components | where | size | encrypted | pinned | verified |\n|---|---|---|---|---|---|---|---|\n")
		for _, e := range list {
			var m *format.Manifest
			var where []string
			var size int64
			for name, x := range e.Manifests {
				m = x
				where = append(where, name)
				size += x.Size()
			}
			sort.Strings(where)
			verified := "never"
			if v := e.Verification; v != nil {
				verified = v.Outcome + " " + v.CheckedAt.UTC().Format("01-02 15:04")
				if v.Drill {
					verified += " (drill)"
				}
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s | %s |\n", e.ID, m.FinishedAt.UTC().Format("2006-01-02 15:04"), m.Components, strings.Join(where, ", "), bytesize.Format(size), yesNo(m.Encryption.Encrypted), yesNo(e.Pinned), verified)
		}
	}
	if n := len(l.Captures); n > 0 {
		newest, oldest := l.Captures[0], l.Captures[n-1]
		fmt.Fprintf(&b, "\n**File captures**: %d, from %s to %s (UTC; newest `%s`): the files uploaded between backups, for a point-in-time restore "+
			"(`drctl restore --to-time … --data-dir …`); each holds a file index only. `/dr backup show <id>` shows one.\n",
			n, oldest.started().UTC().Format("2006-01-02 15:04"), newest.started().UTC().Format("2006-01-02 15:04"), newest.ID)
	}
	if len(l.Untrusted) > 0 {
		fmt.Fprintf(&b, "\n:warning: **Not made by this server** (%d): never the latest, never drilled, not counted nor deleted by retention. "+
			"Delete one with `/dr backup delete <id> --confirm`; adopt an older backup of this server with `/dr backup trust <id>`.\n\n", len(l.Untrusted))
		b.WriteString("| backup | says it started (UTC) | where | why |\n|---|---|---|---|\n")
		for _, e := range l.Untrusted {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", e.ID, e.started().UTC().Format("2006-01-02 15:04"), strings.Join(destinationNames(e.Manifests), ", "), e.notMadeHere())
		}
	}
	if pk, err := p.publicKey(); err == nil {
		fmt.Fprintf(&b, "\nThis server signs its backups with the key `%s`.\n", pk.Fingerprint)
	}
	for _, pr := range problems {
		fmt.Fprintf(&b, "\n:warning: cannot list %s", pr)
	}
	return &slashcmd.Response{Text: b.String()}, nil
}

// findBackup finds one of this server's backups ("latest" is the newest of them).
func (p *Plugin) findBackup(ctx context.Context, id string) (*backupEntry, error) {
	e, ours, err := p.findAnyBackup(ctx, id)
	if err != nil {
		return nil, err
	}
	if !ours {
		return nil, fmt.Errorf("backup %s was not made by this server (%s): it is never restored, drilled or pinned. "+
			"`/dr backup delete %s --confirm` deletes it; if it is an older backup of this server, `/dr backup trust %s` adopts it", e.ID, e.notMadeHere(), e.ID, e.ID)
	}
	return e, nil
}

// findAnyBackup finds a backup, this server's (ours) or not; "latest" is only ever one of ours.
func (p *Plugin) findAnyBackup(ctx context.Context, id string) (e *backupEntry, ours bool, err error) {
	l, err := p.listBackups(ctx)
	if err != nil {
		return nil, false, err
	}
	if id == "latest" {
		if len(l.Backups) == 0 {
			return nil, false, errors.New("there are no complete backups made by this server")
		}
		return &l.Backups[0], true, nil
	}
	if err := format.ValidateID(id); err != nil {
		return nil, false, err
	}
	for _, list := range [][]backupEntry{l.Backups, l.Captures} {
		for i := range list {
			if list[i].ID == id {
				return &list[i], true, nil
			}
		}
	}
	for i := range l.Untrusted {
		if l.Untrusted[i].ID == id {
			return &l.Untrusted[i], false, nil
		}
	}
	return nil, false, fmt.Errorf("no complete backup %q: `/dr backup list` shows the backups", id)
}

func (p *Plugin) runBackupShow(ctx context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	e, ours, err := p.findAnyBackup(ctx, inv.Args[0])
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**Backup `%s`**%s\n", e.ID, map[bool]string{true: " (pinned)", false: ""}[e.Pinned])
	if !ours {
		fmt.Fprintf(&b, ":warning: **Not made by this server** (%s): never restored, drilled or counted by retention. `/dr backup delete %s --confirm` deletes it.\n", e.notMadeHere(), e.ID)
	}
	names := make([]string, 0, len(e.Manifests))
	for n := range e.Manifests {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m := e.Manifests[n]
		fmt.Fprintf(&b, "\n**%s**%s: %s → %s (%s), Mattermost %s, schema %s, %s, encrypted: %s\n", n, map[bool]string{true: " (off-site)", false: " (not off-site)"}[m.OffSite],
			m.StartedAt.UTC().Format(time.RFC3339), m.FinishedAt.UTC().Format(time.RFC3339), m.FinishedAt.Sub(m.StartedAt).Round(time.Second), m.MattermostVersion, m.DatabaseSchemaVersion, m.Components, yesNo(m.Encryption.Encrypted))
		fmt.Fprintf(&b, "%d objects, %s stored", len(m.Objects), bytesize.Format(m.Size()))
		if !inv.Bool("verbose") {
			b.WriteString(" (`--verbose` lists them)")
		}
		b.WriteString("\n")
		if inv.Bool("verbose") {
			fmt.Fprintf(&b, "| object | size | plain | sha256 |\n|---|---|---|---|\n")
			for _, o := range m.Objects {
				fmt.Fprintf(&b, "| `%s` | %s | %s | `%s…` |\n", o.Key, bytesize.Format(o.Size), bytesize.Format(o.PlainSize), o.SHA256[:16])
			}
		}
		if m.Files != nil {
			fmt.Fprintf(&b, "Files: %d (%s), %d new pool objects, %s uploaded", m.Files.Count, bytesize.Format(m.Files.Bytes), m.Files.NewPoolObjects, bytesize.Format(m.Files.BytesUploaded))
			if m.Files.ServerSideCopied > 0 {
				fmt.Fprintf(&b, ", %d (%s) copied server-side from the file store", m.Files.ServerSideCopied, bytesize.Format(m.Files.BytesCopied))
			}
			fmt.Fprintf(&b, "; tables: %d\n", len(m.TableRowCounts))
		}
		for _, w := range m.Warnings {
			fmt.Fprintf(&b, ":warning: %s\n", w)
		}
		if v := e.Verifications[n]; v != nil {
			fmt.Fprintf(&b, "Verification: %s\n", v.Summary())
			for _, c := range v.Checks {
				fmt.Fprintf(&b, "- %s `%s`: %s\n", c.Outcome, c.Name, c.Detail)
			}
		} else {
			fmt.Fprintf(&b, "Never verified: `/dr backup verify %s --drill`\n", e.ID)
		}
	}
	return &slashcmd.Response{Text: b.String()}, nil
}

func (p *Plugin) runBackupCancel(context.Context, *slashcmd.Invocation) (*slashcmd.Response, error) {
	j := p.jobs.Cancel(backupJob)
	if j == nil {
		if v := p.jobs.Cancel(verifyJob); v != nil {
			return &slashcmd.Response{Text: fmt.Sprintf("Cancelling verification job `%s` (%s); a drill's scratch database or cluster is removed.", v.ID, v.Progress())}, nil
		}
		return &slashcmd.Response{Text: "No backup or verification is running on this node."}, nil
	}
	return &slashcmd.Response{Text: fmt.Sprintf("Cancelling backup job `%s` (%s). Nothing of it is kept; the bot confirms when it has stopped.", j.ID, j.Progress())}, nil
}

func (p *Plugin) deleteBackup(ctx context.Context, actorID, id string) error {
	if id == "latest" {
		return errors.New("name the backup to delete by its id")
	}
	e, err := p.backupEverywhere(ctx, id)
	if err != nil {
		return err
	}
	if e.Pinned {
		return fmt.Errorf("backup %s is pinned: `/dr backup unpin %s` first", e.ID, e.ID)
	}
	cfg, _ := p.config()
	a := p.actor(actorID)
	// Deleting prunes the pool, so it takes the backup lock like retention does.
	err = p.withBackupLock(ctx, func() error {
		for name := range e.Manifests {
			dests, err := p.destinations(ctx, cfg, name)
			if err != nil {
				return err
			}
			if err := backup.Delete(ctx, dests[0].Store, e.ID, p.pruneOptions()); err != nil {
				return fmt.Errorf("delete at %s: %w", name, err)
			}
			if err := p.forgetRecords(name, []string{e.ID}, nil); err != nil {
				p.API.LogWarn("Cannot prune the record of backups", "destination", name, "error", err.Error())
			}
		}
		return nil
	})
	if err != nil {
		_, _ = p.auditor.Append(audit.Entry{ActorID: actorID, Actor: a.Username, Action: "backup.delete", Target: e.ID, Outcome: audit.OutcomeFailed, Reason: err.Error()})
		return err
	}
	_, _ = p.auditor.Append(audit.Entry{ActorID: actorID, Actor: a.Username, Action: "backup.delete", Target: e.ID, Outcome: audit.OutcomeSucceeded})
	return nil
}

// backupEverywhere finds backup id at every destination holding it, whether this server made
// it there or not (a delete removes every copy).
func (p *Plugin) backupEverywhere(ctx context.Context, id string) (*backupEntry, error) {
	if err := format.ValidateID(id); err != nil {
		return nil, err
	}
	l, err := p.listBackups(ctx)
	if err != nil {
		return nil, err
	}
	var out *backupEntry
	for _, e := range append(append(l.Backups, l.Captures...), l.Untrusted...) {
		if e.ID != id {
			continue
		}
		if out == nil {
			out = &backupEntry{ID: id, Manifests: map[string]*format.Manifest{}}
		}
		out.Pinned = out.Pinned || e.Pinned
		for d, m := range e.Manifests {
			out.Manifests[d] = m
		}
	}
	if out == nil {
		return nil, fmt.Errorf("no complete backup %q: `/dr backup list` shows the backups", id)
	}
	return out, nil
}

func (p *Plugin) runBackupDelete(ctx context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	if !inv.Bool("confirm") {
		return &slashcmd.Response{Text: fmt.Sprintf("This deletes backup `%s` at every destination, and the file contents only it refers to. Run the same command with `--confirm` to go ahead.", inv.Args[0])}, nil
	}
	if err := p.deleteBackup(ctx, inv.Caller.UserID, inv.Args[0]); err != nil {
		return nil, err
	}
	return &slashcmd.Response{Text: fmt.Sprintf("Backup `%s` deleted.", inv.Args[0])}, nil
}

func (p *Plugin) pinBackup(ctx context.Context, actorID, id string, pinned bool) (string, error) {
	e, err := p.findBackup(ctx, id)
	if err != nil {
		return "", err
	}
	if err := p.setPin(e.ID, pinned); err != nil {
		return "", fmt.Errorf("save pin: %w", err)
	}
	action := map[bool]string{true: "backup.pin", false: "backup.unpin"}[pinned]
	_, _ = p.auditor.Append(audit.Entry{ActorID: actorID, Actor: p.actor(actorID).Username, Action: action, Target: e.ID, Outcome: audit.OutcomeSucceeded})
	return e.ID, nil
}

func (p *Plugin) runBackupPin(pinned bool) slashcmd.Handler {
	return func(ctx context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
		id, err := p.pinBackup(ctx, inv.Caller.UserID, inv.Args[0], pinned)
		if err != nil {
			return nil, err
		}
		if pinned {
			return &slashcmd.Response{Text: fmt.Sprintf("Backup `%s` is pinned: retention keeps it until you unpin it.", id)}, nil
		}
		return &slashcmd.Response{Text: fmt.Sprintf("Backup `%s` is unpinned: retention decides again.", id)}, nil
	}
}

// REST

type backupStartRequest struct {
	Only        []string `json:"only"`
	Destination string   `json:"destination"`
}

type backupJobInfo struct {
	ID       string    `json:"id"`
	Started  time.Time `json:"started"`
	Progress string    `json:"progress"`
}

func jobInfo(j *jobs.Job) *backupJobInfo {
	if j == nil {
		return nil
	}
	return &backupJobInfo{ID: j.ID, Started: j.Started, Progress: j.Progress()}
}

func (p *Plugin) backupRoutes(rt *adminapi.Router) {
	rt.Handle(http.MethodGet, "/backups", func(w http.ResponseWriter, r *http.Request) {
		l, err := p.listBackups(r.Context())
		if err != nil {
			adminapi.WriteError(w, http.StatusInternalServerError, err.Error())
			return
		}
		pk, err := p.publicKey()
		if err != nil {
			adminapi.WriteError(w, http.StatusInternalServerError, err.Error())
			return
		}
		problems := l.Problems
		if problems == nil {
			problems = []string{} // a list, like every list the API answers
		}
		adminapi.WriteJSON(w, http.StatusOK, map[string]any{"backups": l.Backups, "untrusted": l.Untrusted, "signing_key": pk,
			"problems": problems, "running": jobInfo(p.jobs.Running(backupJob)), "verifying": jobInfo(p.jobs.Running(verifyJob))})
	})
	rt.Handle(http.MethodPost, "/backups", func(w http.ResponseWriter, r *http.Request) {
		var body backupStartRequest
		if err := adminapi.DecodeJSON(r, &body); err != nil {
			adminapi.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		req, err := p.backupRequestFrom(r.Header.Get("Mattermost-User-ID"), "", body.Only, body.Destination)
		if err == nil {
			cfg, _ := p.config()
			_, err = p.destinations(r.Context(), cfg, req.Destination)
		}
		if err != nil {
			adminapi.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		j, err := p.startBackup(req)
		if err != nil {
			var busy *jobs.BusyError
			status := http.StatusBadRequest
			if errors.As(err, &busy) {
				status = http.StatusConflict
			}
			adminapi.WriteError(w, status, err.Error())
			return
		}
		adminapi.WriteJSON(w, http.StatusAccepted, jobInfo(j))
	})
	rt.Handle(http.MethodPost, "/backups/cancel", func(w http.ResponseWriter, _ *http.Request) {
		adminapi.WriteJSON(w, http.StatusOK, map[string]any{"cancelled": jobInfo(p.jobs.Cancel(backupJob))})
	})
	rt.Handle(http.MethodGet, "/backups/{id}", func(w http.ResponseWriter, r *http.Request) {
		e, err := p.findBackup(r.Context(), r.PathValue("id"))
		if err != nil {
			adminapi.WriteError(w, http.StatusNotFound, err.Error())
			return
		}
		adminapi.WriteJSON(w, http.StatusOK, e)
	})
	rt.Handle(http.MethodDelete, "/backups/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("confirm") != "true" {
			adminapi.WriteError(w, http.StatusBadRequest, "add ?confirm=true: deleting a backup cannot be undone")
			return
		}
		if err := p.deleteBackup(r.Context(), r.Header.Get("Mattermost-User-ID"), r.PathValue("id")); err != nil {
			adminapi.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		adminapi.WriteJSON(w, http.StatusOK, map[string]string{"deleted": r.PathValue("id")})
	})
	for _, pinned := range []bool{true, false} {
		method := map[bool]string{true: http.MethodPost, false: http.MethodDelete}[pinned]
		rt.Handle(method, "/backups/{id}/pin", func(w http.ResponseWriter, r *http.Request) {
			id, err := p.pinBackup(r.Context(), r.Header.Get("Mattermost-User-ID"), r.PathValue("id"), pinned)
			if err != nil {
				adminapi.WriteError(w, http.StatusBadRequest, err.Error())
				return
			}
			adminapi.WriteJSON(w, http.StatusOK, map[string]any{"id": id, "pinned": pinned})
		})
	}
}

// runBackupTrust adopts a backup this server made before it signed its manifests: nothing
// in a destination can tell it from a planted one, so an admin vouches for it after reading
// its details. The plugin then records its manifest's SHA-256 and signs it.
func (p *Plugin) runBackupTrust(ctx context.Context, inv *slashcmd.Invocation) (*slashcmd.Response, error) {
	e, ours, err := p.findAnyBackup(ctx, inv.Args[0])
	if err != nil {
		return nil, err
	}
	if ours {
		return &slashcmd.Response{Text: fmt.Sprintf("Backup `%s` is already this server's.", e.ID)}, nil
	}
	for _, d := range destinationNames(e.Manifests) {
		if m := e.Manifests[d]; format.DatedInFuture(m, time.Now()) {
			return nil, fmt.Errorf("backup %s says it started %s, in the future: no backup of this server does; delete it with `/dr backup delete %s --confirm`",
				e.ID, m.StartedAt.UTC().Format(time.RFC3339), e.ID)
		}
	}
	if !inv.Bool("confirm") {
		var b strings.Builder
		fmt.Fprintf(&b, "Backup `%s` was not made by this server as far as it can tell (%s).\n\n", e.ID, e.notMadeHere())
		for _, d := range destinationNames(e.Manifests) {
			m := e.Manifests[d]
			fmt.Fprintf(&b, "- **%s**: started %s, finished %s, %s, plugin %s, Mattermost %s, %s, encrypted: %s, manifest SHA-256 `%s`\n", d,
				m.StartedAt.UTC().Format(time.RFC3339), m.FinishedAt.UTC().Format(time.RFC3339), m.Components, m.PluginVersion, m.MattermostVersion,
				bytesize.Format(m.Size()), yesNo(m.Encryption.Encrypted), m.Provenance.SHA256)
		}
		fmt.Fprintf(&b, "\nAdopt it only if you know this server made it (check the audit trail: `/dr audit`). "+
			"Run the same command with `--confirm` to record and sign it: it then counts as this server's backup, can be restored and drilled, and retention manages it.")
		return &slashcmd.Response{Text: b.String()}, nil
	}
	if err := p.adoptBackup(ctx, inv.Caller.UserID, e); err != nil {
		return nil, err
	}
	return &slashcmd.Response{Text: fmt.Sprintf("Backup `%s` is adopted: recorded and signed by this server's key.", e.ID)}, nil
}

func (p *Plugin) adoptBackup(ctx context.Context, actorID string, e *backupEntry) error {
	key, err := p.signingKey()
	if err != nil {
		return err
	}
	cfg, _ := p.config()
	a := p.actor(actorID)
	signed := map[string]*format.Manifest{}
	for _, name := range destinationNames(e.Manifests) {
		dests, err := p.destinations(ctx, cfg, name)
		if err != nil {
			return err
		}
		// What is signed is what was just listed and checked.
		m, err := format.SignManifest(ctx, dests[0].Store, e.ID, e.Manifests[name].Provenance.SHA256, key)
		if err != nil {
			return fmt.Errorf("sign at %s: %w", name, err)
		}
		signed[name] = m
	}
	if err := p.recordBackup(signed, a.Username); err != nil {
		return err
	}
	_, _ = p.auditor.Append(audit.Entry{ActorID: actorID, Actor: a.Username, Action: "backup.trust", Target: e.ID, Outcome: audit.OutcomeSucceeded,
		Details: map[string]string{"destinations": strings.Join(destinationNames(signed), ",")}})
	return nil
}

// yesNo is how a message says a boolean: admins read "yes", not "true".
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
