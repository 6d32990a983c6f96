package restore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// The target folders (data, config) may hold links planted by whoever could write to them
// (x.drctl-partial -> /etc/…). Every write below them goes through an os.Root, which refuses
// paths that leave the folder, to a file created afresh with O_EXCL, which never follows a link,
// and is then renamed into place, which replaces a link rather than writing through it.

// openDir creates dir if it is missing and opens it as a root.
func openDir(dir, what string) (*os.Root, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create the %s %s: %w", what, dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open the %s %s: %w", what, dir, err)
	}
	return root, nil
}

// createFresh creates name in root for writing, removing first whatever is there (a link
// included: the link goes, its target stays).
func createFresh(root *os.Root, name string) (*os.File, error) {
	if err := root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}

// writeFileIn writes b to name in root through tmp, a fresh file renamed over name.
func writeFileIn(root *os.Root, name, tmp string, b []byte) error {
	f, err := createFresh(root, tmp)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		_ = root.Remove(tmp)
	}
	return err
}
