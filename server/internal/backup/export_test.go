package backup

import (
	"context"
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// What the package's tests check inside a run. The tests are package backup_test because
// they use backuptest, which imports backup.

// Object names in a backup's folder.
const (
	RunMarkerName  = runMarkerName
	DatabaseName   = databaseName
	ReferencedName = referencedName
	ConfigName     = configName
	IndexName      = indexName
	AgeSuffix      = ageSuffix
)

// ErrContentChanged is the error of a file that never stops changing.
var ErrContentChanged = errContentChanged

// NewPoolSet is a run's view of the pool.
var NewPoolSet = newPoolSet

// Load reads the pool's keys.
func (p *poolSet) Load(ctx context.Context, s storage.Store) error { return p.load(ctx, s) }

// Encoding is how the content h is stored, if it is.
func (p *poolSet) Encoding(h format.Sum) (string, bool) { return p.encoding(h) }

// CheckUsed is the run's final check of the pool objects it relies on.
func (p *poolSet) CheckUsed(ctx context.Context, s storage.Store) error { return p.checkUsed(ctx, s) }

// WithNow is o pruning as if the time were now().
func (o PruneOptions) WithNow(now func() time.Time) PruneOptions {
	o.now = now
	return o
}

// WithNow is o run as if the time were now() (the run's start and finish).
func (o Options) WithNow(now func() time.Time) Options {
	o.now = now
	return o
}

var CaptureBucket = captureBucket
