package storagetest

import (
	"bytes"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// RunSwap checks a backend's storage.Swapper: the compare-and-swap a journal shared by several
// machines relies on. newStore returns an empty store for one subtest.
func RunSwap(t *testing.T, newStore func(t *testing.T) storage.Store) {
	swapper := func(t *testing.T) (storage.Store, storage.Swapper) {
		s := newStore(t)
		sw, ok := s.(storage.Swapper)
		require.True(t, ok, "%T does not implement storage.Swapper", s)
		return s, sw
	}
	t.Run("CreateThenSwap", func(t *testing.T) { s, sw := swapper(t); testSwapSequence(t, s, sw) })
	t.Run("ConcurrentWritersLoseNoUpdate", func(t *testing.T) { _, sw := swapper(t); testSwapRace(t, sw) })
	t.Run("TooLarge", func(t *testing.T) { _, sw := swapper(t); testSwapTooLarge(t, sw) })
}

func testSwapSequence(t *testing.T, s storage.Store, sw storage.Swapper) {
	ctx := ctxOf(t)
	const key = "locks/journal.json"
	_, _, err := sw.Load(ctx, key)
	require.ErrorIs(t, err, storage.ErrNotFound)

	v1, err := sw.Swap(ctx, key, []byte("one"), "")
	require.NoError(t, err)
	require.NotEmpty(t, v1)
	_, err = sw.Swap(ctx, key, []byte("other"), "")
	require.ErrorIs(t, err, storage.ErrConflict, "a create over an existing object is refused")

	b, v, err := sw.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, "one", string(b))
	assert.Equal(t, v1, v)

	v2, err := sw.Swap(ctx, key, []byte("two"), v1)
	require.NoError(t, err)
	assert.NotEqual(t, v1, v2)
	_, err = sw.Swap(ctx, key, []byte("stale"), v1)
	require.ErrorIs(t, err, storage.ErrConflict, "a write from a stale read is refused")
	assert.Equal(t, "two", string(Read(t, s, key)))

	// The backend's lock files, if any, are not objects.
	assert.Equal(t, []string{key}, Keys(t, s, "locks/"))
}

// testSwapRace: writers that each load, increment and swap (retrying on conflict) end with
// every increment counted.
func testSwapRace(t *testing.T, sw storage.Swapper) {
	ctx := ctxOf(t)
	const key = "counter"
	const writers, each = 4, 5
	_, err := sw.Swap(ctx, key, []byte("0"), "")
	require.NoError(t, err)
	var wg sync.WaitGroup
	conflicts := make([]int, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				for {
					b, v, err := sw.Load(ctx, key)
					if !assert.NoError(t, err) {
						return
					}
					n, _ := strconv.Atoi(string(b))
					_, err = sw.Swap(ctx, key, []byte(strconv.Itoa(n+1)), v)
					if err == nil {
						break
					}
					if !assert.ErrorIs(t, err, storage.ErrConflict) {
						return
					}
					conflicts[w]++
				}
			}
		}()
	}
	wg.Wait()
	b, _, err := sw.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(writers*each), string(b), "no increment lost (conflicts seen: %v)", conflicts)
}

func testSwapTooLarge(t *testing.T, sw storage.Swapper) {
	_, err := sw.Swap(ctxOf(t), "big", bytes.Repeat([]byte{1}, storage.MaxSwapSize+1), "")
	require.Error(t, err)
	assert.NotErrorIs(t, err, storage.ErrConflict)
}
