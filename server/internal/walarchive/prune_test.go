package walarchive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
)

const testSegSize = 16 << 20

// pruneRig is an archive as the archiver leaves it, with real names: timeline 1 segments 1-10
// and the partial copy of 11 (the timeline ended there), then timeline 2 (its history file)
// from segment 9 (the switch) to 14 and the partial copy of 15, every object signed.
type pruneRig struct {
	s        *local.Store
	key      *format.SigningKey
	sys      System
	junk     []string
	segments map[string]int64 // archive key -> stored size (sidecars included)
}

func seg(tl uint32, n uint64) File {
	return File{Name: SegmentName(tl, n, testSegSize), Timeline: tl, Segment: true}
}

func newPruneRig(t *testing.T, encrypted bool) *pruneRig {
	t.Helper()
	ctx := context.Background()
	s, err := local.New(t.TempDir())
	require.NoError(t, err)
	key, err := format.GenerateSigningKey()
	require.NoError(t, err)
	r := &pruneRig{s: s, key: key, sys: System{SystemID: "7445012345678901234", WALSegmentSize: testSegSize, CreatedAt: time.Now().UTC()},
		segments: map[string]int64{}}
	b, err := json.Marshal(r.sys)
	require.NoError(t, err)
	require.NoError(t, format.PutSigned(ctx, s, SystemKey, b, key))
	put := func(f File) {
		k := f.Key(encrypted)
		body := bytes.Repeat([]byte(f.Name), 10)
		require.NoError(t, format.PutSigned(ctx, s, k, body, key))
		r.segments[k] = size(t, s, k) + size(t, s, k+".sig")
	}
	for n := uint64(1); n <= 10; n++ {
		put(seg(1, n))
	}
	p := seg(1, 11)
	p.Partial = true
	put(p)
	require.NoError(t, format.PutSigned(ctx, s, File{Name: "00000002.history", Timeline: 2}.Key(encrypted), []byte("1\t0/9000000\tno recovery target specified\n"), key))
	for n := uint64(9); n <= 14; n++ {
		put(seg(2, n))
	}
	p = seg(2, 15)
	p.Partial = true
	put(p)
	// What Prune must leave alone: names the archiver never writes, and one in the wrong folder.
	r.junk = []string{
		"wal/00000001/000000010000000000000001.backup.zst",
		"wal/00000001/notes.txt",
		"wal/00000003/000000010000000000000002.zst",
		"wal/00000001/sub/000000010000000000000002.zst",
		"wal/000000010000000000000002.zst",
	}
	for _, k := range r.junk {
		_, err := s.Put(ctx, k, bytes.NewReader([]byte("x")))
		require.NoError(t, err)
	}
	return r
}

func size(t *testing.T, s storage.Store, key string) int64 {
	t.Helper()
	info, err := s.Stat(context.Background(), key)
	require.NoError(t, err)
	return info.Size
}

// base stores the manifest of a base backup that starts at segment n of timeline tl, signed by
// k (nil: unsigned), and returns it as read back (with its provenance).
func (r *pruneRig) base(t *testing.T, id string, tl uint32, n uint64, started time.Time, k *format.SigningKey) *format.Manifest {
	t.Helper()
	m := &format.Manifest{FormatVersion: format.FormatVersion, ID: id, Status: format.StatusComplete, StartedAt: started.UTC(), FinishedAt: started.UTC().Add(time.Minute),
		Components: format.Components{Base: true}, Destination: "local",
		Base: &format.BaseBackup{SystemID: r.sys.SystemID, Timeline: tl, StartLSN: FormatLSN(n*testSegSize + 40), EndLSN: FormatLSN(n*testSegSize + 4096),
			StartWAL: SegmentName(tl, n, testSegSize), EndWAL: SegmentName(tl, n, testSegSize), WALSegmentSize: testSegSize}}
	b, err := format.MarshalManifest(m)
	require.NoError(t, err)
	require.NoError(t, format.PutSigned(context.Background(), r.s, format.ManifestKey(id), b, k))
	got, err := format.ReadManifest(context.Background(), r.s, id)
	require.NoError(t, err)
	return got
}

// walKeys lists the archive's keys, sidecars left out.
func walKeys(t *testing.T, s storage.Store) []string {
	t.Helper()
	var keys []string
	require.NoError(t, s.List(context.Background(), Prefix, func(o storage.ObjectInfo) error {
		if !bytes.HasSuffix([]byte(o.Key), []byte(".sig")) {
			keys = append(keys, o.Key)
		}
		return nil
	}))
	sort.Strings(keys)
	return keys
}

func TestPrune(t *testing.T) {
	now := time.Now()
	other, err := format.GenerateSigningKey()
	require.NoError(t, err)
	for _, encrypted := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "encrypted names"}[encrypted], func(t *testing.T) {
			key := func(tl uint32, n uint64, partial bool) string {
				f := seg(tl, n)
				f.Partial = partial
				return f.Key(encrypted)
			}
			// without lists the archive minus the given keys (with their sidecars).
			without := func(r *pruneRig, gone ...string) (want []string, bytes int64) {
				g := map[string]bool{}
				for _, k := range gone {
					g[k] = true
					bytes += r.segments[k]
				}
				for _, k := range walKeys(t, r.s) {
					if !g[k] {
						want = append(want, k)
					}
				}
				return want, bytes
			}
			var tl1All []string
			for n := uint64(1); n <= 10; n++ {
				tl1All = append(tl1All, key(1, n, false))
			}
			tl1All = append(tl1All, key(1, 11, true))

			t.Run("the newest base backup on timeline 2", func(t *testing.T) {
				r := newPruneRig(t, encrypted)
				b2 := r.base(t, "20261201T000000Z-0002", 2, 12, now.Add(-time.Hour), r.key)
				gone := append(append([]string(nil), tl1All...), key(2, 9, false), key(2, 10, false), key(2, 11, false))
				want, wantBytes := without(r, gone...)
				res, err := Prune(context.Background(), r.s, []format.PublicKey{r.key.PublicKey()}, []*format.Manifest{b2}, true)
				require.NoError(t, err)
				assert.Equal(t, PruneResult{Deleted: 14, Bytes: wantBytes, KeptFrom: SegmentName(2, 12, testSegSize)}, res)
				assert.Len(t, walKeys(t, r.s), len(want)+len(gone), "a dry run deletes nothing")

				res, err = Prune(context.Background(), r.s, []format.PublicKey{r.key.PublicKey()}, []*format.Manifest{b2}, false)
				require.NoError(t, err)
				assert.Equal(t, 14, res.Deleted)
				assert.Equal(t, wantBytes, res.Bytes)
				assert.Equal(t, want, walKeys(t, r.s))
				for _, k := range gone {
					_, err := r.s.Stat(context.Background(), k+".sig")
					assert.ErrorIs(t, err, storage.ErrNotFound, "the signature of %s goes with it", k)
				}
				assert.Contains(t, want, SystemKey)
				assert.Contains(t, want, File{Name: "00000002.history", Timeline: 2}.Key(encrypted))
				for _, j := range r.junk {
					assert.Contains(t, want, j)
				}
				// The archive still covers the base backup to the newest WAL, and a second pass
				// finds nothing more.
				a, err := (&Reader{Store: r.s, Keys: []format.PublicKey{r.key.PublicKey()}}).Scan(context.Background())
				require.NoError(t, err)
				require.NoError(t, a.Covers(2, 12, 15, true))
				res, err = Prune(context.Background(), r.s, []format.PublicKey{r.key.PublicKey()}, []*format.Manifest{b2}, false)
				require.NoError(t, err)
				assert.Zero(t, res.Deleted)
			})

			t.Run("two base backups: the oldest decides, on each timeline", func(t *testing.T) {
				r := newPruneRig(t, encrypted)
				b1 := r.base(t, "20261130T000000Z-0001", 1, 3, now.Add(-48*time.Hour), r.key)
				b2 := r.base(t, "20261201T000000Z-0002", 2, 12, now.Add(-time.Hour), r.key)
				want, _ := without(r, key(1, 1, false), key(1, 2, false))
				res, err := Prune(context.Background(), r.s, []format.PublicKey{r.key.PublicKey()}, []*format.Manifest{b2, b1}, false)
				require.NoError(t, err)
				assert.Equal(t, 2, res.Deleted)
				assert.Equal(t, SegmentName(1, 3, testSegSize), res.KeptFrom)
				assert.Equal(t, want, walKeys(t, r.s))
			})

			t.Run("a planted base backup does not count", func(t *testing.T) {
				r := newPruneRig(t, encrypted)
				all := walKeys(t, r.s)
				// Newer, starting later (segment 14): counted, it would let segments 12-13 go.
				unsigned := r.base(t, "20261202T000000Z-0003", 2, 14, now.Add(-time.Minute), nil)
				foreign := r.base(t, "20261202T000000Z-0004", 2, 14, now.Add(-time.Minute), other)
				for _, planted := range [][]*format.Manifest{{unsigned}, {foreign}, {unsigned, foreign}} {
					res, err := Prune(context.Background(), r.s, []format.PublicKey{r.key.PublicKey()}, planted, false)
					require.NoError(t, err)
					assert.Equal(t, PruneResult{Skipped: "no trusted base backup"}, res)
					assert.Equal(t, all, walKeys(t, r.s))
				}
				// Beside a real one, a planted one changes nothing either.
				b1 := r.base(t, "20261130T000000Z-0001", 1, 3, now.Add(-48*time.Hour), r.key)
				res, err := Prune(context.Background(), r.s, []format.PublicKey{r.key.PublicKey()}, []*format.Manifest{foreign, unsigned, b1}, false)
				require.NoError(t, err)
				assert.Equal(t, 2, res.Deleted)
				assert.Equal(t, SegmentName(1, 3, testSegSize), res.KeptFrom)
			})

			t.Run("refusals", func(t *testing.T) {
				r := newPruneRig(t, encrypted)
				all := walKeys(t, r.s)
				keys := []format.PublicKey{r.key.PublicKey()}
				b2 := r.base(t, "20261201T000000Z-0002", 2, 12, now.Add(-time.Hour), r.key)

				// wal/system.json replaced by one the server did not sign.
				orig, err := r.s.Open(context.Background(), SystemKey+".sig")
				require.NoError(t, err)
				sig := new(bytes.Buffer)
				_, err = sig.ReadFrom(orig)
				require.NoError(t, err)
				require.NoError(t, orig.Close())
				b, _ := json.Marshal(System{SystemID: r.sys.SystemID, WALSegmentSize: testSegSize})
				require.NoError(t, format.PutSigned(context.Background(), r.s, SystemKey, b, other))
				_, err = Prune(context.Background(), r.s, keys, []*format.Manifest{b2}, false)
				assert.ErrorContains(t, err, "WAL not pruned")
				assert.Equal(t, all, walKeys(t, r.s))
				sysb, _ := json.Marshal(r.sys)
				require.NoError(t, format.PutSigned(context.Background(), r.s, SystemKey, sysb, r.key))

				// A base backup of another cluster.
				r.sys.SystemID = "7000000000000000001"
				otherSys := r.base(t, "20261201T000000Z-0005", 2, 12, now.Add(-time.Hour), r.key)
				r.sys.SystemID = b2.Base.SystemID
				_, err = Prune(context.Background(), r.s, keys, []*format.Manifest{b2, otherSys}, false)
				assert.ErrorContains(t, err, "of PostgreSQL system 7000000000000000001")
				assert.Equal(t, all, walKeys(t, r.s))

				// A start that is no segment name.
				bad := *b2
				badBase := *b2.Base
				badBase.StartWAL = "00000002.history"
				bad.Base = &badBase
				_, err = Prune(context.Background(), r.s, keys, []*format.Manifest{&bad}, false)
				assert.ErrorContains(t, err, "no valid first WAL segment")
				assert.Equal(t, all, walKeys(t, r.s))

				// A listing that fails half-way deletes nothing.
				_, err = Prune(context.Background(), failingList{r.s}, keys, []*format.Manifest{b2}, false)
				assert.ErrorContains(t, err, "list the WAL archive")
				assert.Equal(t, all, walKeys(t, r.s))

				// No archive at all: nothing to do.
				empty, err := local.New(t.TempDir())
				require.NoError(t, err)
				res, err := Prune(context.Background(), empty, keys, []*format.Manifest{b2}, false)
				require.NoError(t, err)
				assert.Equal(t, "no WAL archive", res.Skipped)
			})
		})
	}
}

// failingList fails its listing after the first few objects.
type failingList struct{ *local.Store }

func (f failingList) List(ctx context.Context, prefix string, fn func(storage.ObjectInfo) error) error {
	n := 0
	return f.Store.List(ctx, prefix, func(o storage.ObjectInfo) error {
		if n++; n > 5 {
			return errors.New("connection reset")
		}
		return fn(o)
	})
}

func TestParseKey(t *testing.T) {
	for k, want := range map[string]string{
		"wal/00000001/000000010000000000000003.zst":             "000000010000000000000003",
		"wal/00000001/000000010000000000000003.zst.age":         "000000010000000000000003",
		"wal/00000001/000000010000000000000003.zst.age.sig":     "000000010000000000000003 sig",
		"wal/00000001/000000010000000000000003.partial.zst.sig": "000000010000000000000003 partial sig",
		"wal/00000002/00000002.history.zst":                     "00000002.history",
		"wal/00000002/000000010000000000000003.zst":             "",
		"wal/00000001/000000010000000000000003":                 "",
		"wal/00000001/000000010000000000000003.age":             "",
		"wal/system.json": "",
		"backups/00000001/000000010000000000000003.zst": "",
	} {
		f, sig, ok := parseKey(k)
		got := ""
		if ok {
			got = f.Name
			if f.Partial {
				got += " partial"
			}
			if sig {
				got += " sig"
			}
		}
		assert.Equal(t, want, got, k)
	}
}
