package backup_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup/backuptest"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/filesource"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
)

// A capture is an incremental files-only run marked as such; the index says when each file
// appeared: carried over for unchanged files, the upload time (the file's modification time)
// for new ones, kept between the previous run's start and this run's.
func TestCaptureRecordsWhenFilesAppeared(t *testing.T) {
	dir := t.TempDir()
	s := backuptest.LocalStore(t)
	src := filesource.NewLocal(dir)
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) func() time.Time { return func() time.Time { return t0.Add(d) } }

	backuptest.WriteFile(t, dir, "old", []byte("uploaded long ago"), t0.Add(-time.Hour))
	backuptest.WriteFile(t, dir, "skewed", []byte("mtime ahead of the clock"), t0.Add(time.Hour))
	ms, err := backup.Run(backuptest.Ctx(t), filesOptions(src, s).WithNow(at(0)))
	require.NoError(t, err)
	first := ms["local"]
	assert.Equal(t, format.ClassLogical, first.Class(), "a files-only backup an admin asks for is not a capture")
	idx := indexOf(t, s, first)
	assert.Equal(t, t0.Add(-time.Hour), idx["old"].Added, "no previous index: the upload time")
	assert.Equal(t, t0, idx["skewed"].Added, "never after the run's start")

	backuptest.WriteFile(t, dir, "new", []byte("uploaded between the runs"), t0.Add(30*time.Second))
	backuptest.WriteFile(t, dir, "copied", []byte("copied in with an old time"), t0.Add(-2*time.Hour))
	backuptest.WriteFile(t, dir, "old", []byte("rewritten between the runs"), t0.Add(40*time.Second))
	o := filesOptions(src, s).WithNow(at(time.Minute))
	o.Capture = true
	ms, err = backup.Run(backuptest.Ctx(t), o)
	require.NoError(t, err)
	capture := ms["local"]
	assert.Equal(t, format.ClassCapture, capture.Class())
	assert.Equal(t, format.ClassCapture, capture.Kind)
	assert.Equal(t, first.ID, capture.Files.PreviousBackup)
	assert.Equal(t, int64(1), capture.Files.Unchanged, "skewed")
	assert.Equal(t, int64(3), capture.Files.NewPoolObjects, "only the new content is uploaded")
	idx = indexOf(t, s, capture)
	assert.Equal(t, t0, idx["skewed"].Added, "carried over")
	assert.Equal(t, t0.Add(30*time.Second), idx["new"].Added)
	assert.Equal(t, t0.Add(40*time.Second), idx["old"].Added, "changed content appeared when it was written")
	assert.Equal(t, t0, idx["copied"].Added, "not before the previous run, which did not see it")

	// Nothing changed since: the capture keeps nothing, the previous index still holds.
	before := backuptest.Keys(t, s, format.BackupsPrefix)
	o = filesOptions(src, s).WithNow(at(2 * time.Minute))
	o.Capture = true
	_, err = backup.Run(backuptest.Ctx(t), o)
	require.ErrorIs(t, err, backup.ErrNothingNew)
	assert.Equal(t, before, backuptest.Keys(t, s, format.BackupsPrefix), "no folder left behind")

	// A file removed: a capture, which carries the times over and reads the capture's index.
	require.NoError(t, os.Remove(filepath.Join(dir, "new")))
	o = filesOptions(src, s).WithNow(at(3 * time.Minute))
	o.Capture = true
	ms, err = backup.Run(backuptest.Ctx(t), o)
	require.NoError(t, err)
	assert.Equal(t, capture.ID, ms["local"].Files.PreviousBackup)
	assert.Equal(t, int64(3), ms["local"].Files.Unchanged)
	assert.Zero(t, ms["local"].Files.NewPoolObjects)
	again := indexOf(t, s, ms["local"])
	assert.NotContains(t, again, "new")
	for p, e := range idx {
		if p != "new" {
			assert.Equal(t, e.Added, again[p].Added, p)
		}
	}
	// A backup an admin asks for is kept even when nothing changed.
	_, err = backup.Run(backuptest.Ctx(t), filesOptions(src, s).WithNow(at(4*time.Minute)))
	require.NoError(t, err)

	o = backup.Options{Capture: true, Components: format.Components{Files: true, Config: true}, Files: src, Destinations: o.Destinations}
	_, err = backup.Run(backuptest.Ctx(t), o)
	assert.ErrorContains(t, err, "a file capture holds the files component only")
}
