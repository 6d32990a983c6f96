package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// DirConfig is the ConfigSource of a server whose configuration lives in a folder
// (config/config.json with SAML certificates and other files beside it).
type DirConfig struct {
	// Dir is the config folder, resolved against the server's root folder (the plugin's
	// working folder is not the server's).
	Dir string
	// EffectiveConfig returns the effective configuration as JSON, secrets included: the
	// plugin marshals API.GetUnsanitizedConfig().
	EffectiveConfig func(ctx context.Context) ([]byte, error)
}

// Effective returns EffectiveConfig's answer.
func (c DirConfig) Effective(ctx context.Context) ([]byte, error) {
	if c.EffectiveConfig == nil {
		return nil, errors.New("no effective config reader")
	}
	return c.EffectiveConfig(ctx)
}

// Files reads every regular file below Dir, in name order. Symbolic links to files are
// followed (Kubernetes mounts ConfigMaps and Secrets as links); links to folders are not, and
// entries whose names start with ".." (Kubernetes' own ..data and ..<timestamp> folders) are
// skipped, so that a mounted file is read once.
func (c DirConfig) Files(ctx context.Context, fn func(name string, size int64, r io.Reader) error) error {
	fi, err := os.Stat(c.Dir)
	if err != nil {
		return fmt.Errorf("config folder: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("config folder %s is not a folder", c.Dir)
	}
	return c.walk(ctx, "", fn)
}

func (c DirConfig) walk(ctx context.Context, rel string, fn func(string, int64, io.Reader) error) error {
	dir := filepath.Join(c.Dir, filepath.FromSlash(rel))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read config folder %s: %w", dir, err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := e.Name()
		if strings.HasPrefix(name, "..") {
			continue
		}
		relName := path.Join(rel, name)
		full := filepath.Join(dir, name)
		switch {
		case e.IsDir():
			if err := c.walk(ctx, relName, fn); err != nil {
				return err
			}
			continue
		case e.Type()&fs.ModeSymlink != 0:
			target, err := os.Stat(full)
			if err != nil || !target.Mode().IsRegular() {
				continue // dangling, or a folder: not followed
			}
		case !e.Type().IsRegular():
			continue
		}
		if err := readConfigFile(full, relName, fn); err != nil {
			return err
		}
	}
	return nil
}

func readConfigFile(full, name string, fn func(string, int64, io.Reader) error) error {
	f, err := os.Open(full)
	if err != nil {
		return fmt.Errorf("read config file %s: %w", full, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read config file %s: %w", full, err)
	}
	return fn(name, fi.Size(), f)
}
