// Package verify checks a stored backup without trusting it: the manifest, every object's
// size and SHA-256, the file index against the database's references, the pool's contents,
// pg_restore's reading of the dump, and with a drill a restore into a scratch database whose
// row counts are compared with the manifest.
package verify

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"
	"golang.org/x/sync/errgroup"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdump"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// Drill restores the dump into a scratch database and compares row counts.
type Drill struct {
	// AdminURL is a PostgreSQL URL (postgres://…) whose user may create and drop databases.
	// The drill database is created on that server and always dropped afterwards.
	AdminURL string
	// Database names the scratch database; default dr_drill_<id>.
	Database string
	// The dump is restored as a role created for the drill (named like the database, with no
	// rights beyond the scratch database, dropped afterwards), never as AdminURL's user, whose
	// rights a dump's SQL would otherwise use. That needs CREATEROLE; without it the drill
	// refuses to run unless DedicatedUser says that AdminURL's user is itself a role made for
	// drills (not Mattermost's), which then restores the dump.
	DedicatedUser bool
}

// Progress is reported while Verify runs.
type Progress struct {
	Phase       string
	ObjectsRead int64
	BytesRead   int64
	PoolTotal   int64
	PoolDone    int64
}

// Options configures Verify.
type Options struct {
	// Identities decrypt an encrypted backup (its own age identity): needed to check contents.
	Identities []age.Identity
	// IndexIdentities read the file index and the referenced-files list of an encrypted backup
	// without the backup's identity (the plugin's index key).
	IndexIdentities []age.Identity
	// PgRestore is the pg_restore program ("" = not checked: the dump catalogue check is skipped).
	PgRestore string
	// Drill, when set, restores the dump into a scratch database (needs PgRestore).
	Drill *Drill
	// SkipPoolContents checks that every pool object the index needs is present, without reading
	// it (a restore checks each file's SHA-256 as it writes it).
	SkipPoolContents bool
	// Trust, when set, decides whether the backup was made by the caller: one that was not
	// is read and checked but never drilled (restored into a database).
	Trust *format.Trust
	// Destination names the store for Trust.
	Destination string
	// Workers read pool objects in parallel (default 4).
	Workers  int
	Progress func(Progress)
	now      func() time.Time
}

// ErrVerificationFailed is wrapped by Verify's error when the backup is damaged.
var ErrVerificationFailed = errors.New("verification failed")

// verifier holds the state of one Verify call.
type verifier struct {
	o        Options
	s        storage.Store
	m        *format.Manifest
	v        *format.Verification
	mu       sync.Mutex
	objects  atomic.Int64
	bytes    atomic.Int64
	poolDone atomic.Int64
	poolN    int64
	phase    string

	paths []uint64  // FNV-64 of the index's paths, sorted: references are looked up here
	sums  []poolRef // the pool objects the index needs, sorted, unique
	sizes map[poolRef]int64
}

// Verify checks backup id at s: the manifest (and its checksum), the SHA-256 and size of every
// object it lists, that every file the dumped database refers to is in the file index and its
// content in the pool, the pool objects' content (their SHA-256 is their name), and with
// PgRestore that pg_restore can read the dump's catalogue and finds a data entry for every
// counted table. With o.Drill it restores the dump into a scratch database and compares every
// table's row count with the manifest. Without the identity of an encrypted backup only what
// can be read is checked and the outcome is OutcomePartial.
//
// Verify returns the Verification in every case where the manifest could be read; the error
// wraps ErrVerificationFailed when the backup is damaged, and is another error when Verify
// could not run (store unreachable, drill database not creatable).
func Verify(ctx context.Context, s storage.Store, id string, o Options) (*format.Verification, error) {
	if o.now == nil {
		o.now = time.Now
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	vr := &verifier{o: o, s: s, v: &format.Verification{BackupID: id, StartedAt: o.now().UTC(), Drill: o.Drill != nil}}
	m, err := vr.manifest(ctx, id)
	if err != nil {
		return nil, err
	}
	vr.m = m
	if err := CheckIdentities(m, o.Identities); err != nil {
		return nil, err
	}
	vr.v.Destination = m.Destination
	vr.v.ContentsChecked = !m.Encryption.Encrypted || len(o.Identities) > 0

	stopProgress := vr.reportProgress()
	err = vr.run(ctx)
	stopProgress()
	v := vr.v
	v.FinishedAt = o.now().UTC()
	v.DurationMS = v.FinishedAt.Sub(v.StartedAt).Milliseconds()
	v.ObjectsRead = vr.objects.Load()
	v.BytesRead = vr.bytes.Load()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	switch {
	case len(v.Problems) > 0:
		v.Outcome = format.OutcomeFailed
		return v, fmt.Errorf("backup %s at %s: %w: %s", id, s, ErrVerificationFailed, strings.Join(firstN(v.Problems, 5), "; "))
	case !v.ContentsChecked:
		v.Outcome = format.OutcomePartial
	default:
		v.Outcome = format.OutcomePassed
	}
	return v, nil
}

// CheckIdentities refuses identities that cannot decrypt backup m, before anything is read: a
// wrong key file would otherwise show as every object failing to decrypt.
func CheckIdentities(m *format.Manifest, ids []age.Identity) error {
	if len(ids) == 0 || !m.Encryption.Encrypted {
		return nil
	}
	var given []string
	for _, id := range ids {
		x, ok := id.(*age.X25519Identity)
		if !ok {
			return nil // another kind of identity: let decryption decide
		}
		fp := format.Fingerprint(x.Recipient().String())
		if contains(m.Encryption.Recipients, fp) {
			return nil
		}
		given = append(given, fp)
	}
	return fmt.Errorf("the identity given does not decrypt backup %s: its fingerprint is %s, the backup was encrypted to %s; "+
		"use the private key of one of those recipients", m.ID, strings.Join(given, ", "), strings.Join(m.Encryption.Recipients, ", "))
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(append([]string(nil), s[:n]...), fmt.Sprintf("and %d more", len(s)-n))
	}
	return s
}

func (vr *verifier) problem(format string, args ...any) {
	vr.mu.Lock()
	vr.v.Problems = append(vr.v.Problems, fmt.Sprintf(format, args...))
	vr.mu.Unlock()
}

func (vr *verifier) problemCount() int {
	vr.mu.Lock()
	defer vr.mu.Unlock()
	return len(vr.v.Problems)
}

func (vr *verifier) setPhase(p string) {
	vr.mu.Lock()
	vr.phase = p
	vr.mu.Unlock()
}

func (vr *verifier) reportProgress() (stop func()) {
	if vr.o.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				vr.mu.Lock()
				p := Progress{Phase: vr.phase, ObjectsRead: vr.objects.Load(), BytesRead: vr.bytes.Load(), PoolTotal: vr.poolN, PoolDone: vr.poolDone.Load()}
				vr.mu.Unlock()
				vr.o.Progress(p)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// check runs one named check and records it. fn returns a detail line; problems it records
// through vr.problem make the check fail; an error stops the whole verification.
func (vr *verifier) check(name string, fn func() (string, error)) error {
	vr.setPhase(name)
	before := vr.problemCount()
	start := vr.o.now()
	detail, err := fn()
	c := format.Check{Name: name, Outcome: format.OutcomePassed, Detail: detail, DurationMS: vr.o.now().Sub(start).Milliseconds()}
	var skip *skipError
	switch {
	case errors.As(err, &skip):
		c.Outcome, c.Detail = format.OutcomeSkipped, skip.why
	case err != nil:
		return err
	case vr.problemCount() > before:
		c.Outcome = format.OutcomeFailed
	}
	vr.mu.Lock()
	vr.v.Checks = append(vr.v.Checks, c)
	vr.mu.Unlock()
	return nil
}

type skipError struct{ why string }

func (e *skipError) Error() string { return e.why }

// manifest reads and checks the manifest.
func (vr *verifier) manifest(ctx context.Context, id string) (*format.Manifest, error) {
	if err := format.ValidateID(id); err != nil {
		return nil, err
	}
	rc, err := vr.s.Open(ctx, format.ManifestKey(id))
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("backup %s at %s: %w (no manifest: it does not exist or did not complete)", id, vr.s, format.ErrNoBackup)
		}
		return nil, fmt.Errorf("read the manifest of backup %s at %s: %w", id, vr.s, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read the manifest of backup %s at %s: %w", id, vr.s, err)
	}
	m, err := format.ParseManifest(b, id, vr.s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w (backups/%s/%s)", ErrVerificationFailed, err, id, format.ManifestName)
	}
	if m.Provenance, err = format.CheckProvenance(ctx, vr.s, format.ManifestKey(id), b); err != nil {
		return nil, err
	}
	sealed, _ := format.CheckManifestSum(b)
	detail := "readable, checksum matches"
	if !sealed {
		detail = "readable; written without a checksum by an older plugin version"
	}
	if m.Provenance.Signed() {
		detail += "; signed by " + m.Provenance.Signer.Fingerprint()
	} else {
		detail += "; " + m.Provenance.Problem
	}
	vr.v.Checks = append(vr.v.Checks, format.Check{Name: "manifest", Outcome: format.OutcomePassed, Detail: detail})
	return m, nil
}

func (vr *verifier) run(ctx context.Context) error {
	m := vr.m
	// Order matters: the index is read before the references are looked up in it.
	order := []string{format.ComponentFilesIndex, format.ComponentReferenced, format.ComponentConfig, format.ComponentDatabase}
	byComp := map[string]*format.Object{}
	for i := range m.Objects {
		byComp[m.Objects[i].Component] = &m.Objects[i]
	}
	for _, comp := range order {
		obj := byComp[comp]
		if obj == nil {
			continue
		}
		if err := vr.check("object "+obj.Key, func() (string, error) { return vr.object(ctx, obj) }); err != nil {
			return err
		}
	}
	for _, o := range m.Objects {
		if _, known := byComp[o.Component]; known && contains(order, o.Component) {
			continue
		}
		obj := o
		if err := vr.check("object "+obj.Key, func() (string, error) { return vr.object(ctx, &obj) }); err != nil {
			return err
		}
	}
	if m.Components.Files {
		if err := vr.check("file pool", func() (string, error) { return vr.pool(ctx) }); err != nil {
			return err
		}
	}
	if m.Components.Database && vr.o.Drill != nil {
		if err := vr.check("restore drill", func() (string, error) { return vr.drill(ctx) }); err != nil {
			return err
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// identitiesFor returns the identities that can read obj, or nil when none can.
func (vr *verifier) identitiesFor(component string) ([]age.Identity, bool) {
	if !vr.m.Encryption.Encrypted {
		return nil, true
	}
	if len(vr.o.Identities) > 0 {
		return append(append([]age.Identity(nil), vr.o.Identities...), vr.o.IndexIdentities...), true
	}
	if (component == format.ComponentFilesIndex || component == format.ComponentReferenced) && len(vr.o.IndexIdentities) > 0 {
		return vr.o.IndexIdentities, true
	}
	return nil, false
}

// object re-reads one object: size and SHA-256 of the stored bytes against the manifest and,
// when it can be decrypted, its content (zstd's checksum, age's authentication) and what the
// component holds.
func (vr *verifier) object(ctx context.Context, obj *format.Object) (string, error) {
	rc, err := vr.s.Open(ctx, obj.Key)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			vr.problem("%s is missing at the destination", obj.Key)
			return "missing", nil
		}
		return "", fmt.Errorf("open %s at %s: %w", obj.Key, vr.s, err)
	}
	defer rc.Close()
	vr.objects.Add(1)
	h := sha256.New()
	counted := &countingReader{r: rc, n: &vr.bytes}
	tee := io.TeeReader(counted, h)

	ids, readable := vr.identitiesFor(obj.Component)
	var detail string
	var contentErr error
	if readable {
		plain, err := format.Decode(io.NopCloser(tee), obj.Key, ids)
		if err != nil {
			contentErr = err
		} else {
			detail, contentErr = vr.content(ctx, obj, plain)
			_ = plain.Close()
		}
	}
	// Whatever the content check read, hash the rest of the stored bytes.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("read %s at %s: %w", obj.Key, vr.s, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	switch {
	case counted.total != obj.Size:
		vr.problem("%s holds %d bytes, the manifest says %d", obj.Key, counted.total, obj.Size)
	case sum != obj.SHA256:
		vr.problem("%s is damaged: its SHA-256 is %s, the manifest says %s", obj.Key, sum[:16], obj.SHA256[:min(16, len(obj.SHA256))])
	case contentErr != nil:
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		vr.problem("%s: %v", obj.Key, contentErr)
	}
	if !readable {
		return fmt.Sprintf("%d bytes, SHA-256 matches; encrypted, contents not checked (no identity)", counted.total), nil
	}
	if detail == "" {
		detail = fmt.Sprintf("%d bytes, SHA-256 matches, content readable", counted.total)
	}
	return detail, nil
}

type countingReader struct {
	r     io.Reader
	n     *atomic.Int64
	total int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.total += int64(n)
	c.n.Add(int64(n))
	return n, err
}

// content reads an object's plain content to its end and checks what its component holds.
func (vr *verifier) content(ctx context.Context, obj *format.Object, plain io.Reader) (string, error) {
	switch obj.Component {
	case format.ComponentFilesIndex:
		return vr.readIndex(plain)
	case format.ComponentReferenced:
		return vr.readReferences(plain)
	case format.ComponentDatabase:
		return vr.dumpCatalogue(ctx, plain)
	default:
		n, err := io.Copy(io.Discard, plain)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d bytes stored, %d bytes of content, SHA-256 matches", obj.Size, n), nil
	}
}

// poolRef names one pool object: a content hash in one encoding (zstd[/age] or raw).
type poolRef struct {
	h   format.Sum
	raw bool
}

func (p poolRef) entry() format.IndexEntry {
	e := format.IndexEntry{SHA256: hex.EncodeToString(p.h[:])}
	if p.raw {
		e.Enc = format.EncodingRaw
	}
	e.Path = e.PoolKey()
	return e
}

func pathKey(p string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(p))
	return h.Sum64()
}

func (vr *verifier) readIndex(plain io.Reader) (string, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(plain, 64<<10))
	vr.sizes = map[poolRef]int64{}
	var n, bytesTotal int64
	for {
		var e format.IndexEntry
		if err := dec.Decode(&e); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return "", fmt.Errorf("the file index cannot be read after %d entries: %w", n, err)
		}
		h, ok := format.ParseSum(e.SHA256)
		if !ok {
			return "", fmt.Errorf("the file index has an invalid sha256 %q for %s", e.SHA256, e.Path)
		}
		if e.Enc != "" && e.Enc != format.EncodingRaw {
			return "", fmt.Errorf("the file index stores %s with encoding %q, which this plugin version does not know: upgrade the plugin", e.Path, e.Enc)
		}
		vr.paths = append(vr.paths, pathKey(e.Path))
		ref := poolRef{h: h, raw: e.Enc == format.EncodingRaw}
		if _, seen := vr.sizes[ref]; !seen {
			vr.sizes[ref] = e.Size
			vr.sums = append(vr.sums, ref)
		}
		n++
		bytesTotal += e.Size
	}
	sort.Slice(vr.paths, func(i, j int) bool { return vr.paths[i] < vr.paths[j] })
	sort.Slice(vr.sums, func(i, j int) bool {
		if c := bytes.Compare(vr.sums[i].h[:], vr.sums[j].h[:]); c != 0 {
			return c < 0
		}
		return !vr.sums[i].raw && vr.sums[j].raw
	})
	if vr.m.Files != nil && n != vr.m.Files.Count {
		vr.problem("the file index lists %d files, the manifest says %d", n, vr.m.Files.Count)
	}
	return fmt.Sprintf("%d files, %d bytes, %d distinct contents", n, bytesTotal, len(vr.sums)), nil
}

func (vr *verifier) inIndex(p string) bool {
	k := pathKey(p)
	i := sort.Search(len(vr.paths), func(i int) bool { return vr.paths[i] >= k })
	return i < len(vr.paths) && vr.paths[i] == k
}

func (vr *verifier) readReferences(plain io.Reader) (string, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(plain, 64<<10))
	var n, missing, deletedMissing int64
	haveIndex := vr.m.Components.Files && vr.paths != nil
	for {
		var r format.Reference
		if err := dec.Decode(&r); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return "", fmt.Errorf("the list of referenced files cannot be read after %d entries: %w", n, err)
		}
		n++
		if !haveIndex || vr.inIndex(r.Path) {
			continue
		}
		if r.Deleted {
			deletedMissing++ // a soft-deleted post's file may be purged by retention: not a loss
			continue
		}
		missing++
		if missing <= 20 {
			vr.problem("the database refers to %s (%s) but the backup's file index does not hold it", r.Path, r.Kind)
		}
	}
	if missing > 20 {
		vr.problem("%d more referenced files are missing from the file index", missing-20)
	}
	if vr.m.ReferencedFiles > 0 && n != vr.m.ReferencedFiles {
		vr.problem("the list of referenced files has %d entries, the manifest says %d", n, vr.m.ReferencedFiles)
	}
	if !haveIndex {
		return fmt.Sprintf("%d referenced files (no file index in this backup to check them against)", n), nil
	}
	detail := fmt.Sprintf("all %d files the database refers to are in the file index", n-missing-deletedMissing)
	if deletedMissing > 0 {
		detail += fmt.Sprintf(" (%d files of deleted posts are not: not needed)", deletedMissing)
	}
	return detail, nil
}

// dumpCatalogue streams the dump through `pg_restore --list` (when configured), checks that
// every table counted in the manifest has a data entry, and reads the dump to its end.
func (vr *verifier) dumpCatalogue(ctx context.Context, plain io.Reader) (string, error) {
	if vr.o.PgRestore == "" {
		n, err := io.Copy(io.Discard, plain)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("dump readable (%d bytes); catalogue not checked: no pg_restore", n), nil
	}
	counted := &countingReader{r: plain, n: new(atomic.Int64)}
	var out bytes.Buffer
	runErr := pgdump.RunClient(ctx, vr.o.PgRestore, nil, counted, &out, "--list")
	// pg_restore stops reading after the catalogue: the rest is still read, for its checksum.
	if _, err := io.Copy(io.Discard, counted); err != nil {
		return "", err
	}
	n := counted.total
	if runErr != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("pg_restore --list cannot read the dump: %w", runErr)
	}
	entries, data := 0, map[string]bool{}
	for _, line := range strings.Split(out.String(), "\n") {
		if line == "" || strings.HasPrefix(line, ";") {
			continue
		}
		entries++
		// "1234; 0 16390 TABLE DATA public posts mmuser"
		if i := strings.Index(line, " TABLE DATA "); i >= 0 {
			f := strings.Fields(line[i+len(" TABLE DATA "):])
			if len(f) >= 2 {
				data[f[0]+"."+f[1]] = true
			}
		}
	}
	var missing []string
	for t := range vr.m.TableRowCounts {
		if !data[t] {
			missing = append(missing, t)
		}
	}
	sort.Strings(missing)
	for i, t := range missing {
		if i == 20 {
			vr.problem("%d more tables have no data in the dump", len(missing)-20)
			break
		}
		vr.problem("the dump has no data entry for table %s, which held %d rows", t, vr.m.TableRowCounts[t])
	}
	return fmt.Sprintf("dump readable (%d bytes), pg_restore --list: %d catalogue entries, data for %d tables", n, entries, len(data)), nil
}

// pool checks that the content of every indexed file is in the pool and, when it can be
// decrypted, that it decodes to content with the SHA-256 it is named by.
func (vr *verifier) pool(ctx context.Context) (string, error) {
	if vr.sums == nil && vr.m.Files != nil && vr.m.Files.Count > 0 {
		return "", &skipError{why: "the file index could not be read, so the pool cannot be checked against it"}
	}
	present := map[poolRef]int64{}
	need := len(vr.sums)
	// A listing is cheaper than a HEAD per object; only the needed objects are kept.
	err := format.ListPoolObjects(ctx, vr.s, func(h format.Sum, raw bool, info storage.ObjectInfo) error {
		if _, ok := vr.sizes[poolRef{h, raw}]; ok {
			present[poolRef{h, raw}] = info.Size
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("list the pool at %s: %w", vr.s, err)
	}
	var missing int
	for _, ref := range vr.sums {
		if _, ok := present[ref]; !ok {
			missing++
			if missing <= 20 {
				vr.problem("%s is missing from the pool (content of %d bytes the file index refers to)", ref.entry().PoolKey(), vr.sizes[ref])
			}
		}
	}
	if missing > 20 {
		vr.problem("%d more pool objects are missing", missing-20)
	}
	_, readable := vr.identitiesFor("pool")
	if !readable {
		return fmt.Sprintf("%d of %d pool objects present; encrypted, contents not checked (no identity)", need-missing, need), nil
	}
	if vr.o.SkipPoolContents {
		return fmt.Sprintf("%d of %d pool objects present (contents not read)", need-missing, need), nil
	}
	ids, _ := vr.identitiesFor("pool")
	vr.mu.Lock()
	vr.poolN = int64(need - missing)
	vr.mu.Unlock()
	jobs := make(chan poolRef)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(jobs)
		for _, ref := range vr.sums {
			if _, ok := present[ref]; !ok {
				continue
			}
			select {
			case jobs <- ref:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for range vr.o.Workers {
		g.Go(func() error {
			for ref := range jobs {
				if err := vr.poolObject(gctx, ref, ids); err != nil {
					return err
				}
				vr.poolDone.Add(1)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d of %d pool objects present, content SHA-256 checked", need-missing, need), nil
}

func (vr *verifier) poolObject(ctx context.Context, ref poolRef, ids []age.Identity) error {
	e := ref.entry()
	key, sum := e.PoolKey(), e.SHA256
	rc, err := format.OpenFile(ctx, vr.s, e, ids)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			vr.problem("%s is missing from the pool", key)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		vr.problem("%s cannot be read: %v", key, err)
		return nil
	}
	defer rc.Close()
	vr.objects.Add(1)
	hh := sha256.New()
	n, err := io.Copy(hh, &countingReader{r: rc, n: &vr.bytes})
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		vr.problem("%s is damaged: %v", key, err)
	case hex.EncodeToString(hh.Sum(nil)) != sum:
		vr.problem("%s is damaged: its content does not have the SHA-256 it is named by", key)
	case n != vr.sizes[ref]:
		vr.problem("%s holds %d bytes of content, the file index says %d", key, n, vr.sizes[ref])
	}
	return nil
}
