package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"
)

// Standby is a streaming replica of a harness Postgres, made with pg_basebackup. It is a
// Postgres of its own (URL, Open, Stop work on it) in recovery, reading WAL from Primary
// through the physical replication slot Slot.
type Standby struct {
	*Postgres
	Primary *Postgres
	Slot    string
}

var slotNameRE = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)

// StartStandby clones pg into dir with pg_basebackup (-R writes the standby's primary_conninfo
// and standby.signal; -C -S creates the replication slot, so that the primary keeps the WAL
// the standby has not received yet) and starts it on a free port. As root, like
// StartPostgres, it runs as the "postgres" user, which owns pg's files.
func (pg *Postgres) StartStandby(ctx context.Context, dir, slot string) (*Standby, error) {
	if !slotNameRE.MatchString(slot) {
		return nil, fmt.Errorf("replication slot name %q: use 1-63 lower-case letters, digits and _", slot)
	}
	sb := &Standby{
		Postgres: &Postgres{Dir: filepath.Join(dir, "pgdata"), BinDir: pg.BinDir, log: filepath.Join(dir, "postgres.log"), cred: pg.cred},
		Primary:  pg,
		Slot:     slot,
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if sb.cred != nil {
		if err := os.Chown(dir, int(sb.cred.Uid), int(sb.cred.Gid)); err != nil {
			return nil, fmt.Errorf("chown %s to postgres: %w", dir, err)
		}
	}
	backup := exec.CommandContext(ctx, filepath.Join(pg.BinDir, "pg_basebackup"), "-h", "127.0.0.1", "-p", strconv.Itoa(pg.Port),
		"-U", "postgres", "-D", sb.Dir, "-R", "-X", "stream", "-c", "fast", "-C", "-S", slot, "--no-sync")
	backup.SysProcAttr = &syscall.SysProcAttr{Credential: sb.cred}
	if out, err := backup.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pg_basebackup of 127.0.0.1:%d into %s: %w\n%s", pg.Port, sb.Dir, err, out)
	}
	var err error
	if sb.Port, err = freePort(); err != nil {
		return nil, err
	}
	if err := sb.start(ctx); err != nil {
		return nil, fmt.Errorf("start standby: %w", err)
	}
	return sb, nil
}

// Restart starts a cluster that Stop has stopped again, with the same data and port.
func (pg *Postgres) Restart(ctx context.Context) error {
	if pg.proc != nil && !pg.proc.exited() {
		pg.Stop()
	}
	return pg.start(ctx)
}

// DropSlot stops the standby and drops its slot on the primary, so that the primary no longer
// keeps WAL for it.
func (sb *Standby) DropSlot(ctx context.Context) error {
	sb.Stop()
	db, err := sb.Primary.Open("postgres")
	if err != nil {
		return err
	}
	defer db.Close()
	// The primary's walsender outlives the standby for a moment, and an active slot cannot be
	// dropped: wait for it to go.
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, err := db.ExecContext(ctx, `SELECT pg_drop_replication_slot($1)`, sb.Slot)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("drop replication slot %s: %w", sb.Slot, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// LogTail returns the end of the cluster's log, for failure messages.
func (pg *Postgres) LogTail(lines int) string { return tail(pg.log, lines) }
