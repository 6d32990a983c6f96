package ssofallback

import (
	"time"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
)

// Auditor records each per-user switch and restore, a batch at a time.
type Auditor interface {
	AppendBatch(entries []audit.Entry) ([]audit.Record, error)
}

// The per-user audit records are the outcome of each user's step, written after it: none of
// them is an intent that must be stored before acting (that is the fallback record, which
// insert() writes before the user is touched, synchronously). So the workers hand them to one
// writer and go on with the next user instead of taking turns on the trail, and the writer
// appends what has queued up as one batch: one head read per batch instead of one per record.
const (
	auditBatchMax  = 100                   // records per AppendBatch
	auditBatchWait = 50 * time.Millisecond // how long a record waits for others to join its batch
)

// auditQueue is the writer of one fallback or restore run. Every record added before close is
// appended by the time close returns, so the trail is complete when the run's result is shown.
type auditQueue struct {
	a        Auditor
	in       chan audit.Entry
	done     chan struct{}
	max      int
	wait     time.Duration
	appended func(n int) // test hook: after each batch, with its size
}

// startAudit starts the writer of a run; nil (which adds nothing) without an auditor.
func (s *Service) startAudit() *auditQueue {
	if s.audit == nil {
		return nil
	}
	q := &auditQueue{a: s.audit, max: s.auditBatchMax, wait: s.auditBatchWait, done: make(chan struct{}), appended: s.auditAppended}
	// Room for two batches: workers only wait when the writer falls that far behind, which
	// bounds the memory a run holds however slow the store is.
	q.in = make(chan audit.Entry, 2*q.max)
	go q.run()
	return q
}

func (q *auditQueue) add(e audit.Entry) {
	if q != nil {
		q.in <- e
	}
}

// close appends everything added so far and returns when it is in the trail (or failed).
func (q *auditQueue) close() {
	if q == nil {
		return
	}
	close(q.in)
	<-q.done
}

func (q *auditQueue) run() {
	defer close(q.done)
	var (
		batch []audit.Entry
		timer *time.Timer
		due   <-chan time.Time // nil while the batch is empty
	)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		// The audit package does not fail the action it records: the Auditor reports its own
		// errors (the plugin logs each record it could not write).
		_, _ = q.a.AppendBatch(batch)
		if q.appended != nil {
			q.appended(len(batch))
		}
		batch, due = nil, nil // AppendBatch may keep the slice
		if timer != nil {
			timer.Stop()
		}
	}
	for {
		select {
		case e, ok := <-q.in:
			if !ok {
				flush()
				return
			}
			batch = append(batch, e)
			if len(batch) >= q.max {
				flush()
			} else if due == nil {
				timer = time.NewTimer(q.wait)
				due = timer.C
			}
		case <-due:
			flush()
		}
	}
}
