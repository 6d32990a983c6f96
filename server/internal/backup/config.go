package backup

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
)

// config writes config.tar.zst: effective-config.json, then files/<name> for every file of the
// config source.
func (r *run) config(ctx context.Context) error {
	eff, err := r.o.Config.Effective(ctx)
	if err != nil {
		return fmt.Errorf("read the effective config: %w", err)
	}
	if !json.Valid(eff) {
		return errors.New("the effective config is not valid JSON")
	}
	s, err := newSink(ctx, r.dests, r.key(configName), format.ComponentConfig, r.encs, r.recipients, false, &r.progress.written)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(s)
	mtime := r.started
	err = func() error {
		if err := tw.WriteHeader(&tar.Header{Name: format.EffectiveConfigName, Mode: 0o600, Size: int64(len(eff)), ModTime: mtime, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(eff); err != nil {
			return err
		}
		r.progress.read.Add(int64(len(eff)))
		seen := map[string]bool{}
		files := r.o.Config.Files
		if ws, ok := r.o.Config.(WarningConfigSource); ok {
			files = func(ctx context.Context, fn func(string, int64, io.Reader) error) error {
				return ws.FilesWarning(ctx, fn, func(msg string) { r.warn("%s", msg) })
			}
		}
		err := files(ctx, func(name string, size int64, rd io.Reader) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := checkConfigName(name); err != nil {
				return err
			}
			if seen[name] {
				return fmt.Errorf("config file %q is listed twice", name)
			}
			seen[name] = true
			if size < 0 {
				return fmt.Errorf("config file %q: negative size %d", name, size)
			}
			if err := tw.WriteHeader(&tar.Header{Name: format.ConfigFilesDir + name, Mode: 0o600, Size: size, ModTime: mtime, Typeflag: tar.TypeReg}); err != nil {
				return err
			}
			n, err := io.CopyN(tw, rd, size)
			r.progress.read.Add(n)
			if err != nil {
				if errors.Is(err, io.EOF) {
					return fmt.Errorf("config file %q: %d bytes read, %d announced (it changed while it was read?)", name, n, size)
				}
				return fmt.Errorf("config file %q: %w", name, err)
			}
			var one [1]byte
			if m, _ := io.ReadFull(rd, one[:]); m > 0 {
				return fmt.Errorf("config file %q is longer than the %d bytes announced (it changed while it was read?)", name, size)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tw.Close()
	}()
	if err != nil {
		return s.abort(err)
	}
	obj, err := s.close(nil)
	if err != nil {
		return err
	}
	for _, d := range r.dests {
		d.addObject(obj)
	}
	return nil
}

// checkConfigName accepts clean relative slash paths.
func checkConfigName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, `\`) {
		return fmt.Errorf("invalid config file name %q", name)
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("invalid config file name %q", name)
		}
	}
	return nil
}
