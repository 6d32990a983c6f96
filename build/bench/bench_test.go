//go:build bench

package bench

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// Targets of the issue.
const (
	targetFullRatio = 0.6 // full backup ≤ 0.6 × the serial baseline
	targetIncRatio  = 0.05
	targetPeerRatio = 1.0 // ours ≤ pgBackRest + restic, full and incremental
	targetRestore   = 1.2 // our restore ≤ 1.2 × pgBackRest's + restic's
	// our restore ≤ pg_restore -j + tar xzf of the baseline
	targetRestoreBaseline = 1.0
	targetRSS             = 150e6 // bytes
	flatTolerance         = 1.2   // "flat": the peak at the full size is at most 20% above the half size's
)

// dataSet describes the reference set at one size.
type dataSet struct {
	DatabaseBytes, PostsBytes int64 // pg_database_size, pg_total_relation_size('posts')
	Posts, Replies            int64
	Files                     int
	FileBytes, TextBytes      int64
}

// results collects every measurement of one run, for the table.
type results struct {
	Scale                  float64
	Half, Full             dataSet
	HalfFull               *backupRun // full backup at half size (fresh destination)
	Baseline               *baselineRun
	FullRun                *backupRun // (a): full backup at full size (fresh destination)
	DatabaseOnly           *backupRun
	IncFiles, Inc          *backupRun // (c') files only, (c) every component, each after 1% of the files changed
	IncFilesN, IncN        int
	IncFilesBytes, IncByte int64
	Peers                  *peers
	PeersFull, PeersInc    *peerRun // pgBackRest full + restic's first run; pgBackRest incr + restic's second run
	Restore                *restoreRun
	BaselineRestore        *baselineRestore // pg_restore -j + tar xzf of the baseline (b)
	// Point in time: the base backup (pg_basebackup) with WAL archiving on since the full-size
	// set was made; (w) the incremental with the database via the WAL archive (a files-only
	// backup, the change's WAL archived meanwhile); the peers' incremental of the same change;
	// and the restore of the newest state by point in time.
	Base, IncWAL           *backupRun
	IncWALN                int
	IncWALBytes, WALStored int64
	WALWritten             int64         // bytes of WAL the change made the server write
	IncWALPosts            int64         // posts the change edited
	WALArchived            time.Duration // from the end of the change until its WAL was stored
	PeersIncWAL            *peerRun
	RestorePITR            *pitrRestoreRun
}

func scale() (float64, error) {
	s := strings.TrimSpace(os.Getenv("DR_BENCH_SCALE"))
	if s == "" {
		return 1, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || f > 20 {
		return 0, fmt.Errorf("DR_BENCH_SCALE=%q: want a number above 0 (1 = 1 GiB of database and 2 GiB in 20,000 files; 0.05 for a quick run)", s)
	}
	return f, nil
}

// BenchmarkBackup generates the reference set on a real server and measures, in order:
//
//	FullHalfSize      our full backup with the data at half size (peak RSS at the smaller size)
//	Baseline          pg_dump -Fc, then tar czf of the data folder, serially (b)
//	Full              our full backup at full size, to a fresh destination (a)
//	DatabaseOnly      our backup of the database alone (the share of (a) that is the database)
//	IncrementalFiles  our files-only backup after 1% of the files changed (c')
//	PeersFull         pgbackrest backup --type=full, then restic's first run of the data folder (p)
//	Incremental       our backup of everything after another 1% of the files changed (c)
//	PeersIncremental  pgbackrest backup --type=incr, then restic's second run (q)
//	Restore           drctl restore of (c) (r), against pgbackrest restore + recovery + restic restore (s)
//
// The sub-benchmarks depend on each other (each changes the server's state): run them
// together, once (-benchtime 1x). Each reports seconds and ratios with b.ReportMetric; the
// table is printed at the end and written to dist/bench.txt.
//
// Page cache: the data was just written and the machine has far more memory than the set, so
// both ours and the baseline read from the page cache; to be sure, the whole set is read once
// (every file, every post) before the first measured step at each size, and every step starts
// after a sync, with nothing dirty left from the one before.
func BenchmarkBackup(b *testing.B) {
	if b.N != 1 {
		b.Fatal("run once: -benchtime 1x (every step changes the server's state)")
	}
	sc, err := scale()
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Hour)
	defer cancel()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	}
	if err := lookPeers(); err != nil {
		b.Fatal(err)
	}
	env, err := harness.Start(ctx, harness.Options{PostgresSettings: peerSettings})
	if err != nil {
		b.Fatal(err)
	}
	defer env.Close()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer func() {
		signal.Stop(sig)
		close(sig)
	}()
	go func() {
		if _, ok := <-sig; ok {
			env.Close() // several GB under the harness's folder
			os.Exit(130)
		}
	}()
	db, err := env.OpenDB()
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()

	r := &results{Scale: sc}
	// Before the data: pgBackRest's archive then holds every WAL segment since, as on a
	// server it has backed up from day one.
	if r.Peers, err = setUpPeers(ctx, env); err != nil {
		b.Fatal(err)
	}
	gen, err := newGenerator(ctx, env, db, sc, logf)
	if err != nil {
		b.Fatal(err)
	}
	settle := func() dataSet {
		if _, err := db.ExecContext(ctx, `VACUUM (ANALYZE)`); err != nil { // as autovacuum would have; not during a measured step
			b.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `CHECKPOINT`); err != nil {
			b.Fatal(err)
		}
		// Not while a measured step runs: the archiver stores the WAL of the set first.
		if _, err := waitArchived(ctx, env, db); err != nil {
			b.Fatal(err)
		}
		d := dataSet{Files: len(gen.files), FileBytes: gen.bytes, TextBytes: gen.text, Replies: gen.replies}
		if err := db.QueryRowContext(ctx, `SELECT pg_database_size(current_database()), pg_total_relation_size('posts'), (SELECT count(*) FROM posts)`).
			Scan(&d.DatabaseBytes, &d.PostsBytes, &d.Posts); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if err := gen.warmUp(ctx); err != nil {
			b.Fatal(err)
		}
		logf("warm-up read of the set: %.1fs", time.Since(t0).Seconds())
		return d
	}
	defer func() { printTable(b, env, r) }()

	// Half size: the first point of the RSS curve.
	if err := gen.Grow(ctx, 0.5); err != nil {
		b.Fatal(err)
	}
	r.Half = settle()
	step(b, "FullHalfSize", func(b *testing.B) {
		run := mustBackup(ctx, b, env, "")
		r.HalfFull = run
		reportBackup(b, run)
	})
	// The full backup at full size must not find half the files in the pool already.
	if err := os.RemoveAll(filepath.Join(env.MM.Dir, "dr-backups")); err != nil {
		b.Fatal(err)
	}

	// WAL archiving on from here: the full-size set's WAL goes to the archive like any write.
	if err := env.PatchPluginSettings(ctx, map[string]any{"WALArchiveEnabled": true}); err != nil {
		b.Fatal(err)
	}
	if err := waitArchiving(ctx, env); err != nil {
		b.Fatal(err)
	}

	// Full size.
	if err := gen.Grow(ctx, 1); err != nil {
		b.Fatal(err)
	}
	r.Full = settle()
	step(b, "Baseline", func(b *testing.B) {
		b.StartTimer()
		run, err := runBaseline(ctx, env)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		r.Baseline = run
		b.ReportMetric((run.PgDump + run.Tar).Seconds(), "s")
		b.ReportMetric(run.PgDump.Seconds(), "pg_dump-s")
		b.ReportMetric(run.Tar.Seconds(), "tar-s")
	})
	step(b, "Full", func(b *testing.B) {
		run := mustBackup(ctx, b, env, "")
		r.FullRun = run
		reportBackup(b, run)
		if r.Baseline != nil {
			b.ReportMetric(run.Wall.Seconds()/(r.Baseline.PgDump+r.Baseline.Tar).Seconds(), "x-baseline")
		}
	})
	step(b, "BaseBackup", func(b *testing.B) {
		run, err := runCommand(ctx, env, "/dr backup base", b)
		if err != nil {
			b.Fatal(err)
		}
		r.Base = run
		reportBackup(b, run)
	})
	step(b, "DatabaseOnly", func(b *testing.B) {
		run := mustBackup(ctx, b, env, "--only database")
		r.DatabaseOnly = run
		reportBackup(b, run)
	})
	touched := map[int]bool{}
	step(b, "IncrementalFiles", func(b *testing.B) {
		if r.IncFilesN, r.IncFilesBytes, err = gen.Modify(touched); err != nil {
			b.Fatal(err)
		}
		run := mustBackup(ctx, b, env, "--only files")
		r.IncFiles = run
		reportBackup(b, run)
		if r.FullRun != nil {
			b.ReportMetric(run.Wall.Seconds()/r.FullRun.Wall.Seconds(), "x-full")
		}
	})
	// The peers' full backup comes here, on the state our files-only backup (c') saw, so that
	// their second run, after the change (c) backs up, sees the same 1% changed as ours.
	step(b, "PeersFull", func(b *testing.B) {
		run, err := r.Peers.Backup(ctx, "full", b)
		if err != nil {
			b.Fatal(err)
		}
		r.PeersFull = run
		reportPeers(b, run)
		if r.FullRun != nil {
			b.ReportMetric(r.FullRun.Wall.Seconds()/run.Wall().Seconds(), "ours-x-peers")
		}
	})
	step(b, "Incremental", func(b *testing.B) {
		if r.IncN, r.IncByte, err = gen.Modify(touched); err != nil {
			b.Fatal(err)
		}
		run := mustBackup(ctx, b, env, "")
		r.Inc = run
		reportBackup(b, run)
		if r.FullRun != nil {
			b.ReportMetric(run.Wall.Seconds()/r.FullRun.Wall.Seconds(), "x-full")
		}
	})
	step(b, "PeersIncremental", func(b *testing.B) {
		run, err := r.Peers.Backup(ctx, "incr", b)
		if err != nil {
			b.Fatal(err)
		}
		r.PeersInc = run
		reportPeers(b, run)
		if r.Inc != nil {
			b.ReportMetric(r.Inc.Wall.Seconds()/run.Wall().Seconds(), "ours-x-peers")
		}
	})
	// Each restores what the incremental step left: our backup (c), pgBackRest's incr and
	// restic's second snapshot.
	step(b, "Restore", func(b *testing.B) {
		if r.Inc == nil || r.PeersInc == nil {
			b.Skip("no incremental backup of ours or of the peers to restore")
		}
		run, err := r.Peers.Restore(ctx, r.Inc.Manifest.ID, b)
		if err != nil {
			b.Fatal(err)
		}
		r.Restore = run
		b.ReportMetric(run.Ours.Wall.Seconds(), "s")
		b.ReportMetric(run.Peers().Seconds(), "peers-s")
		b.ReportMetric(run.Ours.Wall.Seconds()/run.Peers().Seconds(), "ours-x-peers")
		if r.Baseline != nil {
			bl, err := r.Baseline.Restore(ctx, filepath.Join(env.Dir, "baseline-restore"), runtime.NumCPU(), b)
			if err != nil {
				b.Fatal(err)
			}
			r.BaselineRestore = bl
			b.ReportMetric(bl.Total().Seconds(), "baseline-s")
			b.ReportMetric(run.Ours.Wall.Seconds()/bl.Total().Seconds(), "ours-x-baseline")
		}
	})
	// The database via the WAL: another 1% of the files and their posts change while the WAL
	// archive runs; our incremental is then a files-only backup, the change's WAL being
	// archived already (its size and delay are reported). The peers back up the same change.
	step(b, "IncrementalWAL", func(b *testing.B) {
		walDir := filepath.Join(env.MM.Dir, "dr-backups", "wal")
		before, err := duBytes(walDir)
		if err != nil {
			b.Fatal(err)
		}
		var lsn string
		if err := db.QueryRowContext(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&lsn); err != nil {
			b.Fatal(err)
		}
		if r.IncWALN, r.IncWALBytes, err = gen.Modify(touched); err != nil {
			b.Fatal(err)
		}
		// And the database: 1% of the posts edited, which only the WAL carries.
		res, err := db.ExecContext(ctx, `UPDATE posts SET message = message || ' (edited)', editat = $1, updateat = $1
			WHERE id IN (SELECT id FROM posts ORDER BY id LIMIT (SELECT count(*) / 100 FROM posts))`, time.Now().UnixMilli())
		if err != nil {
			b.Fatal(err)
		}
		if r.IncWALPosts, err = res.RowsAffected(); err != nil {
			b.Fatal(err)
		}
		if r.WALArchived, err = waitArchived(ctx, env, db); err != nil {
			b.Fatal(err)
		}
		after, err := duBytes(walDir)
		if err != nil {
			b.Fatal(err)
		}
		r.WALStored = after - before
		if err := db.QueryRowContext(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::bigint`, lsn).Scan(&r.WALWritten); err != nil {
			b.Fatal(err)
		}
		run := mustBackup(ctx, b, env, "--only files")
		r.IncWAL = run
		reportBackup(b, run)
		b.ReportMetric(float64(r.WALStored)/1e6, "wal-MB")
	})
	step(b, "PeersIncrementalWAL", func(b *testing.B) {
		run, err := r.Peers.Backup(ctx, "incr", b)
		if err != nil {
			b.Fatal(err)
		}
		r.PeersIncWAL = run
		reportPeers(b, run)
		if r.IncWAL != nil {
			b.ReportMetric(r.IncWAL.Wall.Seconds()/run.Wall().Seconds(), "ours-x-peers")
		}
	})
	step(b, "RestorePointInTime", func(b *testing.B) {
		if r.IncWAL == nil || r.PeersIncWAL == nil {
			b.Skip("no incremental of ours or of the peers to restore")
		}
		run, err := r.Peers.RestorePITR(ctx, r.IncWAL.Manifest.ID, b)
		if err != nil {
			b.Fatal(err)
		}
		r.RestorePITR = run
		b.ReportMetric(run.OursTotal().Seconds(), "s")
		b.ReportMetric(run.Peers().Seconds(), "peers-s")
		b.ReportMetric(run.OursTotal().Seconds()/run.Peers().Seconds(), "ours-x-peers")
	})
}

func reportPeers(b *testing.B, run *peerRun) {
	b.ReportMetric(run.Wall().Seconds(), "s")
	b.ReportMetric(run.PgBackRest.Wall.Seconds(), "pgbackrest-s")
	b.ReportMetric(run.Restic.Wall.Seconds(), "restic-s")
	b.ReportMetric(run.CPU().Seconds(), "cpu-s")
}

// step runs one sub-benchmark with its timer stopped: the step starts it around what it
// measures.
func step(b *testing.B, name string, fn func(b *testing.B)) {
	b.Run(name, func(b *testing.B) {
		if b.N != 1 {
			b.Fatal("run once: -benchtime 1x (every step changes the server's state)")
		}
		b.StopTimer()
		fn(b)
	})
}

// mustBackup runs one backup of the plugin, timing the slash command to the result post.
func mustBackup(ctx context.Context, b *testing.B, env *harness.Env, args string) *backupRun {
	b.Helper()
	run, err := runBackup(ctx, env, args, b)
	if err != nil {
		b.Fatal(err)
	}
	return run
}

// ourStored is what one of our backups wrote: its own objects and what it added to the pool.
func ourStored(run *backupRun) int64 {
	if run.Manifest == nil {
		return 0
	}
	n := run.Manifest.Size()
	if f := run.Manifest.Files; f != nil {
		n += f.BytesUploaded
	}
	return n
}

func reportBackup(b *testing.B, run *backupRun) {
	b.ReportMetric(run.Wall.Seconds(), "s")
	b.ReportMetric(float64(run.PeakRSS)/1e6, "MB-peak-RSS")
	b.ReportMetric(run.CPU.Seconds(), "cpu-s")
}

// printTable prints the table of a run (what was measured of it) and writes it to
// dist/bench.txt.
func printTable(b *testing.B, env *harness.Env, r *results) {
	var sb strings.Builder
	w := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	na := "n/a"
	secs := func(d time.Duration) string { return fmt.Sprintf("%.1f", d.Seconds()) }
	mb := func(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/1e6) }
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "MISS"
	}
	set := func(d dataSet) string {
		if d.Files == 0 {
			return na
		}
		return fmt.Sprintf("%s db (posts %s, %d posts, %d replies); %d files, %s (%.0f%% text)",
			human(d.DatabaseBytes), human(d.PostsBytes), d.Posts, d.Replies, d.Files, human(d.FileBytes), 100*float64(d.TextBytes)/float64(max(d.FileBytes, 1)))
	}
	stored := func(run *backupRun) string {
		if run == nil || run.Manifest == nil {
			return na
		}
		s := fmt.Sprintf("engine %.1fs; %s in backup", run.Engine.Seconds(), human(run.Manifest.Size()))
		for _, o := range run.Manifest.Objects {
			if o.Component == "database" {
				s += fmt.Sprintf(" (dump %s -> %s)", human(o.PlainSize), human(o.Size))
			}
		}
		if f := run.Manifest.Files; f != nil {
			s += fmt.Sprintf(", %d files: %d hashed, %d new in pool (%s)", f.Count, f.Hashed, f.NewPoolObjects, human(f.BytesUploaded))
		}
		return s
	}
	row := func(cells ...string) { fmt.Fprintln(w, strings.Join(cells, "\t")+"\t") }

	version := ""
	if r.FullRun != nil {
		version = fmt.Sprintf(", Mattermost %s, plugin %s, pg_dump %s", r.FullRun.Manifest.MattermostVersion, r.FullRun.Manifest.PluginVersion, r.FullRun.Manifest.PgDumpVersion)
	}
	fmt.Fprintf(&sb, "Backup benchmark: DR_BENCH_SCALE=%g, %d CPUs%s\n", r.Scale, runtime.NumCPU(), version)
	if p := r.Peers; p != nil {
		fmt.Fprintf(&sb, "Peers: %s, %s\n", p.PgBackRestVersion, p.ResticVersion)
	}
	fmt.Fprintf(&sb, "Reference set at half size: %s\n", set(r.Half))
	fmt.Fprintf(&sb, "Reference set at full size: %s\n\n", set(r.Full))

	row("step (full size unless said)", "seconds", "CPU s", "ratio", "target", "result", "stored / notes")
	row("----", "----", "----", "----", "----", "----", "----")
	var full, base float64
	if r.FullRun != nil {
		full = r.FullRun.Wall.Seconds()
		row("(a) full backup, ours", secs(r.FullRun.Wall), secs(r.FullRun.CPU), "", "", "", stored(r.FullRun))
	} else {
		row("(a) full backup, ours", na, na, "", "", "", "")
	}
	if bl := r.Baseline; bl != nil {
		base = (bl.PgDump + bl.Tar).Seconds()
		row("(b) baseline: pg_dump -Fc", secs(bl.PgDump), secs(bl.PgDumpCPU), "", "", "", human(bl.DumpSize))
		row("(b) baseline: tar czf data/", secs(bl.Tar), secs(bl.TarCPU), "", "", "", human(bl.TarSize)+" (incl. fsync)")
		row("(b) baseline total, serial", secs(bl.PgDump+bl.Tar), secs(bl.PgDumpCPU+bl.TarCPU), "", "", "", human(bl.DumpSize+bl.TarSize))
	} else {
		row("(b) baseline", na, "", "", "", "", "")
	}
	if full > 0 && base > 0 {
		ratio := full / base
		row("    a / b", "", "", fmt.Sprintf("%.2f", ratio), fmt.Sprintf("<= %.2f", targetFullRatio), verdict(ratio <= targetFullRatio), "")
	}
	inc := func(label string, run *backupRun, n int, bytes int64) {
		if run == nil {
			row(label, na, "", "", "", "", "")
			return
		}
		ratio, target, result := "", "", ""
		if full > 0 {
			q := run.Wall.Seconds() / full
			ratio, target, result = fmt.Sprintf("%.3f x a", q), fmt.Sprintf("<= %.2f", targetIncRatio), verdict(q <= targetIncRatio)
		}
		row(label, secs(run.Wall), secs(run.CPU), ratio, target, result, fmt.Sprintf("%d files (%s) rewritten; ", n, human(bytes))+stored(run))
	}
	inc("(c) incremental, 1% files changed", r.Inc, r.IncN, r.IncByte)
	inc("(c') same, --only files", r.IncFiles, r.IncFilesN, r.IncFilesBytes)
	if run := r.DatabaseOnly; run != nil {
		share := ""
		if full > 0 {
			share = fmt.Sprintf("%.2f x a", run.Wall.Seconds()/full)
		}
		row("    database only (--only database)", secs(run.Wall), secs(run.CPU), share, "", "", stored(run))
	}
	if run := r.HalfFull; run != nil {
		row("    full backup at half size", secs(run.Wall), secs(run.CPU), "", "", "", stored(run))
	}

	row("", "", "", "", "", "", "")
	row("peers, same run, same set", "seconds", "CPU s", "ratio", "target", "result", "stored / notes")
	row("----", "----", "----", "----", "----", "----", "----")
	peer := func(label, kind, second string, run *peerRun) {
		if run == nil {
			row(label, na, "", "", "", "", "")
			return
		}
		tool := func(name string, t toolRun) {
			row(fmt.Sprintf("%s: %s", label, name), secs(t.Wall), secs(t.CPU), "", "", "", human(t.Stored)+" added to the repo; "+t.Note)
		}
		tool("pgbackrest backup --type="+kind, run.PgBackRest)
		tool("restic backup data/, "+second, run.Restic)
		row(label+" total, serial", secs(run.Wall()), secs(run.CPU()), "", "", "", human(run.Stored())+" added")
	}
	vsPeers := func(label string, ours *backupRun, run *peerRun, note string) {
		if ours == nil || run == nil {
			return
		}
		q := ours.Wall.Seconds() / run.Wall().Seconds()
		row(label, "", "", fmt.Sprintf("%.2f", q), fmt.Sprintf("<= %.2f", targetPeerRatio), verdict(q <= targetPeerRatio),
			fmt.Sprintf("stored: ours %s, peers %s (%.2f x); CPU: %.2f x; %s", human(ourStored(ours)), human(run.Stored()),
				float64(ourStored(ours))/float64(max(run.Stored(), 1)), ours.CPU.Seconds()/max(run.CPU().Seconds(), 1e-9), note))
	}
	peer("(p) full", "full", "first run", r.PeersFull)
	vsPeers("    a / p", r.FullRun, r.PeersFull, "our full backup (database + files) against theirs")
	if bl := r.Baseline; bl != nil && r.PeersFull != nil {
		row("    p / b", "", "", fmt.Sprintf("%.2f", r.PeersFull.Wall().Seconds()/base), "", "", "the peers against the pg_dump + tar baseline")
	}
	peer("(q) incremental", "incr", "second run", r.PeersInc)
	vsPeers("    c / q", r.Inc, r.PeersInc, "with the logical backup our database part is a whole pg_dump every time ((w) below takes the database from the WAL archive); pgBackRest incr copies only the relation files changed since (p)")
	if run := r.Base; run != nil {
		note := "pg_basebackup of the whole cluster, streamed: " + stored(run)
		ratio := ""
		if r.PeersFull != nil {
			ratio = fmt.Sprintf("%.2f", run.Wall.Seconds()/r.PeersFull.PgBackRest.Wall.Seconds())
			note += "; ratio against pgbackrest --type=full alone"
		}
		row("(f) base backup, ours (/dr backup base)", secs(run.Wall), secs(run.CPU), ratio, "", "", note)
	}
	if run := r.IncWAL; run != nil {
		ratio, target, result := "", "", ""
		if full > 0 {
			q := run.Wall.Seconds() / full
			ratio, target, result = fmt.Sprintf("%.3f x a", q), fmt.Sprintf("<= %.2f", targetIncRatio), verdict(q <= targetIncRatio)
		}
		row("(w) incremental, database via WAL: ours", secs(run.Wall), secs(run.CPU), ratio, target, result, fmt.Sprintf(
			"another %d files (%s) rewritten and %d posts edited; a files-only backup, the change's WAL (%s written, the archive grew by %s) archived as it was written, all of it stored %.1fs after the change ended; ",
			r.IncWALN, human(r.IncWALBytes), r.IncWALPosts, human(r.WALWritten), human(r.WALStored), r.WALArchived.Seconds())+stored(run))
	}
	peer("(q') incremental of (w)'s change", "incr", "third run", r.PeersIncWAL)
	if ours, run := r.IncWAL, r.PeersIncWAL; ours != nil && run != nil {
		q := ours.Wall.Seconds() / run.Wall().Seconds()
		row("    w / q'", "", "", fmt.Sprintf("%.2f", q), fmt.Sprintf("<= %.2f", targetPeerRatio), verdict(q <= targetPeerRatio),
			fmt.Sprintf("stored: ours %s + %s WAL, peers %s", human(ourStored(ours)), human(r.WALStored), human(run.Stored())))
		if base > 0 {
			row("    w / b", "", "", fmt.Sprintf("%.3f", ours.Wall.Seconds()/base), "", "", "against the pg_dump + tar baseline")
		}
	}
	if rs := r.RestorePITR; rs != nil {
		row("(t) restore, ours: drctl restore --to-latest --pgdata", secs(rs.Ours.Wall), secs(rs.Ours.CPU), "", "", "", "the newest base backup unpacked, recovery set up: "+rs.Ours.Note)
		row("(t) restore, ours: PostgreSQL recovery", secs(rs.OursRecovery.Wall), "", "", "", "", "start, replay of our WAL archive through drctl wal-fetch, promotion: "+rs.OursRecovery.Note)
		row("(t) restore, ours: drctl restore of (w)'s files", secs(rs.OursFiles.Wall), secs(rs.OursFiles.CPU), "", "", "", rs.OursFiles.Note)
		row("(t) restore total, ours", secs(rs.OursTotal()), "", "", "", "", "")
		row("(u) restore: pgbackrest restore + recovery", secs(rs.PgBackRest.Wall+rs.Recovery.Wall), secs(rs.PgBackRest.CPU), "", "", "", "the incr of (q'): "+rs.Recovery.Note)
		row("(u) restore: restic restore latest", secs(rs.Restic.Wall), secs(rs.Restic.CPU), "", "", "", rs.Restic.Note)
		row("(u) restore total, serial", secs(rs.Peers()), "", "", "", "", "")
		q := rs.OursTotal().Seconds() / rs.Peers().Seconds()
		row("    t / u (point in time)", "", "", fmt.Sprintf("%.2f", q), fmt.Sprintf("<= %.2f", targetRestore), verdict(q <= targetRestore), "")
	}
	if rs := r.Restore; rs != nil {
		row("(r) restore, ours: drctl restore of (c)", secs(rs.Ours.Wall), secs(rs.Ours.CPU), "", "", "", "database (pg_restore into a new empty cluster), config, files: "+rs.Ours.Note)
		row("(s) restore: pgbackrest restore", secs(rs.PgBackRest.Wall), secs(rs.PgBackRest.CPU), "", "", "", "the incr of (q), into a new data folder")
		row("(s) restore: PostgreSQL recovery", secs(rs.Recovery.Wall), "", "", "", "", "start, archive replay, promotion (CPU: PostgreSQL's own, not counted): "+rs.Recovery.Note)
		row("(s) restore: restic restore latest", secs(rs.Restic.Wall), secs(rs.Restic.CPU), "", "", "", "the second snapshot, into a new folder: "+rs.Restic.Note)
		row("(s) restore total, serial", secs(rs.Peers()), secs(rs.PgBackRest.CPU+rs.Restic.CPU), "", "", "", "")
		q := rs.Ours.Wall.Seconds() / rs.Peers().Seconds()
		row("    r / s", "", "", fmt.Sprintf("%.2f", q), fmt.Sprintf("<= %.2f", targetRestore), verdict(q <= targetRestore), "")
		if bl := r.BaselineRestore; bl != nil {
			row(fmt.Sprintf("(b') restore, baseline: pg_restore -j %d", runtime.NumCPU()), secs(bl.PgRestore), secs(bl.PgRestoreCPU), "", "", "", "the dump of (b) into a new cluster's empty database")
			row("(b') restore, baseline: tar xzf", secs(bl.Tar), secs(bl.TarCPU), "", "", "", "the archive of (b) into a new folder: "+bl.Note)
			row("(b') restore total, serial", secs(bl.Total()), secs(bl.PgRestoreCPU+bl.TarCPU), "", "", "", "")
			q := rs.Ours.Wall.Seconds() / bl.Total().Seconds()
			row("    r / b'", "", "", fmt.Sprintf("%.2f", q), fmt.Sprintf("<= %.2f", targetRestoreBaseline), verdict(q <= targetRestoreBaseline), "our restore against the baseline's")
		}
	} else {
		row("(r), (s) restore", na, "", "", "", "", "")
	}
	row("", "", "", "", "", "", "")
	row("peak RSS of the plugin process (VmHWM)", "MB", "", "", "", "", "")
	row("----", "----", "----", "----", "----", "----", "----")
	rss := func(label string, run *backupRun, ok func(int64) (string, string)) {
		if run == nil {
			row(label, na, "", "", "", "", "")
			return
		}
		target, result := ok(run.PeakRSS)
		row(label, mb(run.PeakRSS), "", "", target, result, "sampled VmRSS peak "+mb(run.SampledRSS))
	}
	under := func(n int64) (string, string) { return "<= 150 MB", verdict(n <= targetRSS) }
	rss("full backup at half size", r.HalfFull, under)
	rss("full backup at full size", r.FullRun, under)
	if r.HalfFull != nil && r.FullRun != nil {
		growth := float64(r.FullRun.PeakRSS) / float64(r.HalfFull.PeakRSS)
		row("    flat: full size / half size", "", "", fmt.Sprintf("%.2f", growth), fmt.Sprintf("<= %.1f", flatTolerance), verdict(growth <= flatTolerance), "")
	}
	rss("incremental (c)", r.Inc, func(int64) (string, string) { return "", "" })
	_ = w.Flush()
	sb.WriteString("\n(a), (c): from `/dr backup now` to the bot's result post, local folder destination, zstd level 1, not encrypted.\n")
	sb.WriteString("(b): pg_dump -Fc (gzip), then tar czf (gzip) of the data folder, one after the other, outputs on the same disk.\n")
	sb.WriteString("CPU s: user+system of the plugin process and its pg_dump; of pg_dump; of tar and its gzip; of pgbackrest and its local processes; of restic. PostgreSQL's own backend is not counted.\n")
	sb.WriteString("(p), (q): pgBackRest backs up the cluster (as its OS user; local repo on the same disk; compress-type=zst at its default level, process-max = CPUs,\n")
	sb.WriteString("  start-fast=y so that it does not wait for a spread checkpoint), then restic backs up the data folder (local repo, format 2, its default compression),\n")
	sb.WriteString("  one after the other. WAL goes to pgBackRest's archive from before the data was generated (archive_command = archive-push): the archiver's\n")
	sb.WriteString("  work between backups is not counted, as PostgreSQL's is not for ours. Stored: what each run added to its repository (pgBackRest: the backup\n")
	sb.WriteString("  and the WAL archived meanwhile); ours: the backup's objects and what it added to the pool.\n")
	sb.WriteString("(p) runs right after (c'), on the same set with 1% of the files rewritten (same sizes), so that (q), after (c), sees the same change as (c).\n")
	sb.WriteString("(r), (s): restores of what (c) and (q) backed up, one after the other, each after a sync; drctl with --jobs = CPUs into a new empty cluster\n")
	sb.WriteString("  (started beforehand, not timed); the pgBackRest cluster counts until it has replayed the archive and left recovery (usable only then).\n")

	out := sb.String()
	fmt.Print("\n" + out)
	dist := filepath.Join(env.Root, "dist")
	if err := os.MkdirAll(dist, 0o755); err == nil {
		err = os.WriteFile(filepath.Join(dist, "bench.txt"), []byte(out), 0o644)
		if err != nil {
			b.Log(err)
		}
	}
}
