package failover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mattermost/mattermost/server/public/pluginapi"
)

// Journal stores the current runbook. Update is a compare-and-set: fn gets the stored run (nil
// when there is none) and returns the one to store; it may be called more than once when
// another node wrote in between, so it must only change the run it is given.
type Journal interface {
	Load(ctx context.Context) (*Run, error)
	Update(ctx context.Context, fn func(cur *Run) (*Run, error)) (*Run, error)
}

// KV is the part of the plugin KV store the journal needs; *pluginapi.KVService and
// *pluginapi.MemoryStore satisfy it.
type KV interface {
	Get(key string, o any) error
	Set(key string, value any, options ...pluginapi.KVSetOption) (bool, error)
	SetAtomicWithRetries(key string, valueFunc func(oldValue []byte) (newValue any, err error)) error
}

var (
	_ KV = (*pluginapi.KVService)(nil)
	_ KV = (*pluginapi.MemoryStore)(nil)
)

// KV keys of the journal.
const (
	KeyCurrent    = "failover/current"
	KeyRunsPrefix = "failover/runs/" // finished runbooks, by id, for the record
)

// KVJournal keeps the runbook in the plugin's KV store, which every node of both regions shares.
type KVJournal struct{ kv KV }

// NewKVJournal returns a journal over kv.
func NewKVJournal(kv KV) *KVJournal { return &KVJournal{kv: kv} }

// Load returns the current runbook, nil when none was ever started.
func (j *KVJournal) Load(context.Context) (*Run, error) {
	var raw []byte
	if err := j.kv.Get(KeyCurrent, &raw); err != nil {
		return nil, fmt.Errorf("read the failover journal: %w", err)
	}
	return decode(raw)
}

func decode(raw []byte) (*Run, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var r Run
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("the failover journal is unreadable: %w", err)
	}
	return &r, nil
}

// Update applies fn atomically. A run that fn finishes is also kept under its id.
func (j *KVJournal) Update(_ context.Context, fn func(cur *Run) (*Run, error)) (*Run, error) {
	var saved *Run
	err := j.kv.SetAtomicWithRetries(KeyCurrent, func(old []byte) (any, error) {
		next, b, err := apply(old, fn)
		if err != nil {
			return nil, err
		}
		saved = next
		return b, nil
	})
	if err != nil {
		// pluginapi wraps fn's error; callers test the cause with errors.Is.
		if cause := fnError(err); cause != nil {
			return nil, cause
		}
		return nil, fmt.Errorf("write the failover journal: %w", err)
	}
	if saved.State.Terminal() {
		// Best effort: the record of finished runbooks is for people, the current key is what counts.
		_, _ = j.kv.Set(KeyRunsPrefix+saved.ID, saved)
	}
	return saved, nil
}

// apply is one journal update: decode the stored run, let fn change it, encode the result.
func apply(old []byte, fn func(cur *Run) (*Run, error)) (*Run, []byte, error) {
	cur, err := decode(old)
	if err != nil {
		return nil, nil, err
	}
	next, err := fn(cur)
	if err != nil {
		return nil, nil, err
	}
	if next == nil {
		return nil, nil, errors.New("failover journal: refusing to delete the current runbook")
	}
	b, err := json.Marshal(next)
	if err != nil {
		return nil, nil, fmt.Errorf("encode the runbook: %w", err)
	}
	return next, b, nil
}

// fnError finds an error of this package inside pluginapi's wrapping.
func fnError(err error) error {
	for _, e := range []error{ErrNoRun, ErrActive, ErrNotActive, ErrNotWaiting, ErrOtherRun} {
		if errors.Is(err, e) {
			var ce *codedError
			if errors.As(err, &ce) {
				return ce
			}
			return e
		}
	}
	return nil
}

// Errors of the journal's state transitions; test with errors.Is.
var (
	ErrNoRun  = errors.New("no runbook was started")
	ErrActive = errors.New("a runbook is active")
	// ErrPluginDrives: the plugin took the runbook over from drctl; only the plugin drives it now.
	ErrPluginDrives = errors.New("the plugin took this runbook over")
	ErrNotActive    = errors.New("the runbook is over")
	ErrNotWaiting   = errors.New("no step waits for a confirmation")
	ErrOtherRun     = errors.New("another runbook replaced this one")
)

// codedError carries one of the errors above with a message for the admin.
type codedError struct {
	code error
	msg  string
}

func (e *codedError) Error() string { return e.msg }
func (e *codedError) Unwrap() error { return e.code }

func coded(code error, format string, args ...any) error {
	return &codedError{code: code, msg: fmt.Sprintf(format, args...)}
}
