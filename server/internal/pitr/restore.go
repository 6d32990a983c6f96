package pitr

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
)

// Options of Restore.
type Options struct {
	// PGData is the new cluster's data folder: absent or empty.
	PGData string
	// RestoreCommand is what PostgreSQL runs to fetch a WAL file (%f) into %p: drctl wal-fetch.
	RestoreCommand string
	// Out receives progress lines.
	Out io.Writer
	// Owner, when set, is given the data folder (drctl run as root for a cluster that runs as
	// postgres: PostgreSQL refuses a data folder it does not own).
	Owner *Owner
}

// Owner is a user and group ID.
type Owner struct{ UID, GID int }

// RecoveryMarker starts the lines Restore adds to postgresql.auto.conf.
const RecoveryMarker = "# point-in-time recovery set up by drctl restore (Mattermost disaster recovery)"

// Restore unpacks the plan's base backup into o.PGData and writes the recovery settings. The
// cluster is then started with PostgreSQL's own pg_ctl or service: it replays the archive up
// to the target and promotes itself. Nothing is written outside o.PGData.
func Restore(ctx context.Context, src Source, p *Plan, o Options) error {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if err := emptyDir(o.PGData); err != nil {
		return err
	}
	obj := p.Base.Object(format.ComponentBase)
	if obj == nil {
		return fmt.Errorf("backup %s has no base backup object", p.Base.ID)
	}
	fmt.Fprintf(o.Out, "base backup %s (finished %s, %d bytes stored): unpacking into %s\n", p.Base.ID, p.Base.FinishedAt.UTC().Format(time.RFC3339), obj.Size, o.PGData)
	start := time.Now()
	n, err := unpack(ctx, src, obj, o.PGData)
	if err != nil {
		return fmt.Errorf("%w. %s now holds part of the base backup: empty it before trying again", err, o.PGData)
	}
	fmt.Fprintf(o.Out, "base backup: %d files unpacked in %s\n", n, time.Since(start).Round(100*time.Millisecond))
	if err := writeRecovery(o.PGData, p.Target, o.RestoreCommand); err != nil {
		return err
	}
	if o.Owner != nil {
		if err := chownTree(o.PGData, o.Owner.UID, o.Owner.GID); err != nil {
			return fmt.Errorf("give %s to its owner: %w", o.PGData, err)
		}
	}
	fmt.Fprintf(o.Out, "recovery: restore_command and the target (%s) written to %s; recovery.signal created\n", p.Target, filepath.Join(o.PGData, "postgresql.auto.conf"))
	return nil
}

// emptyDir creates dir (0700, as PostgreSQL requires) or checks that it is empty.
func emptyDir(dir string) error {
	if dir == "" || !filepath.IsAbs(dir) {
		return fmt.Errorf("%w: --pgdata must be an absolute path to a new, empty data folder", ErrRefused)
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return os.MkdirAll(dir, 0o700)
	case err != nil:
		return fmt.Errorf("read %s: %w", dir, err)
	case len(entries) > 0:
		return fmt.Errorf("%w: %s is not empty: a point-in-time restore makes a new cluster; give an empty or new folder (never the data folder of a running server)", ErrRefused, dir)
	}
	return os.Chmod(dir, 0o700) //nolint:gosec // a directory: PostgreSQL requires 0700 on its data folder
}

// chownTree gives dir and everything in it to uid:gid, inside an os.Root so a symlink cannot
// lead it outside dir.
func chownTree(dir string, uid, gid int) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return root.Lchown(path, uid, gid)
	})
}

// hashingReader hashes what passes through it.
type hashingReader struct {
	r io.ReadCloser
	h hash.Hash
	n int64
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

func (h *hashingReader) Close() error { return h.r.Close() }

// unpack streams the base backup's tar into dir. Only folders and regular files are written,
// only inside dir: a tar from the backup storage is not trusted to name its own paths.
func unpack(ctx context.Context, src Source, obj *format.Object, dir string) (int, error) {
	raw, err := src.Store.Open(ctx, obj.Key)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", obj.Key, err)
	}
	hr := &hashingReader{r: raw, h: sha256.New()}
	plain, err := format.Decode(hr, obj.Key, src.Identities)
	if err != nil {
		_ = raw.Close()
		return 0, err
	}
	defer plain.Close()
	tr := tar.NewReader(plain)
	files := 0
	for {
		if err := ctx.Err(); err != nil {
			return files, err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return files, fmt.Errorf("read the base backup's tar: %w", err)
		}
		name := filepath.FromSlash(strings.TrimPrefix(h.Name, "./"))
		if !filepath.IsLocal(name) {
			return files, fmt.Errorf("the base backup names %q, outside the data folder: refused (the backup storage was tampered with)", h.Name)
		}
		path := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o700); err != nil {
				return files, err
			}
		case tar.TypeReg:
			if err := writeFile(path, tr, h.Size); err != nil {
				return files, err
			}
			files++
		default:
			// pg_basebackup writes symbolic links only for tablespaces, which a tar on
			// stdout cannot hold: anything else was not written by it.
			return files, fmt.Errorf("the base backup holds %q of tar type %q: only folders and files are restored; refused", h.Name, string(h.Typeflag))
		}
	}
	// Drain what follows the tar's end so that the checksum covers every stored byte.
	if _, err := io.Copy(io.Discard, plain); err != nil {
		return files, fmt.Errorf("read %s: %w", obj.Key, err)
	}
	if got := hex.EncodeToString(hr.h.Sum(nil)); hr.n != obj.Size || got != obj.SHA256 {
		return files, fmt.Errorf("%s is not what the backup recorded (%d bytes, SHA-256 %s; the manifest says %d bytes, %s): damaged or replaced", obj.Key, hr.n, got, obj.Size, obj.SHA256)
	}
	return files, nil
}

func writeFile(path string, r io.Reader, size int64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	n, err := io.Copy(f, io.LimitReader(r, size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// writeRecovery appends the recovery settings to postgresql.auto.conf and creates
// recovery.signal, so that the next start replays the archive to the target and promotes.
func writeRecovery(dir string, target Target, restoreCommand string) error {
	if restoreCommand == "" {
		return errors.New("no restore_command to write")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s, %s\n", RecoveryMarker, time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "restore_command = %s\n", ConfQuote(restoreCommand))
	switch {
	case target.Name != "":
		fmt.Fprintf(&b, "recovery_target_name = %s\n", ConfQuote(target.Name))
	case !target.Latest:
		fmt.Fprintf(&b, "recovery_target_time = %s\n", ConfQuote(target.Time.UTC().Format("2006-01-02 15:04:05.999999+00")))
		b.WriteString("recovery_target_inclusive = on\n")
	}
	b.WriteString("recovery_target_timeline = 'latest'\n")
	// Promote at the target: the restored cluster becomes a primary of its own, on a new
	// timeline, and never writes into the source's archive (it has no archiver).
	b.WriteString("recovery_target_action = 'promote'\n")
	// The source's settings that would reach out from the new cluster.
	b.WriteString("primary_conninfo = ''\narchive_mode = off\n")
	auto := filepath.Join(dir, "postgresql.auto.conf")
	f, err := os.OpenFile(auto, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", auto, err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", auto, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", auto, err)
	}
	// A base backup may carry the source standby's signal: this cluster is not a standby.
	_ = os.Remove(filepath.Join(dir, "standby.signal"))
	if err := os.WriteFile(filepath.Join(dir, "recovery.signal"), nil, 0o600); err != nil {
		return fmt.Errorf("create recovery.signal: %w", err)
	}
	return nil
}

// ConfQuote quotes s as a postgresql.conf string value.
func ConfQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// ShellQuote quotes s as one word for /bin/sh, which runs restore_command.
func ShellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
