//go:build e2e

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/walarchive"
)

// errFound stops an index scan at the entry looked for.
var errFound = errors.New("found")

// TestFileCapture turns WAL archiving on with FileCaptureIntervalSeconds 5: the archiving node
// captures the file store when it starts, and a file a member uploads and posts is in a capture
// (a files-only manifest of kind capture, its index entry saying when the file was added)
// within the interval and the capture's run. /dr backup list shows the captures as one line,
// never as backups, and /dr status shows the last capture.
func TestFileCapture(t *testing.T) {
	env := harness.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	db, err := env.OpenDB()
	require.NoError(t, err)
	role := uniq("dr_cap_")
	const password = "Capture-E2e-S3cret"
	_, err = db.ExecContext(ctx, fmt.Sprintf(`CREATE ROLE %s LOGIN REPLICATION PASSWORD '%s'`, role, password))
	require.NoError(t, err)
	dest := filepath.Join(env.Dir, uniq("capture-dest-"))
	require.NoError(t, os.MkdirAll(dest, 0o755))
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer ccancel()
		assert.NoError(t, env.PatchPluginSettings(cctx, map[string]any{"WALArchiveEnabled": false, "WALArchiveDataSource": "", "BackupLocalDirectory": "",
			"WALArchiveMaxDelaySeconds": 10, "FileCaptureIntervalSeconds": 60}))
		var err error
		for start := time.Now(); time.Since(start) < 90*time.Second; time.Sleep(time.Second) {
			if _, err = db.ExecContext(cctx, `SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1`, walarchive.DefaultSlot); err == nil {
				break
			}
		}
		assert.NoError(t, err, "the archiver stops when turned off, and leaves the slot free")
		_, _ = db.ExecContext(cctx, `DROP ROLE IF EXISTS `+role)
		_ = db.Close()
	})

	store, err := local.New(dest)
	require.NoError(t, err)
	// captures lists the capture manifests at the destination, newest first.
	captures := func() []*format.Manifest {
		ms, _ := format.List(ctx, store)
		var out []*format.Manifest
		for _, m := range ms {
			if m.Class() == format.ClassCapture {
				out = append(out, m)
			}
		}
		return out
	}
	// entry finds path in m's file index.
	entry := func(m *format.Manifest, path string) (format.IndexEntry, bool) {
		var found format.IndexEntry
		err := format.ReadIndex(ctx, store, m, nil, func(e format.IndexEntry) error {
			if e.Path == path {
				found = e
				return errFound
			}
			return nil
		})
		return found, errors.Is(err, errFound)
	}

	dsn := fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/mattermost?sslmode=disable", role, password, env.PG.Port)
	require.NoError(t, env.PatchPluginSettings(ctx, map[string]any{
		"WALArchiveEnabled": true, "WALArchiveMaxDelaySeconds": 1, "WALArchiveDataSource": dsn, "BackupLocalDirectory": dest,
		"FileCaptureIntervalSeconds": 5,
	}))
	// The node that takes the archiving over captures at once: uploads made before are in it.
	require.Eventually(t, func() bool { return len(captures()) > 0 }, 2*time.Minute, time.Second, "a capture when archiving starts")
	first := captures()[0]
	assert.Equal(t, format.Components{Files: true}, first.Components)
	assert.Nil(t, first.Object(format.ComponentDatabase))
	assert.True(t, first.Provenance.Signed(), "a capture is signed like a backup")
	// Nothing uploaded: no capture for longer than the interval (the next is an hour away).
	time.Sleep(7 * time.Second)
	assert.Len(t, captures(), 1, "no upload, no capture")

	// A member uploads a file and posts it.
	town, _, err := env.Member.Client.GetChannelByName(ctx, "town-square", env.Team.Id, "")
	require.NoError(t, err)
	data := []byte("captured within the interval " + model.NewId())
	up, _, err := env.Member.Client.UploadFile(ctx, data, town.Id, "capture.txt")
	require.NoError(t, err)
	require.Len(t, up.FileInfos, 1)
	info := up.FileInfos[0]
	_, _, err = env.Member.Client.CreatePost(ctx, &model.Post{ChannelId: town.Id, Message: "a file to capture", FileIds: []string{info.Id}})
	require.NoError(t, err)
	posted := time.Now()
	// The API does not say where the file is stored; the database does.
	var path string
	require.NoError(t, db.QueryRowContext(ctx, `SELECT path FROM fileinfo WHERE id = $1`, info.Id).Scan(&path))
	require.NotEmpty(t, path)

	var holding *format.Manifest
	var e format.IndexEntry
	require.Eventually(t, func() bool {
		for _, m := range captures() {
			if got, ok := entry(m, path); ok {
				holding, e = m, got
				return true
			}
		}
		return false
	}, time.Minute, 200*time.Millisecond, "a capture holding %s", path)
	latency := time.Since(posted)
	t.Logf("the file was in capture %s %s after the post (interval 5 s; the capture took %s, %d files, %d new in the pool)",
		holding.ID, latency.Round(100*time.Millisecond), holding.FinishedAt.Sub(holding.StartedAt).Round(time.Millisecond), holding.Files.Count, holding.Files.NewPoolObjects)
	assert.Less(t, latency, 15*time.Second, "within the interval (5 s) plus one capture")
	assert.Equal(t, int64(len(data)), e.Size)
	sum := sha256.Sum256(data)
	assert.Equal(t, hex.EncodeToString(sum[:]), e.SHA256)
	assert.False(t, e.Added.After(holding.StartedAt), "added %s, by the capture's start %s", e.Added, holding.StartedAt)
	assert.False(t, e.Added.Before(posted.Add(-time.Minute)), "added %s: about when it was uploaded", e.Added)
	assert.GreaterOrEqual(t, holding.Files.NewPoolObjects, int64(1))
	assert.NotEmpty(t, holding.Files.PreviousBackup, "incremental: it starts from the previous index")

	// Listed as one line, never as a backup; shown on the status.
	list := cmd(ctx, t, env, "/dr backup list")
	assert.Contains(t, list, "**File captures**: ")
	assert.NotContains(t, list, "| `"+holding.ID+"` |", "a capture is not in the backup table")
	show := cmd(ctx, t, env, "/dr backup show latest")
	assert.NotContains(t, show, holding.ID, "latest is never a capture")
	text := waitStatus(ctx, t, env, time.Minute, func(s string) bool { return strings.Contains(s, "| Last file capture | ") })
	assert.Regexp(t, "\\| Last file capture \\| [0-9TZ]+-[0-9a-f]{4}, \\S+ ago[^|]* \\| every 5s after uploads \\|", text)
	resp, err := env.Command(ctx, env.Member, "", "/dr backup list")
	require.NoError(t, err)
	assert.Contains(t, resp.Text, "for system admins only")
}
