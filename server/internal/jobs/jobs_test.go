package jobs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOneJobPerKindAndCancel(t *testing.T) {
	r := NewRunner()
	started := make(chan struct{})
	j, err := r.Start("backup", "u1", func(ctx context.Context, j *Job) {
		j.SetProgress("dumping")
		close(started)
		<-ctx.Done()
	})
	require.NoError(t, err)
	<-started
	assert.Equal(t, "dumping", r.Running("backup").Progress())

	_, err = r.Start("backup", "u2", func(context.Context, *Job) {})
	var busy *BusyError
	require.True(t, errors.As(err, &busy))
	assert.Contains(t, err.Error(), "still running")

	other, err := r.Start("sso", "u1", func(context.Context, *Job) {})
	require.NoError(t, err, "other kinds run alongside")
	<-other.Done()

	assert.Equal(t, j, r.Cancel("backup"))
	select {
	case <-j.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("job did not stop on cancel")
	}
	assert.Nil(t, r.Running("backup"))
	assert.Nil(t, r.Cancel("backup"))
	_, err = r.Start("backup", "u2", func(context.Context, *Job) {})
	assert.NoError(t, err, "a new job may start once the old one ended")
}

func TestShutdownCancelsEverything(t *testing.T) {
	r := NewRunner()
	j, err := r.Start("long", "u", func(ctx context.Context, _ *Job) { <-ctx.Done() })
	require.NoError(t, err)
	r.Shutdown(5 * time.Second)
	select {
	case <-j.Done():
	default:
		t.Fatal("job still running after shutdown")
	}
}

// Whoever reads a job's result must be able to start the next job of the kind at once: the
// report runs after the slot is free (an SSO restore right after the fallback's post was busy).
func TestReportRunsOnceTheSlotIsFree(t *testing.T) {
	r := NewRunner()
	next := make(chan error, 1)
	j, err := r.Start("sso", "u1", func(_ context.Context, j *Job) {
		j.Report(func() {
			_, err := r.Start("sso", "u1", func(context.Context, *Job) {})
			next <- err
		})
	})
	require.NoError(t, err)
	<-j.Done()
	require.NoError(t, <-next, "the report saw the job still running")
}
