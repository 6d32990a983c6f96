package failover_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failover"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
)

func storeJournal(t *testing.T) (*failover.StoreJournal, *local.Store) {
	t.Helper()
	s, err := local.New(t.TempDir())
	require.NoError(t, err)
	j, err := failover.NewStoreJournal(s)
	require.NoError(t, err)
	return j, s
}

// startOnce is the rule a start applies in the journal: refuse while a runbook is active.
func startOnce(run *failover.Run) func(cur *failover.Run) (*failover.Run, error) {
	return func(cur *failover.Run) (*failover.Run, error) {
		if cur != nil && !cur.State.Terminal() {
			return nil, failover.ErrActive
		}
		return run, nil
	}
}

// Two operators starting at the same moment from two machines: exactly one runbook starts.
func TestStoreJournalTwoStartsOneWins(t *testing.T) {
	j, _ := storeJournal(t)
	const operators = 6
	var wg sync.WaitGroup
	errs := make([]error, operators)
	for i := range operators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run := failover.NewRun(failover.KindFailover, failover.Failover, "east", "west", "", "operator", nil, time.Now())
			_, errs[i] = j.Update(context.Background(), startOnce(run))
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		assert.ErrorIs(t, err, failover.ErrActive)
	}
	assert.Equal(t, 1, won)
}

// The engine drives a runbook kept at a destination as it does one kept in KV; the finished
// runbook is kept under its id.
func TestStoreJournalDrivesTheEngine(t *testing.T) {
	j, s := storeJournal(t)
	e, _, _ := newEngine(map[string]*scripted{})
	e.Journal = j
	run := newRun(t, e)
	got, err := e.Run(context.Background(), run.ID)
	require.NoError(t, err)
	assert.Equal(t, failover.RunCompleted, got.State)

	loaded, err := j.Load(context.Background())
	require.NoError(t, err)
	assert.Equal(t, failover.RunCompleted, loaded.State)
	_, err = s.Stat(context.Background(), failover.StoreKeyRunsPrefix+run.ID+".json")
	require.NoError(t, err, "the finished runbook is kept under its id")
}

func TestStoreJournalRefusesWhatItCannotTrust(t *testing.T) {
	j, s := storeJournal(t)
	_, err := s.Put(context.Background(), failover.StoreKeyCurrent, stringsReader("{not json"))
	require.NoError(t, err)
	_, err = j.Load(context.Background())
	require.ErrorContains(t, err, "unreadable")

	_, err = failover.NewStoreJournal(readOnly{s})
	require.ErrorContains(t, err, "does not support conditional writes")
}

func TestStoreJournalKeepsFnErrors(t *testing.T) {
	j, _ := storeJournal(t)
	boom := errors.New("boom")
	_, err := j.Update(context.Background(), func(*failover.Run) (*failover.Run, error) { return nil, boom })
	require.ErrorIs(t, err, boom)
	_, err = j.Update(context.Background(), func(*failover.Run) (*failover.Run, error) { return nil, nil })
	require.ErrorContains(t, err, "refusing to delete")
	run, err := j.Load(context.Background())
	require.NoError(t, err)
	assert.Nil(t, run, "nothing was written")
}

// readOnly hides the store's Swap.
type readOnly struct{ storage.Store }

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
