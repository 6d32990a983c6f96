package restore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/bytesize"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
)

// files restores every file of the index, each checked against its SHA-256, several at a
// time. Files already in place with the right content (an earlier, interrupted run) are kept.
func (r *restorer) files(ctx context.Context) error {
	if err := r.journal.mark(StepFiles + ".started"); err != nil {
		return err
	}
	total := int64(0)
	if r.m.Files != nil {
		total = r.m.Files.Count
	}
	if r.o.PointInTimeFiles && !r.o.FilesAt.IsZero() {
		total = r.fileSet.files
	}
	to := r.o.DataDir
	if r.o.FilesTo != nil {
		to = r.o.FilesTo.String()
	}
	r.printf("files: restoring %d files to %s", total, to)
	start := time.Now()
	var done, kept, bytes atomic.Int64
	var mu sync.Mutex
	var failed []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				r.printf("files: %d/%d (%d already in place), %s", done.Load(), total, kept.Load(), bytesize.Format(bytes.Load()))
			}
		}
	}()
	if r.o.DataDir != "" && r.o.FilesTo == nil {
		root, err := openDir(r.o.DataDir, "data folder")
		if err != nil {
			return err
		}
		defer root.Close()
		r.dataRoot = root
	}
	g, gctx := errgroup.WithContext(ctx)
	entries := make(chan format.IndexEntry, 64)
	g.Go(func() error {
		defer close(entries)
		return format.ReadIndex(gctx, r.o.From, r.m, r.o.Identities, func(e format.IndexEntry) error {
			if r.o.PointInTimeFiles && !inFileSet(e, r.m, r.o.FilesAt) {
				return nil // added after the point in time restored
			}
			select {
			case entries <- e:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	for range r.o.Jobs {
		g.Go(func() error {
			for e := range entries {
				same, err := r.restoreFile(gctx, e)
				if err != nil {
					if gctx.Err() != nil {
						return gctx.Err()
					}
					mu.Lock()
					failed = append(failed, fmt.Sprintf("%s: %v", e.Path, err))
					n := len(failed)
					mu.Unlock()
					if n >= 20 {
						return errors.New("too many files failed")
					}
					continue
				}
				if same {
					kept.Add(1)
				}
				done.Add(1)
				bytes.Add(e.Size)
			}
			return nil
		})
	}
	err := g.Wait()
	close(stop)
	wg.Wait()
	r.res.Files, r.res.Bytes = done.Load(), bytes.Load()
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d files were restored; these were not: %v", done.Load(), total, failed)
	}
	if err != nil {
		return fmt.Errorf("%d of %d files were restored: %w", done.Load(), total, err)
	}
	r.printf("files: %d files (%s) restored in %s, every SHA-256 checked (%d were already in place)", done.Load(), bytesize.Format(bytes.Load()),
		time.Since(start).Round(100*time.Millisecond), kept.Load())
	return nil
}

// restoreFile writes one file; same is true when it was already in place.
func (r *restorer) restoreFile(ctx context.Context, e format.IndexEntry) (same bool, err error) {
	if !safeRelPath(e.Path) {
		return false, fmt.Errorf("unsafe path in the file index")
	}
	if r.o.FilesTo != nil {
		return false, r.uploadFile(ctx, e)
	}
	root, dst := r.dataRoot, filepath.FromSlash(e.Path)
	if fi, err := root.Lstat(dst); err == nil && fi.Mode().IsRegular() && fi.Size() == e.Size {
		if sum, err := fileSum(root, dst); err == nil && sum == e.SHA256 {
			return true, nil
		}
	}
	if err := root.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return false, err
	}
	src, err := format.OpenFile(ctx, r.o.From, e, r.o.Identities)
	if err != nil {
		return false, err
	}
	defer src.Close()
	// A fixed name beside the file: a restore killed here leaves it, and the re-run that
	// resumes rewrites and renames it, so no stray file stays in the data folder.
	partial := dst + ".drctl-partial"
	tmp, err := createFresh(root, partial)
	if err != nil {
		return false, err
	}
	h := sha256.New()
	n, err := copyBounded(io.MultiWriter(tmp, h), src, e.Size, "the file index records")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && (n != e.Size || hex.EncodeToString(h.Sum(nil)) != e.SHA256) {
		err = fmt.Errorf("its content in the backup is damaged (%d bytes, SHA-256 differs from the index)", n)
	}
	if err == nil {
		err = root.Rename(partial, dst)
	}
	if err != nil {
		_ = root.Remove(partial)
		return false, err
	}
	if !e.ModTime.IsZero() {
		_ = root.Chtimes(dst, e.ModTime, e.ModTime)
	}
	return false, nil
}

// uploadFile copies one file to the S3 target; a file whose content does not match is deleted
// again when the target can delete.
func (r *restorer) uploadFile(ctx context.Context, e format.IndexEntry) error {
	src, err := format.OpenFile(ctx, r.o.From, e, r.o.Identities)
	if err != nil {
		return err
	}
	defer src.Close()
	h := sha256.New()
	bounded := &boundedReader{r: src, limit: e.Size, record: "the file index records"}
	n, err := r.o.FilesTo.Put(ctx, e.Path, io.TeeReader(bounded, h))
	if err != nil {
		if bounded.read > e.Size {
			err = tooLarge(e.Size, bounded.record) // the target's wrapping may not keep it
		}
		return err
	}
	if n != e.Size || hex.EncodeToString(h.Sum(nil)) != e.SHA256 {
		if d, ok := r.o.FilesTo.(interface {
			Delete(context.Context, string) error
		}); ok {
			_ = d.Delete(ctx, e.Path)
		}
		return errors.New("its content in the backup is damaged (SHA-256 differs from the index)")
	}
	return nil
}

func fileSum(root *os.Root, name string) (string, error) {
	f, err := root.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
