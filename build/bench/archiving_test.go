//go:build bench

package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// BenchmarkArchiving runs WAL archiving (and the file captures that come with it) under a
// synthetic write load for an hour at DR_BENCH_SCALE=1 (scaled down, at least 2 minutes) and
// samples the plugin process's resident memory: it must stay under 150 MB and flat (the
// peak of the last quarter of the run at most 1.2 × that of the first quarter).
func BenchmarkArchiving(b *testing.B) {
	if b.N != 1 {
		b.Fatal("run once: -benchtime 1x")
	}
	sc, err := scale()
	if err != nil {
		b.Fatal(err)
	}
	run := max(2*time.Minute, time.Duration(sc*float64(time.Hour)))
	ctx, cancel := context.WithTimeout(context.Background(), run+15*time.Minute)
	defer cancel()
	env, err := harness.Start(ctx, harness.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer env.Close()
	db, err := env.OpenDB()
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE bench_load (id bigserial PRIMARY KEY, at timestamptz DEFAULT now(), body text)`); err != nil {
		b.Fatal(err)
	}
	if err := env.PatchPluginSettings(ctx, map[string]any{"WALArchiveEnabled": true, "FileCaptureIntervalSeconds": 60}); err != nil {
		b.Fatal(err)
	}
	if err := waitArchiving(ctx, env); err != nil {
		b.Fatal(err)
	}
	pid, err := pluginPID(env)
	if err != nil {
		b.Fatal(err)
	}
	var lsn0 string
	if err := db.QueryRowContext(ctx, `SELECT pg_current_wal_insert_lsn()::text`).Scan(&lsn0); err != nil {
		b.Fatal(err)
	}
	walDir := filepath.Join(env.MM.Dir, "dr-backups", "wal")
	stored0, _ := duBytes(walDir)

	// The load: 100 rows of 1 KB every 100 ms (about 1 MB/s of WAL), and a post with a file
	// every 30 s, which the file capture picks up.
	lctx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var loadErr error
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		if loadErr == nil && lctx.Err() == nil {
			loadErr = err
		}
		mu.Unlock()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for lctx.Err() == nil {
			if _, err := db.ExecContext(lctx, `INSERT INTO bench_load (body) SELECT repeat(md5(random()::text), 32) FROM generate_series(1, 100)`); err != nil {
				fail(fmt.Errorf("load: %w", err))
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; lctx.Err() == nil; i++ {
			up, _, err := env.Admin.Client.UploadFile(lctx, []byte(fmt.Sprintf("bench upload %d %s", i, time.Now())), env.OpsChannel.Id, fmt.Sprintf("load-%d.txt", i))
			if err == nil && len(up.FileInfos) == 1 {
				_, _, err = env.Admin.Client.CreatePost(lctx, &model.Post{ChannelId: env.OpsChannel.Id, Message: "load", FileIds: []string{up.FileInfos[0].Id}})
			}
			if err != nil && lctx.Err() == nil {
				fail(fmt.Errorf("upload: %w", err))
				return
			}
			select {
			case <-lctx.Done():
			case <-time.After(30 * time.Second):
			}
		}
	}()

	// Resident memory every 5 s, from the kernel; the process must stay the same one.
	type sample struct {
		at  time.Duration
		rss int64
	}
	var samples []sample
	start := time.Now()
	b.StartTimer()
	for time.Since(start) < run {
		_, rss, err := procMemory(pid)
		if err != nil {
			b.Fatalf("the plugin process %d ended during the run (%v): it restarted, so memory is not comparable", pid, err)
		}
		samples = append(samples, sample{time.Since(start), rss})
		time.Sleep(5 * time.Second)
	}
	b.StopTimer()
	stopLoad()
	wg.Wait()
	if loadErr != nil {
		b.Fatal(loadErr)
	}
	var written int64
	if err := db.QueryRowContext(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::bigint`, lsn0).Scan(&written); err != nil {
		b.Fatal(err)
	}
	lag, err := waitArchived(ctx, env, db)
	if err != nil {
		b.Fatal(err)
	}
	stored1, _ := duBytes(walDir)
	hwm, _, err := procMemory(pid)
	if err != nil {
		b.Fatal(err)
	}
	var peak, first, last int64
	for _, s := range samples {
		peak = max(peak, s.rss)
		switch {
		case s.at < run/4:
			first = max(first, s.rss)
		case s.at >= run*3/4:
			last = max(last, s.rss)
		}
	}
	flat := float64(last) / float64(max(first, 1))
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "MISS"
	}
	line := fmt.Sprintf("bench: archiving for %s under load: %s of WAL written, %s stored (compressed), caught up %.1fs after the load stopped; "+
		"plugin RSS peak %s (VmHWM %s, target <= 150 MB: %s), first quarter %s, last quarter %s: flat %.2f (target <= %.1f: %s)",
		run.Round(time.Second), human(written), human(stored1-stored0), lag.Seconds(), human(peak), human(hwm), verdict(hwm <= targetRSS),
		human(first), human(last), flat, flatTolerance, verdict(flat <= flatTolerance))
	fmt.Fprintln(os.Stderr, line)
	fmt.Println(line)
	b.ReportMetric(float64(peak)/1e6, "MB-peak-RSS")
	b.ReportMetric(float64(hwm)/1e6, "MB-VmHWM")
	b.ReportMetric(flat, "flat")
	b.ReportMetric(float64(written)/1e6, "MB-WAL")
}
