package backup_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup/backuptest"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/filesource"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
)

func mAt(id string, t time.Time) *format.Manifest {
	return &format.Manifest{ID: id, StartedAt: t, Status: format.StatusComplete, FormatVersion: format.FormatVersion}
}

func ids(ms []*format.Manifest) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestPolicySelect(t *testing.T) {
	utc := time.UTC
	day := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, utc) }
	// Two backups a day (00:00 and 12:00) from November 1 to 30, 2026 (a Sunday to a Monday).
	var month []*format.Manifest
	for d := 1; d <= 30; d++ {
		for _, h := range []int{0, 12} {
			month = append(month, mAt(day(d, h).Format("0102T15"), day(d, h)))
		}
	}
	now := day(30, 18)
	// Backups over three months, one every 5 days.
	var quarter []*format.Manifest
	for t0 := time.Date(2026, 9, 1, 3, 0, 0, 0, utc); t0.Before(now); t0 = t0.Add(5 * 24 * time.Hour) {
		quarter = append(quarter, mAt(t0.Format("0102"), t0))
	}

	cases := []struct {
		name     string
		ms       []*format.Manifest
		p        backup.Policy
		pinned   map[string]bool
		verified string
		now      time.Time
		keep     []string
	}{
		{name: "empty policy keeps all", ms: month[:4], p: backup.Policy{}, keep: []string{"1102T12", "1102T00", "1101T12", "1101T00"}},
		{name: "no backups", ms: nil, p: backup.Policy{KeepLast: 3}, keep: []string{}},
		{name: "keep last", ms: month, p: backup.Policy{KeepLast: 3}, keep: []string{"1130T12", "1130T00", "1129T12"}},
		{name: "keep last more than there are", ms: month[:2], p: backup.Policy{KeepLast: 5}, keep: []string{"1101T12", "1101T00"}},
		{name: "keep daily: the newest of each day", ms: month, p: backup.Policy{KeepDaily: 3}, keep: []string{"1130T12", "1129T12", "1128T12"}},
		{name: "keep weekly: ISO weeks", ms: month, p: backup.Policy{KeepWeekly: 3},
			// Nov 30 is a Monday (week 49); weeks 48 and 47 end on Sundays Nov 29 and 22.
			keep: []string{"1130T12", "1129T12", "1122T12"}},
		{name: "keep monthly", ms: quarter, p: backup.Policy{KeepMonthly: 2}, keep: []string{"1130", "1031"}},
		{name: "rules add up", ms: month, p: backup.Policy{KeepLast: 2, KeepDaily: 2, KeepWeekly: 2},
			keep: []string{"1130T12", "1130T00", "1129T12"}},
		{name: "daily counts days with backups, not calendar days", ms: quarter, p: backup.Policy{KeepDaily: 2}, keep: []string{"1130", "1125"}},
		{name: "pinned and verified are kept", ms: month, p: backup.Policy{KeepLast: 1}, pinned: map[string]bool{"1103T00": true}, verified: "1115T12",
			keep: []string{"1130T12", "1115T12", "1103T00"}},
		{name: "day boundaries follow now's location", ms: []*format.Manifest{
			mAt("b", time.Date(2026, 11, 30, 3, 0, 0, 0, utc)), // Nov 29, 22:00 in New York
			mAt("a", time.Date(2026, 11, 30, 1, 0, 0, 0, utc)), // Nov 29, 20:00 in New York
		}, p: backup.Policy{KeepDaily: 5}, now: now.In(mustLoad(t, "America/New_York")), keep: []string{"b"}},
		{name: "same in UTC", ms: []*format.Manifest{
			mAt("b", time.Date(2026, 11, 30, 3, 0, 0, 0, utc)),
			mAt("a", time.Date(2026, 11, 29, 23, 0, 0, 0, utc)),
		}, p: backup.Policy{KeepDaily: 5}, keep: []string{"b", "a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := c.now
			if n.IsZero() {
				n = now
			}
			// Input order does not matter.
			in := append([]*format.Manifest(nil), c.ms...)
			sort.Slice(in, func(i, j int) bool { return in[i].ID < in[j].ID })
			keep, remove := c.p.Select(in, c.pinned, c.verified, n)
			assert.Equal(t, c.keep, ids(keep))
			assert.Equal(t, len(c.ms), len(keep)+len(remove))
			if len(c.ms) > 0 {
				assert.NotEmpty(t, keep, "never remove everything")
				assert.Equal(t, keep[0].StartedAt, maxStart(c.ms), "the newest is kept")
			}
			for _, r := range remove {
				assert.False(t, c.pinned[r.ID])
				assert.NotEqual(t, c.verified, r.ID)
			}
		})
	}
}

func maxStart(ms []*format.Manifest) time.Time {
	var t time.Time
	for _, m := range ms {
		if m.StartedAt.After(t) {
			t = m.StartedAt
		}
	}
	return t
}

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("time zone %s unavailable: %v", name, err)
	}
	return loc
}

// ageFiles sets the modification time of every file under the store's folder prefix.
func ageFiles(t *testing.T, s *local.Store, prefix string, by time.Duration) {
	t.Helper()
	old := time.Now().Add(-by)
	require.NoError(t, filepath.Walk(filepath.Join(s.Root(), prefix), func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		return os.Chtimes(p, old, old)
	}))
}

func filesOnly(f *backuptest.Fixture, encrypted bool, s storage.Store) backup.Options {
	o := f.Options(encrypted, backup.Destination{Name: "local", Store: s})
	o.Components = format.Components{Files: true}
	return o
}

func TestDeleteAndPrune(t *testing.T) {
	dir := t.TempDir()
	tree := backuptest.FileTree(t, dir, 60)
	f := &backuptest.Fixture{FilesDir: dir, Tree: tree}
	var err error
	f.Identity, err = age.GenerateX25519Identity()
	require.NoError(t, err)
	f.IndexID, err = age.GenerateX25519Identity()
	require.NoError(t, err)

	for _, encrypted := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "encrypted"}[encrypted], func(t *testing.T) {
			s := backuptest.LocalStore(t)
			o := filesOnly(f, encrypted, s)
			o.Files = filesource.NewLocal(dir)
			ms1, err := backup.Run(backuptest.Ctx(t), o)
			require.NoError(t, err)
			a := ms1["local"]

			// Backup B: one file gone (its content only in A), one added.
			gone := "a/b.txt"
			goneContent := tree[gone]
			away := filepath.Join(t.TempDir(), "b.txt")
			require.NoError(t, os.Rename(filepath.Join(dir, "a", "b.txt"), away))
			backuptest.WriteFile(t, dir, "z/new.txt", []byte("new in B"), time.Now())
			t.Cleanup(func() {
				_ = os.Rename(away, filepath.Join(dir, "a", "b.txt"))
				_ = os.RemoveAll(filepath.Join(dir, "z"))
			})
			o.ID = ""
			ms2, err := backup.Run(backuptest.Ctx(t), o)
			require.NoError(t, err)
			b := ms2["local"]
			before := poolKeys(t, s)
			require.Contains(t, before, format.PoolKey(sumHex(goneContent)))

			// Everything is fresh: the grace period keeps it all.
			prune := backup.PruneOptions{}
			if encrypted {
				prune.Identities = []age.Identity{f.IndexID}
			}
			require.NoError(t, backup.Delete(backuptest.Ctx(t), s, a.ID, prune))
			_, err = format.ReadManifest(backuptest.Ctx(t), s, a.ID)
			assert.ErrorIs(t, err, format.ErrNoBackup)
			assert.Empty(t, backuptest.Keys(t, s, format.BackupDir(a.ID)))
			assert.Equal(t, before, poolKeys(t, s))

			// Past the grace period: exactly the content only A used goes.
			later := func() time.Time { return time.Now().Add(2 * time.Hour) }
			prune = prune.WithNow(later)
			if encrypted {
				n, err := backup.PrunePool(backuptest.Ctx(t), s, backup.PruneOptions{}.WithNow(later))
				assert.ErrorContains(t, err, "nothing pruned")
				assert.Zero(t, n)
				assert.Equal(t, before, poolKeys(t, s))
			}
			n, err := backup.PrunePool(backuptest.Ctx(t), s, prune)
			require.NoError(t, err)
			assert.Equal(t, 1, n)
			var want []string
			for _, k := range before {
				if k != format.PoolKey(sumHex(goneContent)) {
					want = append(want, k)
				}
			}
			assert.Equal(t, want, poolKeys(t, s))

			// B is intact.
			listed, err := format.List(backuptest.Ctx(t), s)
			require.NoError(t, err)
			require.Equal(t, []string{b.ID}, ids(listed))
			require.NoError(t, format.ReadIndex(backuptest.Ctx(t), s, b, f.Identities(encrypted), func(e format.IndexEntry) error {
				content := readObject(t, s, format.PoolKey(e.SHA256), f.Identities(encrypted))
				assert.Equal(t, e.SHA256, sumHex(content))
				return nil
			}))

			assert.ErrorIs(t, backup.Delete(backuptest.Ctx(t), s, a.ID, prune), format.ErrNoBackup)
		})
	}
}

// TestPruneKeepsWhatARunningBackupMayUse: pool objects newer than the oldest incomplete
// backup are kept even when no complete backup refers to them.
func TestPruneKeepsWhatARunningBackupMayUse(t *testing.T) {
	s := backuptest.LocalStore(t)
	ctx := backuptest.Ctx(t)
	put := func(key string, b []byte) {
		_, err := s.Put(ctx, key, bytes.NewReader(b))
		require.NoError(t, err)
	}
	oldKey, newKey := format.PoolKey(sumHex([]byte("old"))), format.PoolKey(sumHex([]byte("new")))
	put(oldKey, []byte("zstd bytes of old"))
	ageFiles(t, s, "pool", 3*time.Hour)
	put(format.BackupDir("20261126T000000Z-aaaa")+backup.RunMarkerName, []byte(`{}`)) // a running backup
	put(newKey, []byte("zstd bytes of new"))                                          // its fresh upload
	n, err := backup.PrunePool(ctx, s, backup.PruneOptions{}.WithNow(func() time.Time { return time.Now().Add(2 * time.Hour) }))
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, []string{newKey}, poolKeys(t, s))
}

func TestCleanupIncomplete(t *testing.T) {
	backuptest.RequirePG(t)
	f := backuptest.NewFixture(t, 10)
	s := backuptest.LocalStore(t)
	ctx := backuptest.Ctx(t)
	o := f.Options(false, backup.Destination{Name: "local", Store: s})
	o.Components = format.Components{Config: true}
	ms, err := backup.Run(ctx, o)
	require.NoError(t, err)
	complete := ms["local"].ID
	ageFiles(t, s, format.BackupDir(complete), 48*time.Hour)

	crashed, running := "20261120T000000Z-dead", "20261126T000000Z-live"
	for _, id := range []string{crashed, running} {
		for _, name := range []string{backup.RunMarkerName, backup.DatabaseName} {
			_, err := s.Put(ctx, format.BackupDir(id)+name, bytes.NewReader([]byte("x")))
			require.NoError(t, err)
		}
	}
	ageFiles(t, s, format.BackupDir(crashed), 25*time.Hour)

	_, err = backup.CleanupIncomplete(ctx, s, time.Minute)
	assert.ErrorContains(t, err, "too short")
	n, err := backup.CleanupIncomplete(ctx, s, 24*time.Hour)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Empty(t, backuptest.Keys(t, s, format.BackupDir(crashed)))
	assert.Len(t, backuptest.Keys(t, s, format.BackupDir(running)), 2)
	listed, err := format.List(ctx, s)
	require.NoError(t, err)
	assert.Equal(t, []string{complete}, ids(listed))
}

func TestListSkipsBrokenManifest(t *testing.T) {
	s := backuptest.LocalStore(t)
	ctx := backuptest.Ctx(t)
	good := &format.Manifest{FormatVersion: 1, ID: "20261126T000000Z-good", Status: format.StatusComplete, StartedAt: time.Now()}
	b, err := jsonMarshal(good)
	require.NoError(t, err)
	_, err = s.Put(ctx, format.ManifestKey(good.ID), bytes.NewReader(b))
	require.NoError(t, err)
	_, err = s.Put(ctx, format.ManifestKey("20261127T000000Z-bad0"), bytes.NewReader([]byte("{not json")))
	require.NoError(t, err)
	_, err = s.Put(ctx, format.ManifestKey("20261128T000000Z-new0"), bytes.NewReader([]byte(`{"format_version": 99, "id": "20261128T000000Z-new0", "status": "complete"}`)))
	require.NoError(t, err)
	ms, err := format.List(ctx, s)
	assert.ErrorContains(t, err, "not valid JSON")
	assert.ErrorContains(t, err, "upgrade the plugin")
	assert.Equal(t, []string{good.ID}, ids(ms))
	n, err := backup.PrunePool(ctx, s, backup.PruneOptions{})
	assert.ErrorContains(t, err, "nothing pruned")
	assert.Zero(t, n)
}

// TestPolicySelectByClass: the logical rules count logical backups only; base backups keep the
// newest KeepBase; file captures stay inside the window of the kept base backups and after the
// newest logical backup.
func TestPolicySelectByClass(t *testing.T) {
	at := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC) }
	now := at(30, 18)
	var all []*format.Manifest
	add := func(m *format.Manifest) { all = append(all, m) }
	for d := 20; d <= 30; d++ { // a logical backup every day at 00:00
		add(mAt(fmt.Sprintf("L%02d", d), at(d, 0)))
	}
	for _, d := range []int{16, 23, 30} { // a base backup every week at 03:00
		m := mAt(fmt.Sprintf("B%02d", d), at(d, 3))
		m.Components = format.Components{Base: true}
		add(m)
	}
	for d := 16; d <= 30; d++ { // file captures at 06:00 and 12:00
		for _, h := range []int{6, 12} {
			m := mAt(fmt.Sprintf("C%02d%02d", d, h), at(d, h))
			m.Components, m.Kind = format.Components{Files: true}, format.ClassCapture
			add(m)
		}
	}
	only := func(classes ...string) []*format.Manifest {
		var out []*format.Manifest
		for _, m := range all {
			for _, c := range classes {
				if m.Class() == c {
					out = append(out, m)
				}
			}
		}
		return out
	}
	// caps: the captures started at or after day d, hour h.
	caps := func(d, h int) []string {
		var out []string
		for _, m := range only(format.ClassCapture) {
			if !m.StartedAt.Before(at(d, h)) {
				out = append(out, m.ID)
			}
		}
		return out
	}
	list := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		sort.Strings(out)
		return out
	}
	every := ids
	cases := []struct {
		name   string
		ms     []*format.Manifest
		p      backup.Policy
		pinned map[string]bool
		keep   []string
	}{
		{name: "base backups and captures do not count as logical backups", ms: all, p: backup.Policy{KeepLast: 3, KeepBase: 2},
			keep: list([]string{"L30", "L29", "L28", "B30", "B23"}, caps(23, 3))},
		{name: "one base backup: captures since it", ms: all, p: backup.Policy{KeepLast: 3, KeepBase: 1},
			keep: list([]string{"L30", "L29", "L28", "B30"}, caps(30, 3))},
		{name: "KeepBase 0 keeps every base backup and the captures since the oldest", ms: all, p: backup.Policy{KeepLast: 1},
			keep: list([]string{"L30", "B30", "B23", "B16"}, caps(16, 0))},
		{name: "no base backup: the captures since the newest logical backup", ms: only(format.ClassLogical, format.ClassCapture), p: backup.Policy{KeepDaily: 2, KeepBase: 2},
			keep: list([]string{"L30", "L29"}, caps(30, 0))},
		{name: "no logical rule: every logical backup, base backups still trimmed", ms: all, p: backup.Policy{KeepBase: 1},
			keep: list(every(only(format.ClassLogical)), []string{"B30"}, caps(30, 3))},
		{name: "no logical backup: no capture is superseded", ms: only(format.ClassBase, format.ClassCapture), p: backup.Policy{KeepLast: 3, KeepBase: 1},
			keep: list([]string{"B30"}, caps(16, 0))},
		{name: "a pinned capture and a pinned logical backup", ms: all, p: backup.Policy{KeepLast: 1, KeepBase: 1}, pinned: map[string]bool{"C1806": true, "L21": true},
			keep: list([]string{"L30", "L21", "B30", "C1806"}, caps(30, 3))},
		{name: "a pinned base backup widens the window", ms: all, p: backup.Policy{KeepLast: 1, KeepBase: 1}, pinned: map[string]bool{"B16": true},
			keep: list([]string{"L30", "B30", "B16"}, caps(16, 3))},
		{name: "empty policy keeps everything", ms: all, p: backup.Policy{}, keep: list(every(all))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := append([]*format.Manifest(nil), c.ms...)
			sort.Slice(in, func(i, j int) bool { return in[i].ID < in[j].ID })
			keep, remove := c.p.Select(in, c.pinned, "", now)
			got := ids(keep)
			assert.True(t, sort.SliceIsSorted(keep, func(i, j int) bool { return keep[i].StartedAt.After(keep[j].StartedAt) }), "newest first")
			sort.Strings(got)
			assert.Equal(t, c.keep, got)
			assert.Equal(t, len(c.ms), len(keep)+len(remove))
			for _, r := range remove {
				assert.False(t, c.pinned[r.ID])
			}
			plan := &backup.RetentionPlan{Keep: keep, Remove: remove}
			for _, class := range backup.Classes {
				k, r := plan.Count(class)
				n := 0
				for _, m := range c.ms {
					if m.Class() == class {
						n++
					}
				}
				assert.Equal(t, n, k+r, class)
			}
		})
	}

	plan := &backup.RetentionPlan{}
	plan.Keep, plan.Remove = backup.Policy{KeepLast: 3, KeepBase: 2}.Select(all, nil, "", now)
	assert.Equal(t, "logical: keep 3, remove 8; base: keep 2, remove 1; capture: keep 16, remove 14", plan.Summary())
	plan.Keep, plan.Remove = backup.Policy{KeepLast: 3, KeepBase: 2}.Select(only(format.ClassLogical), nil, "", now)
	assert.Equal(t, "logical: keep 3, remove 8", plan.Summary())
	assert.Equal(t, "no backups", (&backup.RetentionPlan{}).Summary())
}

// asCapture rewrites backup m's manifest as a file capture's (Kind capture), signed by key.
func asCapture(t *testing.T, s storage.Store, m *format.Manifest, key *format.SigningKey) *format.Manifest {
	t.Helper()
	ctx := backuptest.Ctx(t)
	m.Kind = format.ClassCapture
	b, err := format.MarshalManifest(m)
	require.NoError(t, err)
	require.NoError(t, format.PutSigned(ctx, s, format.ManifestKey(m.ID), b, key))
	got, err := format.ReadManifest(ctx, s, m.ID)
	require.NoError(t, err)
	require.Equal(t, format.ClassCapture, got.Class())
	return got
}

// TestRetentionKeepsWhatCapturesUse: a file uploaded after the newest logical backup is only in
// a capture's index; retention keeps the capture, and the pool prune that follows the removal
// of an older backup keeps the file's pool object. Once the capture goes, so does the object.
func TestRetentionKeepsWhatCapturesUse(t *testing.T) {
	dir := t.TempDir()
	f := &backuptest.Fixture{FilesDir: dir, Tree: backuptest.FileTree(t, dir, 20)}
	s := backuptest.LocalStore(t)
	ctx := backuptest.Ctx(t)
	key := newKey(t)
	run := func() *format.Manifest {
		o := filesOnly(f, false, s)
		o.SigningKey = key
		ms, err := backup.Run(ctx, o)
		require.NoError(t, err)
		return ms["local"]
	}
	old := run()
	backuptest.WriteFile(t, dir, "new/after-old.txt", []byte("uploaded after the old backup"), time.Now())
	latest := run()
	onlyInCapture := []byte("uploaded after the newest backup")
	backuptest.WriteFile(t, dir, "new/after-latest.txt", onlyInCapture, time.Now())
	capture := asCapture(t, s, run(), key)

	tr := format.Trust{Keys: []format.PublicKey{key.PublicKey()}}
	plan, err := backup.PlanRetention(ctx, s, "local", backup.Policy{KeepLast: 1, KeepBase: 2}, tr, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{capture.ID, latest.ID}, ids(plan.Keep))
	assert.Equal(t, []string{old.ID}, ids(plan.Remove))
	assert.Equal(t, "logical: keep 1, remove 1; capture: keep 1", plan.Summary())

	later := backup.PruneOptions{}.WithNow(func() time.Time { return time.Now().Add(2 * time.Hour) })
	require.NoError(t, backup.Delete(ctx, s, old.ID, later))
	objKey := format.PoolKey(sumHex(onlyInCapture))
	assert.Contains(t, poolKeys(t, s), objKey, "the capture's index keeps its pool object")

	require.NoError(t, backup.Delete(ctx, s, capture.ID, later))
	assert.NotContains(t, poolKeys(t, s), objKey)
}

// A capture a minute for three days, inside the window of a base backup four days old: all of
// the last hour are kept, the first of each quarter hour for the day before, then the first of
// each hour; the earliest of each bucket, so that a restore to any time finds a capture at most
// that long after it.
func TestPolicyThinsCaptures(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 30, 0, time.UTC)
	base := mAt("B", now.Add(-96*time.Hour))
	base.Components = format.Components{Base: true}
	all := []*format.Manifest{base}
	for i := 0; i < 3*24*60; i++ {
		m := mAt(fmt.Sprintf("C%05d", i), now.Add(-time.Duration(i)*time.Minute))
		m.Components, m.Kind = format.Components{Files: true}, format.ClassCapture
		all = append(all, m)
	}
	keep, remove := backup.Policy{KeepLast: 1, KeepBase: 2}.Select(all, map[string]bool{"C04000": true}, "", now)
	byAge := map[string]int{}
	for _, m := range keep {
		if m.Class() != format.ClassCapture {
			continue
		}
		switch age := now.Sub(m.StartedAt); {
		case age < time.Hour:
			byAge["hour"]++
		case age < 24*time.Hour:
			byAge["day"]++
		default:
			byAge["older"]++
		}
	}
	assert.Equal(t, 60, byAge["hour"], "every capture of the last hour")
	assert.InDelta(t, 23*4, byAge["day"], 1, "one per quarter hour for a day")
	assert.InDelta(t, 48+1, byAge["older"], 1, "one per hour after that, and the pinned one")
	assert.Equal(t, 3*24*60+1, len(keep)+len(remove))
	// The earliest of each bucket is kept, and only it: a restore to T finds a capture at most
	// a bucket's length after T.
	keptIDs := map[string]bool{}
	for _, m := range keep {
		keptIDs[m.ID] = true
	}
	for i := 0; i < 3*24*60-1; i++ {
		m, older := all[1+i], all[2+i] // one minute apart
		if m.ID == "C04000" || i == 0 {
			continue
		}
		first := backup.CaptureBucket(m.StartedAt, now) != backup.CaptureBucket(older.StartedAt, now)
		assert.Equal(t, first, keptIDs[m.ID], "capture %s (age %s): kept only as the first of its bucket", m.ID, now.Sub(m.StartedAt))
	}
	var pinned bool
	for _, m := range keep {
		pinned = pinned || m.ID == "C04000"
	}
	assert.True(t, pinned, "a pinned capture is kept")
}
