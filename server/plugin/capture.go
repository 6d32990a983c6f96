package plugin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	mmplugin "github.com/mattermost/mattermost/server/public/plugin"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/kvstate"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
)

// Continuous file capture: while the WAL is archived, the node that archives it also copies
// the files uploaded since the last backup into the pool, as captures (backup.Options.Capture:
// an incremental files-only run holding just a file index), so that a point-in-time restore
// brings back the files as well as the posts that name them.
//
// Uploads are served by any node, so the hook on the node that served one marks the KV key
// CaptureDirty with a new random value; the archiving node captures when the value changed
// since its last capture, at most every FileCaptureIntervalSeconds. It also captures once an
// hour anyway: uploads that posted nothing (profile pictures, emoji, plugin files), and those
// made while no node archived. A capture runs under the backup lock, never beside a backup,
// retention or delete, and gives the lock up as soon as one of them waits for it
// (BackupLockWanted): a capture is cheap to repeat, a backup is not.

const (
	// captureEvery is how often the archiving node captures even when no upload was marked.
	captureEvery = time.Hour
	// captureIdleCheck is how often the loop looks at the settings while capture is off.
	captureIdleCheck = time.Minute
	// captureLockWait is how long a capture waits for the backup lock before it skips a turn.
	captureLockWait = 2 * time.Second
	// captureYieldPoll is how often a running capture checks whether a backup waits.
	captureYieldPoll = time.Second
	// lockWantedFresh is how recent a BackupLockWanted mark must be to make a capture yield
	// (the key's TTL, which the KV store may enforce only lazily).
	lockWantedFresh = 45 * time.Second
)

// errCaptureYield ends a capture that gave the backup lock up to a backup.
var errCaptureYield = errors.New("a backup, retention or delete waits for the backup lock")

// MessageHasBeenPosted marks the file store as changed when a post carries files. It only
// writes the mark (it runs after the post is saved, off the request's path); the capture
// loop on the archiving node does the work.
func (p *Plugin) MessageHasBeenPosted(_ *mmplugin.Context, post *model.Post) {
	if post == nil || len(post.FileIds) == 0 {
		return
	}
	if cfg, _ := p.config(); cfg.FileCaptureInterval() == 0 {
		return
	}
	p.markUploaded()
}

// markUploaded sets a new dirty mark.
func (p *Plugin) markUploaded() {
	var b [8]byte
	_, _ = rand.Read(b[:])
	if err := kvstate.CaptureDirty.Set(p.state(), hex.EncodeToString(b[:])); err != nil {
		p.API.LogWarn("File capture: cannot mark the upload", "error", err.Error())
	}
}

// captureLoop captures the file store while ctx lasts (while this node holds the WAL
// archiving lock): when an upload was marked since the last capture, at most every
// FileCaptureIntervalSeconds, and every captureEvery anyway. The settings are read on every
// turn, so a changed interval applies without restarting archiving.
func (p *Plugin) captureLoop(ctx context.Context) {
	var consumed string // the dirty mark the last capture started after
	var last time.Time  // when the last capture started
	wait := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		cfg, _ := p.config()
		interval := cfg.FileCaptureInterval()
		if interval == 0 {
			wait = captureIdleCheck
			continue
		}
		wait = interval
		mark, _, err := kvstate.CaptureDirty.Get(p.state())
		if err != nil {
			p.API.LogWarn("File capture: cannot read the upload mark", "error", err.Error())
		}
		if err == nil && mark == consumed && time.Since(last) < captureEvery {
			continue
		}
		started := time.Now()
		ran, err := p.captureOnce(ctx, cfg)
		switch {
		case ctx.Err() != nil:
			return
		case !ran:
			// A backup, retention or delete holds or wants the lock: try at the next turn.
		case err != nil:
			p.captureFailed(err)
		default:
			consumed, last = mark, started
		}
	}
}

// captureOnce runs one capture under the backup lock; ran is false when the lock was busy
// or wanted and no capture was attempted (or it gave the lock up to a backup).
func (p *Plugin) captureOnce(ctx context.Context, cfg settings.Config) (ran bool, err error) {
	if p.lockWanted() {
		return false, nil
	}
	mu, err := kvstate.BackupLock.New(p.API)
	if err != nil {
		return true, fmt.Errorf("backup lock: %w", err)
	}
	lockCtx, cancel := context.WithTimeout(ctx, captureLockWait)
	err = mu.LockWithContext(lockCtx)
	cancel()
	if err != nil {
		return false, nil
	}
	defer mu.Unlock()

	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	go func() {
		t := time.NewTicker(captureYieldPoll)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
				if p.lockWanted() {
					stop(errCaptureYield)
					return
				}
			}
		}
	}()
	start := time.Now()
	manifests, err := p.backupOnce(runCtx, nil, cfg, backupRequest{Components: []string{"files"}, Capture: true}, nil)
	if errors.Is(context.Cause(runCtx), errCaptureYield) {
		p.API.LogInfo("File capture gave the backup lock up to a waiting backup; it runs again later")
		return false, nil
	}
	if errors.Is(err, backup.ErrNothingNew) {
		p.API.LogDebug("File capture: nothing new since the previous file index")
		p.captureSucceeded("", 0, 0)
		return true, nil
	}
	if err != nil {
		return true, err
	}
	var files, added int64
	var id string
	for _, name := range destinationNames(manifests) {
		m := manifests[name]
		id = m.ID
		if m.Files != nil {
			files, added = m.Files.Count, max(added, m.Files.NewPoolObjects)
		}
	}
	p.API.LogInfo("File capture complete", "capture", id, "files", files, "new_in_pool", added, "took", time.Since(start).Round(time.Millisecond).String())
	p.captureSucceeded(id, files, added)
	return true, nil
}

// lockWanted says whether a backup, retention or delete waits for the backup lock.
func (p *Plugin) lockWanted() bool {
	t, ok, err := kvstate.BackupLockWanted.Get(p.state())
	return err == nil && ok && time.Since(t) < lockWantedFresh
}

// captureSucceeded records a capture (id "": the file store had nothing new) for /dr status,
// and says so once when it ends a failure streak the bot posted.
func (p *Plugin) captureSucceeded(id string, files, added int64) {
	prev, _, _ := kvstate.CaptureReport.Get(p.state())
	now := time.Now().UTC()
	st := kvstate.CaptureState{Node: p.node, LastSuccess: now, LastID: id, LastFiles: files, LastNew: added, LastChecked: now}
	if id == "" {
		st.LastSuccess, st.LastID, st.LastFiles, st.LastNew = prev.LastSuccess, prev.LastID, prev.LastFiles, prev.LastNew
	}
	if err := kvstate.CaptureReport.Set(p.state(), st); err != nil {
		p.API.LogWarn("File capture: cannot write its status", "error", err.Error())
	}
	if prev.Failures > 0 {
		_ = p.notifier.Ops(fmt.Sprintf(":white_check_mark: File capture works again, after %d failed attempts since %s.",
			prev.Failures, prev.FailingSince.UTC().Format(time.RFC3339)))
	}
}

// captureFailed records a failed capture; the bot posts the first failure of a streak only
// (captures retry every interval: a post per attempt would flood the ops channel).
func (p *Plugin) captureFailed(err error) {
	msg := err.Error()
	p.API.LogError("File capture failed", "node", p.node, "error", msg)
	st, _, _ := kvstate.CaptureReport.Get(p.state())
	st.Node, st.LastError = p.node, msg
	st.Failures++
	if st.Failures == 1 {
		st.FailingSince = time.Now().UTC()
	}
	if serr := kvstate.CaptureReport.Set(p.state(), st); serr != nil {
		p.API.LogWarn("File capture: cannot write its status", "error", serr.Error())
	}
	if st.Failures == 1 {
		_ = p.notifier.Ops(fmt.Sprintf(":warning: File capture failed: %s\n\nUntil it works again, a point-in-time restore lacks the files uploaded since the last capture or backup. "+
			"It retries every interval; `/dr status` shows the streak. This is posted once per failure streak.", msg))
	}
}
