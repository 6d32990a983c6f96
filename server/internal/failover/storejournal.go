package failover

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// Keys of the journal at a backup destination.
const (
	StoreKeyCurrent    = "failover/current.json"
	StoreKeyRunsPrefix = "failover/runs/" // finished runbooks, as <id>.json
)

// StoreJournal keeps the runbook at a backup destination, for drctl, which runs where
// Mattermost (and its KV store) may be gone. Every update is a compare-and-swap
// (storage.Swapper), so two operators on two machines cannot both start or advance a runbook.
type StoreJournal struct {
	s storage.Swapper
	// put keeps finished runbooks; optional.
	put func(ctx context.Context, key string, content []byte) error
}

// NewStoreJournal returns a journal over s, which must be a storage.Swapper (local folders and
// S3 are).
func NewStoreJournal(s storage.Store) (*StoreJournal, error) {
	sw, ok := s.(storage.Swapper)
	if !ok {
		return nil, fmt.Errorf("%s cannot hold a failover journal: it does not support conditional writes", s)
	}
	j := &StoreJournal{s: sw}
	j.put = func(ctx context.Context, key string, content []byte) error {
		_, err := s.Put(ctx, key, bytes.NewReader(content))
		return err
	}
	return j, nil
}

// Load returns the current runbook, nil when none was ever started.
func (j *StoreJournal) Load(ctx context.Context) (*Run, error) {
	raw, _, err := j.raw(ctx)
	if err != nil {
		return nil, err
	}
	return decode(raw)
}

// raw returns the stored runbook and its version; nothing and "" when there is none.
func (j *StoreJournal) raw(ctx context.Context) ([]byte, string, error) {
	raw, version, err := j.s.Load(ctx, StoreKeyCurrent)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil, "", nil
	case err != nil:
		return nil, "", fmt.Errorf("read the failover journal: %w", err)
	}
	return raw, version, nil
}

// maxSwapTries bounds Update's retries when other writers keep coming first.
const maxSwapTries = 20

// Update applies fn with a compare-and-swap, calling it again when another writer came first.
// A run that fn finishes is also kept under its id.
func (j *StoreJournal) Update(ctx context.Context, fn func(cur *Run) (*Run, error)) (*Run, error) {
	for try := range maxSwapTries {
		raw, version, err := j.raw(ctx)
		if err != nil {
			return nil, err
		}
		next, b, err := apply(raw, fn)
		if err != nil {
			return nil, err
		}
		_, err = j.s.Swap(ctx, StoreKeyCurrent, b, version)
		switch {
		case err == nil:
			j.keepFinished(ctx, next, b)
			return next, nil
		case errors.Is(err, storage.ErrConflict):
			if err := sleep(ctx, time.Duration(try+1)*25*time.Millisecond); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("write the failover journal: %w", err)
		}
	}
	return nil, fmt.Errorf("write the failover journal: other writers kept changing it (%d tries); try again", maxSwapTries)
}

// keepFinished records a finished runbook under its id. Best effort, as in KVJournal: the
// current key is what counts.
func (j *StoreJournal) keepFinished(ctx context.Context, r *Run, b []byte) {
	if r.State.Terminal() && storage.ValidateKey(StoreKeyRunsPrefix+r.ID+".json") == nil {
		_ = j.put(ctx, StoreKeyRunsPrefix+r.ID+".json", b)
	}
}
