package backup_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup/backuptest"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/filesource"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
)

// TestMemory backs up ~300 MB of incompressible files and the database to a local folder and
// checks that the Go heap stays flat: the data streams through, nothing is held whole.
func TestMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the 300 MB backup in -short mode")
	}
	backuptest.RequirePG(t)
	f := backuptest.NewFixture(t, 20)
	dir := t.TempDir()
	src := rand.NewChaCha8([32]byte{1})
	rng := rand.New(src)
	const total = 300 << 20
	var written int64
	buf := make([]byte, 1<<20)
	for i := 0; written < total; i++ {
		size := int64(1<<20 + rng.IntN(8<<20)) // 1 to 9 MiB
		p := filepath.Join(dir, fmt.Sprintf("d%02d", i%10), fmt.Sprintf("f%03d.bin", i))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o750))
		fh, err := os.Create(p)
		require.NoError(t, err)
		for left := size; left > 0; {
			n := min(left, int64(len(buf)))
			_, _ = src.Read(buf[:n])
			_, err := fh.Write(buf[:n])
			require.NoError(t, err)
			left -= n
		}
		require.NoError(t, fh.Close())
		written += size
	}
	s := backuptest.LocalStore(t)
	o := f.Options(true, backup.Destination{Name: "local", Store: s})
	if os.Getenv("DR_MEMORY_S3") != "" { // measure with MinIO as a second destination
		o.Destinations = append(o.Destinations, backup.Destination{Name: "s3", Store: minioStore(t), OffSite: true})
		if w, err := strconv.Atoi(os.Getenv("DR_MEMORY_WORKERS")); err == nil {
			o.FileWorkers = w
		}
	}
	o.Files = filesource.NewLocal(dir)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	baseRSS := rss()
	var peak, peakRSS uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapInuse)
				peakRSS = max(peakRSS, rss())
			}
		}
	}()
	start := time.Now()
	res, err := backup.Run(backuptest.Ctx(t), o)
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	m := res["local"]
	growth := int64(peak) - int64(base)
	t.Logf("%d MB of files + database in %s (%.0f MB/s); heap in use %d MB before, peak %d MB (growth %d MB); RSS %d MB before, peak %d MB",
		written>>20, elapsed.Round(time.Millisecond), float64(written)/(1<<20)/elapsed.Seconds(), base>>20, peak>>20, growth>>20, baseRSS>>20, peakRSS>>20)
	if len(o.Destinations) == 1 {
		assert.Less(t, growth, int64(100<<20), "heap growth")
	} // with S3, storage/s3's part buffers (16 MiB per upload in flight) come on top: measured only

	assert.Equal(t, written, m.Files.Bytes)
	assert.Greater(t, m.Files.BytesUploaded, written, "incompressible: stored a little larger")
}

// rss is this process's resident set size, 0 if unknown.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestMemoryBase takes a base backup of the test cluster after adding ~250 MB of
// incompressible rows and checks that the Go heap stays flat: the tar streams through the
// sink, nothing of it is held whole.
func TestMemoryBase(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the 250 MB base backup in -short mode")
	}
	pg := backuptest.RequirePG(t)
	ctx := backuptest.Ctx(t)
	_, url := backuptest.NewDatabase(t, "bigbase")
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	// Hex md5 of random numbers (4 bits of entropy a byte, so zstd level 1 saves ~20%), stored
	// without TOAST compression (EXTERNAL) so that the tar holds it all: 250 rows of 1 MB.
	_, err = conn.Exec(ctx, `CREATE TABLE big (id int, data text);
		ALTER TABLE big ALTER COLUMN data SET STORAGE EXTERNAL;
		INSERT INTO big SELECT g, (SELECT string_agg(md5(random()::text || g || i), '') FROM generate_series(1, 32768) i) FROM generate_series(1, 250) g`)
	require.NoError(t, err)

	s := backuptest.LocalStore(t)
	o := backup.Options{
		Components:   format.Components{Base: true},
		Database:     pgdump.Options{DataSource: pg.URL("postgres")},
		Destinations: []backup.Destination{{Name: "local", Store: s}},
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapInuse)
			}
		}
	}()
	start := time.Now()
	res, err := backup.Run(ctx, o)
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	obj := res["local"].Object(format.ComponentBase)
	require.NotNil(t, obj)
	growth := int64(peak) - int64(base)
	t.Logf("base backup: %d MB of tar stored as %d MB in %s (%.0f MB/s); heap in use %d MB before, peak %d MB (growth %d MB)",
		obj.PlainSize>>20, obj.Size>>20, elapsed.Round(time.Millisecond), float64(obj.PlainSize)/(1<<20)/elapsed.Seconds(), base>>20, peak>>20, growth>>20)
	assert.Greater(t, obj.PlainSize, int64(250<<20), "the rows are in the tar")
	assert.Less(t, growth, int64(100<<20), "heap growth")
}
