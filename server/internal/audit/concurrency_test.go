package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConcurrentAppendsTwoNodes: two Trails (two cluster nodes) on one
// store, 8 goroutines appending 200 records each.
func TestConcurrentAppendsTwoNodes(t *testing.T) {
	const goroutines, perG = 8, 200
	store := newStore()
	nodes := []*Trail{New(store, "node-a"), New(store, "node-b")}

	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := nodes[g%2]
			for i := range perG {
				_, err := tr.Append(Entry{
					ActorID: ActorSystem, Actor: ActorSystem, Action: "test.concurrent", Outcome: OutcomeSucceeded,
					Details: map[string]string{"g": fmt.Sprint(g), "i": fmt.Sprint(i)},
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	res, err := nodes[1].Verify()
	require.NoError(t, err)
	assert.True(t, res.OK, res.Problem)
	assert.False(t, res.Pending)
	assert.Equal(t, uint64(goroutines*perG), res.Checked)
	assert.Equal(t, uint64(goroutines*perG), res.Head)

	// Every append is there exactly once, seq 1..1600 without gaps.
	var buf bytes.Buffer
	require.NoError(t, nodes[0].ExportJSONL(&buf, Filter{}))
	seen := map[string]bool{}
	perNode := map[string]int{}
	var seq uint64
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var r Record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		seq++
		require.Equal(t, seq, r.Seq)
		id := r.Details["g"] + "/" + r.Details["i"]
		require.False(t, seen[id], "duplicate %s", id)
		seen[id] = true
		perNode[r.Node]++
	}
	assert.Equal(t, uint64(goroutines*perG), seq)
	assert.Len(t, seen, goroutines*perG)
	assert.Equal(t, map[string]int{"node-a": 800, "node-b": 800}, perNode)
}

// TestVerifyDuringAppends: Verify running while nodes append never reports
// a problem (in particular no false "head behind").
func TestVerifyDuringAppends(t *testing.T) {
	store := newStore()
	a, b := New(store, "node-a"), New(store, "node-b")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, tr := range []*Trail{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := tr.Append(entry("test.load"))
				assert.NoError(t, err)
			}
		}()
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	runs := 0
	for time.Now().Before(deadline) || runs < 3 {
		res, err := New(store, "verifier").Verify()
		require.NoError(t, err)
		require.True(t, res.OK, res.Problem)
		runs++
	}
	close(stop)
	wg.Wait()
}
