package serverenv

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// configFolder reads a config folder (config/config.json with SAML certificates and other
// files beside it) as the server reads it. dir is resolved against the server's root folder
// (the plugin's working folder is not the server's).
type configFolder struct {
	dir string
}

// files reads every file below dir, in name order. Symbolic links that stay inside dir
// are followed, to files and to folders, and what they lead to is read under the link's own
// name, the one the config names: Kubernetes mounts ConfigMaps and Secrets as cert.pem ->
// ..data/cert.pem, ..data -> ..2026_12_05_10_00_00.123/. Entries whose names start with ".."
// (those ..data and ..<timestamp> folders) are skipped, so that a mounted file is read once.
// Links that lead outside dir, or back into a folder being read, are skipped and told to warn
// (which may be nil); dangling links are skipped.
func (c configFolder) files(ctx context.Context, fn func(name string, size int64, r io.Reader) error, warn func(msg string)) error {
	real, err := filepath.EvalSymlinks(c.dir)
	if err != nil {
		return fmt.Errorf("config folder: %w", err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return fmt.Errorf("config folder: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("config folder %s is not a folder", c.dir)
	}
	// Files are opened through a root, so that a link changed during the walk cannot lead
	// a read outside the folder.
	root, err := os.OpenRoot(real)
	if err != nil {
		return fmt.Errorf("config folder: %w", err)
	}
	defer root.Close()
	if warn == nil {
		warn = func(string) {}
	}
	w := dirWalk{dir: c.dir, real: real, root: root, fn: fn, warn: warn}
	return w.walk(ctx, "", ".", []string{"."})
}

// dirWalk is one reading of a config folder. Names are what the config calls a file (slash
// paths below dir); real paths are where it is, below the folder with links resolved.
type dirWalk struct {
	dir, real string
	root      *os.Root
	fn        func(string, int64, io.Reader) error
	warn      func(string)
}

// walk reads the folder at real under the name name; open lists the real folders being read,
// to refuse links that lead back into one of them.
func (w dirWalk) walk(ctx context.Context, name, real string, open []string) error {
	entries, err := fs.ReadDir(w.root.FS(), real)
	if err != nil {
		return fmt.Errorf("read config folder %s: %w", filepath.Join(w.dir, filepath.FromSlash(name)), err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasPrefix(e.Name(), "..") {
			continue
		}
		entryName, entryReal := path.Join(name, e.Name()), path.Join(real, e.Name())
		isDir := e.IsDir()
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			target, ok := w.follow(entryName, entryReal, open)
			if !ok {
				continue
			}
			fi, err := w.root.Stat(target)
			if err != nil {
				continue // gone meanwhile
			}
			entryReal, isDir = target, fi.IsDir()
			if !isDir && !fi.Mode().IsRegular() {
				continue
			}
		case !isDir && !e.Type().IsRegular():
			continue
		}
		if isDir {
			err = w.walk(ctx, entryName, entryReal, append(open[:len(open):len(open)], entryReal))
		} else {
			err = w.read(entryName, entryReal)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// follow resolves the link at real to a real path below the folder; ok is false for a link
// that dangles (skipped), leads outside the folder or into a folder being read (both warned).
func (w dirWalk) follow(name, real string, open []string) (target string, ok bool) {
	full := filepath.Join(w.real, filepath.FromSlash(real))
	resolved, err := filepath.EvalSymlinks(full)
	if err != nil {
		return "", false
	}
	rel, err := filepath.Rel(w.real, resolved)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		w.warn(fmt.Sprintf("config file %s is a link to %s, outside the config folder %s: it is not in the backup (copy what it points to into the folder, or back it up separately)", name, resolved, w.dir))
		return "", false
	}
	target = filepath.ToSlash(rel)
	if slices.Contains(open, target) {
		which := "the config folder"
		if target != "." {
			which = target
		}
		w.warn(fmt.Sprintf("config folder %s is a link back to %s, which holds it: not followed", name, which))
		return "", false
	}
	return target, true
}

func (w dirWalk) read(name, real string) error {
	f, err := w.root.Open(real)
	if err != nil {
		return fmt.Errorf("read config file %s: %w", filepath.Join(w.dir, filepath.FromSlash(name)), err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read config file %s: %w", filepath.Join(w.dir, filepath.FromSlash(name)), err)
	}
	return w.fn(name, fi.Size(), f)
}
