package walarchive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdsn"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// Destination is one place the archive is written to.
type Destination struct {
	Name  string
	Store storage.Store
}

// Options configures an Archiver.
type Options struct {
	// DSN reaches the primary as a role with REPLICATION (pg_receivewal's and the slot's need).
	DSN string
	// ReceiveWAL is the pg_receivewal program, of the server's major version or newer.
	ReceiveWAL string
	// Spool is the local folder pg_receivewal writes to. A completed file stays there until
	// every destination has it, so nothing received is lost when a destination is down.
	Spool string
	// Slot is the physical replication slot that keeps the primary from recycling WAL not yet
	// received (default DefaultSlot). It is created when missing.
	Slot string
	// MaxDelay is how often the segment being written is stored (default DefaultMaxDelay): the
	// recovery point when the primary is lost.
	MaxDelay time.Duration
	// Destinations receive every file.
	Destinations []Destination
	// Recipients encrypt the archive (age); empty: not encrypted.
	Recipients []age.Recipient
	// SigningKey signs every stored file (required: a restore trusts nothing unsigned).
	SigningKey *format.SigningKey
	// Level is zstd's level, 1 (default) to 4.
	Level int
	// Logf, when set, receives what an operator should see in the server log.
	Logf func(format string, args ...any)

	now func() time.Time // the clock, for tests
}

// Defaults.
const (
	DefaultSlot     = "mattermost_dr_archive"
	DefaultMaxDelay = 10 * time.Second
)

var slotRE = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// Status is what the archiver reports to /dr status and the metrics.
type Status struct {
	Running  bool   // pg_receivewal is streaming
	SystemID string // the archived cluster
	Timeline uint32
	LastFile string // the newest file stored (a segment, or a segment's partial copy)
	// CaughtUp is the last time everything received had been stored at every destination:
	// now minus CaughtUp is the archiving lag, the recovery point objective of the moment.
	CaughtUp  time.Time
	Pending   int    // completed files in the spool not yet stored everywhere
	Stored    int64  // files stored since start
	Restarts  int    // times pg_receivewal was started again after it stopped
	LastError string // the latest failure, cleared when a pass succeeds
}

// Archiver runs pg_receivewal and stores what it receives.
type Archiver struct {
	o       Options
	sys     System
	mu      sync.Mutex
	st      Status
	partial struct {
		name  string
		mod   time.Time
		size  int64
		after time.Time // not stored again before
	}
}

// New checks o; Run does the rest.
func New(o Options) (*Archiver, error) {
	switch {
	case o.DSN == "":
		return nil, errors.New("WAL archiving needs the database connection (a role with REPLICATION)")
	case o.ReceiveWAL == "":
		return nil, errors.New("WAL archiving needs pg_receivewal (the PostgreSQL client package that has pg_dump)")
	case o.Spool == "":
		return nil, errors.New("WAL archiving needs a spool folder")
	case len(o.Destinations) == 0:
		return nil, errors.New("WAL archiving needs at least one destination")
	case o.SigningKey == nil:
		return nil, errors.New("WAL archiving needs the server's signing key: a restore trusts no unsigned WAL")
	}
	if o.Slot == "" {
		o.Slot = DefaultSlot
	}
	if !slotRE.MatchString(o.Slot) {
		return nil, fmt.Errorf("replication slot name %q: use 1-63 lower-case letters, digits and _", o.Slot)
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = DefaultMaxDelay
	}
	if o.Level < 1 || o.Level > 4 {
		o.Level = 1
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.now == nil {
		o.now = time.Now
	}
	return &Archiver{o: o}, nil
}

// Status is a copy of the current status.
func (a *Archiver) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.st
}

func (a *Archiver) update(fn func(*Status)) {
	a.mu.Lock()
	fn(&a.st)
	a.mu.Unlock()
}

// Run archives until ctx ends, then stores what was received before it returns. It returns
// early only when archiving cannot start (the cluster or a destination refuses).
func (a *Archiver) Run(ctx context.Context) error {
	if err := a.setup(ctx); err != nil {
		return err
	}
	recvCtx, stopRecv := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.receive(recvCtx)
	}()
	beatDone := make(chan struct{})
	go func() {
		defer close(beatDone)
		a.heartbeat(recvCtx)
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for ctx.Err() == nil {
		// While pg_receivewal is down (the primary died, or it restarts), what it received is
		// stored at once rather than after MaxDelay: after a lost primary, the archive holds
		// every byte of WAL that left it within a second.
		a.pass(ctx, !a.Status().Running)
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	stopRecv()
	<-done
	<-beatDone
	// Store what pg_receivewal flushed on its way out; a new context, since ctx is done.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	a.pass(fctx, true)
	return nil
}

// setup reads the cluster's identity, makes the slot and the spool, and claims the archive at
// every destination.
func (a *Archiver) setup(ctx context.Context) error {
	conn, err := pgdsn.Connect(ctx, a.o.DSN, "")
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var sysID string
	var segSize int64
	var tl uint32
	if err := conn.QueryRow(ctx, `SELECT system_identifier::text FROM pg_control_system()`).Scan(&sysID); err != nil {
		return fmt.Errorf("read the cluster's system identifier: %w", err)
	}
	if err := conn.QueryRow(ctx, `SELECT setting::bigint * CASE unit WHEN 'B' THEN 1 WHEN 'kB' THEN 1024 WHEN 'MB' THEN 1048576 ELSE 1 END FROM pg_settings WHERE name = 'wal_segment_size'`).Scan(&segSize); err != nil {
		return fmt.Errorf("read wal_segment_size: %w", err)
	}
	if err := conn.QueryRow(ctx, `SELECT timeline_id::int FROM pg_control_checkpoint()`).Scan(&tl); err != nil {
		return fmt.Errorf("read the cluster's timeline: %w", err)
	}
	if !validSegmentSize(segSize) {
		return fmt.Errorf("the server reports a WAL segment size of %d bytes, which PostgreSQL does not make", segSize)
	}
	if err := a.ensureSlot(ctx, conn); err != nil {
		return err
	}
	if err := os.MkdirAll(a.o.Spool, 0o700); err != nil {
		return fmt.Errorf("create the WAL spool %s: %w", a.o.Spool, err)
	}
	var start *string
	if err := conn.QueryRow(ctx, `SELECT pg_walfile_name(restart_lsn) FROM pg_replication_slots WHERE slot_name = $1`, a.o.Slot).Scan(&start); err != nil {
		return fmt.Errorf("read where replication slot %s starts: %w", a.o.Slot, err)
	}
	if start != nil {
		if err := a.setStaleSpoolAside(*start, segSize); err != nil {
			return err
		}
	}
	a.sys = System{SystemID: sysID, WALSegmentSize: segSize, CreatedAt: a.o.now().UTC()}
	for _, d := range a.o.Destinations {
		if err := a.claim(ctx, d); err != nil {
			return err
		}
	}
	a.update(func(s *Status) { s.SystemID, s.Timeline = sysID, tl })
	return nil
}

// ensureSlot creates the replication slot, reserving WAL from now on, unless it exists.
func (a *Archiver) ensureSlot(ctx context.Context, conn *pgx.Conn) error {
	var kind string
	err := conn.QueryRow(ctx, `SELECT slot_type FROM pg_replication_slots WHERE slot_name = $1`, a.o.Slot).Scan(&kind)
	switch {
	case err == nil && kind != "physical":
		return fmt.Errorf("replication slot %s exists but is a %s slot: WAL archiving needs a physical one; drop it or choose another name", a.o.Slot, kind)
	case err == nil:
		return nil
	case !errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("look for replication slot %s: %w", a.o.Slot, err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_create_physical_replication_slot($1, true)`, a.o.Slot); err != nil {
		if strings.Contains(err.Error(), "already exists") { // another node made it first
			return nil
		}
		return fmt.Errorf("create replication slot %s (the role needs REPLICATION: ALTER ROLE <role> REPLICATION): %w", a.o.Slot, err)
	}
	a.o.Logf("WAL archiving: created the replication slot %s", a.o.Slot)
	return nil
}

// setStaleSpoolAside moves into a subfolder the partial segments of the spool that lie before
// where the slot starts (start, a WAL file name): left by an earlier stream of this node
// (archiving turned off and its slot dropped, or another node archived since). pg_receivewal
// resumes from the newest file in its folder: from such a leftover it would ask for WAL the
// primary has recycled, and fail at every restart. Completed segments stay: the archiver
// stores them and then removes them. What is set aside is kept, not deleted.
func (a *Archiver) setStaleSpoolAside(start string, segSize int64) error {
	from, ok := ParseFile(start)
	if !ok || !from.Segment {
		return nil
	}
	first := from.SegmentNo(segSize)
	entries, err := os.ReadDir(a.o.Spool)
	if err != nil {
		return fmt.Errorf("read the WAL spool %s: %w", a.o.Spool, err)
	}
	var stale []string
	for _, e := range entries {
		f, ok := ParseFile(e.Name())
		if ok && e.Type().IsRegular() && f.Segment && f.Partial &&
			(f.Timeline < from.Timeline || f.Timeline == from.Timeline && f.SegmentNo(segSize) < first) {
			stale = append(stale, e.Name())
		}
	}
	if len(stale) == 0 {
		return nil
	}
	aside := filepath.Join(a.o.Spool, "stale-"+a.o.now().UTC().Format("20060102T150405Z"))
	if err := os.MkdirAll(aside, 0o700); err != nil {
		return fmt.Errorf("set the stale WAL spool aside: %w", err)
	}
	for _, name := range stale {
		if err := os.Rename(filepath.Join(a.o.Spool, name), filepath.Join(aside, name)); err != nil {
			return fmt.Errorf("set the stale WAL spool aside: %w", err)
		}
	}
	a.o.Logf("WAL archiving: replication slot %s starts at %s, so %d partial segments an earlier stream left in the spool were moved to %s (the archive may have a gap before it: take a base backup)",
		a.o.Slot, start, len(stale), aside)
	return nil
}

// claim writes wal/system.json at d, or checks that the archive there is this cluster's.
func (a *Archiver) claim(ctx context.Context, d Destination) error {
	r := Reader{Store: d.Store, Keys: []format.PublicKey{a.o.SigningKey.PublicKey()}}
	sys, err := r.System(ctx)
	if err == nil {
		if sys.SystemID != a.sys.SystemID || sys.WALSegmentSize != a.sys.WALSegmentSize {
			return fmt.Errorf("destination %s already holds the WAL archive of another PostgreSQL cluster (system %s; this one is %s): archive to another destination or prefix", d.Name, sys.SystemID, a.sys.SystemID)
		}
		a.sys.CreatedAt = sys.CreatedAt
		return nil
	}
	if _, serr := d.Store.Stat(ctx, SystemKey); !errors.Is(serr, storage.ErrNotFound) {
		if serr != nil {
			return fmt.Errorf("destination %s: %w", d.Name, serr)
		}
		// Present but not ours: never written over, it may be another server's archive.
		return fmt.Errorf("destination %s: %w", d.Name, err)
	}
	b, _ := json.MarshalIndent(a.sys, "", "  ")
	if err := format.PutSigned(ctx, d.Store, SystemKey, append(b, '\n'), a.o.SigningKey); err != nil {
		return fmt.Errorf("destination %s: %w", d.Name, err)
	}
	return nil
}

// receive runs pg_receivewal until ctx ends, starting it again when it stops.
func (a *Archiver) receive(ctx context.Context) {
	env, err := pgdsn.ClientEnv(a.o.DSN, "")
	if err != nil {
		a.fail(fmt.Errorf("pg_receivewal's connection: %w", err))
		return
	}
	// Pdeathsig fires when the starting thread exits: keep this goroutine on its thread. A
	// pg_receivewal left running by a killed plugin would hold the slot, and the node taking
	// over could not stream from it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	backoff := time.Second
	for ctx.Err() == nil {
		// --no-loop: this loop restarts it, and reports why it stopped.
		cmd := exec.CommandContext(ctx, a.o.ReceiveWAL, "-D", a.o.Spool, "-S", a.o.Slot, "--no-loop", "--no-password", "--status-interval=1") //nolint:gosec // the admin's pg_receivewal
		cmd.Env = env
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) } // it flushes, then exits
		cmd.WaitDelay = 10 * time.Second
		var stderr tailBuffer
		cmd.Stderr = &stderr
		started := time.Now()
		if err := cmd.Start(); err != nil {
			a.fail(fmt.Errorf("start pg_receivewal: %w", err))
		} else {
			a.update(func(s *Status) { s.Running = true })
			err = cmd.Wait()
			a.update(func(s *Status) { s.Running = false })
			if ctx.Err() != nil {
				return
			}
			a.fail(fmt.Errorf("pg_receivewal stopped (%w): %s", err, stderr.String()))
		}
		if time.Since(started) > time.Minute {
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
		a.update(func(s *Status) { s.Restarts++ })
	}
}

// heartbeat commits an empty transaction every MaxDelay/2. Recovery to a time stops at the
// first commit after it; on a quiet server there may be none, and PostgreSQL then refuses
// to finish the recovery ("recovery ended before configured recovery target was reached").
// A commit this often makes every time the archive covers a time it can restore to.
func (a *Archiver) heartbeat(ctx context.Context) {
	tick := time.NewTicker(a.o.MaxDelay / 2)
	defer tick.Stop()
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			_ = conn.Close(context.WithoutCancel(ctx))
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if conn == nil {
			var err error
			if conn, err = pgdsn.Connect(ctx, a.o.DSN, ""); err != nil {
				continue // pg_receivewal's own failure says why
			}
		}
		// pg_current_xact_id assigns a transaction ID, so its commit is written to the WAL.
		if _, err := conn.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
			_ = conn.Close(context.WithoutCancel(ctx))
			conn = nil
		}
	}
}

func (a *Archiver) fail(err error) {
	a.o.Logf("WAL archiving: %v", err)
	a.update(func(s *Status) { s.LastError = err.Error() })
}

// pass stores the completed files of the spool, oldest first, then the segment being
// written if it changed and MaxDelay has passed (final: at once).
func (a *Archiver) pass(ctx context.Context, final bool) {
	start := a.o.now()
	running := a.Status().Running
	entries, err := os.ReadDir(a.o.Spool)
	if err != nil {
		a.fail(fmt.Errorf("read the WAL spool: %w", err))
		return
	}
	var done []File
	var partial *File
	for _, e := range entries {
		f, ok := ParseFile(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if f.Partial {
			if partial == nil || f.Name > partial.Name {
				partial = &f
			}
			continue
		}
		done = append(done, f)
	}
	// History files first: recovery reads a timeline's history before its segments.
	sort.Slice(done, func(i, j int) bool {
		if done[i].Segment != done[j].Segment {
			return !done[i].Segment
		}
		return done[i].Name < done[j].Name
	})
	pending := len(done)
	a.update(func(s *Status) { s.Pending = pending })
	for _, f := range done {
		if ctx.Err() != nil {
			return
		}
		if err := a.storeCompleted(ctx, f); err != nil {
			a.fail(err)
			return
		}
		pending--
		a.update(func(s *Status) { s.Pending = pending })
	}
	current := true
	if partial != nil {
		var err error
		if current, err = a.storePartial(ctx, *partial, final); err != nil {
			a.fail(err)
			return
		}
	}
	a.update(func(s *Status) {
		if running { // pg_receivewal's own error stays while it is down
			s.LastError = ""
		}
		// Caught up only while receiving: with pg_receivewal down, the lag must grow.
		if current && running {
			s.CaughtUp = start
		}
	})
}

// storeCompleted stores a completed file at every destination, then removes it from the spool
// and the partial copy of the segment from the destinations.
func (a *Archiver) storeCompleted(ctx context.Context, f File) error {
	path := filepath.Join(a.o.Spool, f.Name)
	plain, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if f.Segment && int64(len(plain)) != a.sys.WALSegmentSize {
		return fmt.Errorf("%s is %d bytes, not a whole segment of %d: left in the spool", path, len(plain), a.sys.WALSegmentSize)
	}
	if err := a.store(ctx, f, plain); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove %s after storing it: %w", path, err)
	}
	if f.Segment {
		p := f
		p.Partial = true
		for _, d := range a.o.Destinations {
			_ = d.Store.Delete(ctx, p.Key(len(a.o.Recipients) > 0)) // superseded; Fetch prefers the whole segment anyway
			_ = d.Store.Delete(ctx, format.SignatureKey(p.Key(len(a.o.Recipients) > 0)))
		}
	}
	return nil
}

// storePartial stores the segment being written when it changed since it was last stored and
// MaxDelay has passed; current says whether the archive now holds everything of it.
func (a *Archiver) storePartial(ctx context.Context, f File, final bool) (current bool, err error) {
	path := filepath.Join(a.o.Spool, f.Name+partialSuffix)
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) { // completed meanwhile: the next pass stores it
			return false, nil
		}
		return false, err
	}
	p := &a.partial
	if p.name == f.Name && p.mod.Equal(fi.ModTime()) && p.size == fi.Size() {
		return true, nil
	}
	if !final && a.o.now().Before(p.after) {
		return false, nil
	}
	plain, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	if len(plain) < pageHeaderLen || bytes.Equal(plain[:pageHeaderLen], make([]byte, pageHeaderLen)) {
		return true, nil // nothing received into it yet
	}
	if err := a.store(ctx, f, plain); err != nil {
		return false, err
	}
	p.name, p.mod, p.size, p.after = f.Name, fi.ModTime(), fi.Size(), a.o.now().Add(a.o.MaxDelay)
	return true, nil
}

// store writes f's content at every destination, signed.
func (a *Archiver) store(ctx context.Context, f File, plain []byte) error {
	stored, err := encode(plain, a.o.Level, a.o.Recipients)
	if err != nil {
		return fmt.Errorf("compress %s: %w", f.Name, err)
	}
	key := f.Key(len(a.o.Recipients) > 0)
	for _, d := range a.o.Destinations {
		if err := format.PutSigned(ctx, d.Store, key, stored, a.o.SigningKey); err != nil {
			return fmt.Errorf("store %s at %s: %w", key, d.Name, err)
		}
	}
	a.update(func(s *Status) {
		s.LastFile, s.Stored = key, s.Stored+1
		if f.Segment && f.Timeline > s.Timeline {
			s.Timeline = f.Timeline
		}
	})
	return nil
}

// tailBuffer keeps the last 2 KiB written to it: pg_receivewal's last words.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 2048 {
		t.b = t.b[len(t.b)-2048:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.b))
	if s == "" {
		return "no message"
	}
	return strings.ReplaceAll(s, "\n", "; ")
}
