package ssofallback

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
)

// batchSizes records the size of every batch the writer appended.
type batchSizes struct {
	mu    sync.Mutex
	sizes []int
}

func (b *batchSizes) add(n int) {
	b.mu.Lock()
	b.sizes = append(b.sizes, n)
	b.mu.Unlock()
}

func (b *batchSizes) get() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int(nil), b.sizes...)
}

func sum(ns []int) int {
	s := 0
	for _, n := range ns {
		s += n
	}
	return s
}

// userRecords returns the trail's records of action, by target.
func userRecords(t *testing.T, tr *audit.Trail, action string) map[string]audit.Record {
	t.Helper()
	recs, err := tr.Query(audit.Filter{Action: action, Limit: audit.MaxLimit})
	require.NoError(t, err)
	out := map[string]audit.Record{}
	for _, r := range recs {
		_, dup := out[r.Target]
		require.False(t, dup, "two %s records of %s", action, r.Target)
		out[r.Target] = r
	}
	return out
}

// TestAuditBatchedAndCompleteWhenTheRunReturns: a run's per-user records are appended in
// batches (not one append per user), every one of them is in the trail when Fallback or
// Restore returns, and the trail verifies.
func TestAuditBatchedAndCompleteWhenTheRunReturns(t *testing.T) {
	const n = 230
	f := setup(t)
	sizes := &batchSizes{}
	f.svc.auditBatchMax, f.svc.auditAppended = 50, sizes.add
	for i := range n {
		f.mm.add(&model.User{Username: fmt.Sprintf("u%03d", i), AuthService: "saml", AuthData: str(fmt.Sprintf("id-%d", i))})
	}
	f.mm.add(&model.User{Username: "bot", AuthService: "saml", AuthData: str("bot"), IsBot: true})

	rep, err := f.svc.Fallback(context.Background(), FallbackRequest{Selection: Selection{Service: "saml", All: true}, Actor: f.admin, Reason: "IdP down", Delivery: DeliverResetLink}, nil)
	require.NoError(t, err)
	require.Equal(t, n, rep.Count(Done))
	require.Equal(t, 1, rep.Count(Skipped))

	got := userRecords(t, f.trail, "sso.fallback")
	require.Len(t, got, n+1, "every user's record is there when Fallback returns")
	for _, r := range rep.Results {
		rec, ok := got[r.UserID]
		require.True(t, ok, r.Username)
		assert.Equal(t, r.Username, rec.Details["username"])
		assert.Equal(t, "IdP down", rec.Reason)
		assert.Equal(t, f.admin.ID, rec.ActorID)
		want := audit.OutcomeSucceeded
		if r.Outcome == Skipped {
			want = audit.OutcomeSkipped
		}
		assert.Equal(t, want, rec.Outcome, r.Username)
	}
	fallbackBatches := sizes.get()
	assert.Equal(t, n+1, sum(fallbackBatches))
	assert.Less(t, len(fallbackBatches), (n+1)/2, "batched: %v", fallbackBatches)
	for _, s := range fallbackBatches {
		assert.LessOrEqual(t, s, 50)
	}

	rep, err = f.svc.Restore(context.Background(), RestoreRequest{Selection: Selection{Service: "saml", All: true}, Actor: f.admin}, nil)
	require.NoError(t, err)
	require.Equal(t, n, rep.Count(Done))
	assert.Len(t, userRecords(t, f.trail, "sso.restore"), n)
	assert.Equal(t, 2*n+1, sum(sizes.get()))

	res, err := f.trail.Verify()
	require.NoError(t, err)
	assert.True(t, res.OK, res.Problem)
	assert.False(t, res.Pending)
	assert.Equal(t, uint64(2*n+1), res.Last)
}

// TestAuditCompleteAfterCancel: a run cancelled half-way still has every user it processed in
// the trail when it returns; the users it did not reach have no record.
func TestAuditCompleteAfterCancel(t *testing.T) {
	const n = 120
	f := setup(t)
	for i := range n {
		f.mm.add(&model.User{Username: fmt.Sprintf("u%03d", i), AuthService: "saml", AuthData: str(fmt.Sprintf("id-%d", i))})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rep, err := f.svc.Fallback(ctx, FallbackRequest{Selection: Selection{Service: "saml", All: true}, Actor: f.admin, Delivery: DeliverResetLink},
		func(done, _ int) {
			if done == 40 {
				cancel()
			}
		})
	require.NoError(t, err)
	processed := rep.Count(Done)
	require.GreaterOrEqual(t, processed, 40)
	require.Less(t, processed, n, "cancelled before the end")

	got := userRecords(t, f.trail, "sso.fallback")
	assert.Len(t, got, processed)
	for _, r := range rep.Results {
		_, ok := got[r.UserID]
		assert.Equal(t, r.Outcome == Done, ok, "%s: %s", r.Username, r.Detail)
	}
}

// TestAuditQueueFlushesOnItsOwn: a record that no others join is appended after the wait,
// without waiting for the run to end; a full batch goes at once.
func TestAuditQueueFlushesOnItsOwn(t *testing.T) {
	f := setup(t)
	appended := make(chan int, 10)
	f.svc.auditBatchMax, f.svc.auditBatchWait = 3, 20*time.Millisecond
	f.svc.auditAppended = func(n int) { appended <- n }
	q := f.svc.startAudit()
	defer q.close()

	q.add(auditEntry("sso.fallback", f.admin, "", UserResult{UserID: "u1", Outcome: Done}))
	select {
	case n := <-appended:
		assert.Equal(t, 1, n)
	case <-time.After(5 * time.Second):
		t.Fatal("a lone record was not appended")
	}
	assert.Len(t, userRecords(t, f.trail, "sso.fallback"), 1)

	f.svc.auditBatchWait = time.Hour // a full batch must not wait for it
	q2 := f.svc.startAudit()
	defer q2.close()
	for _, id := range []string{"u2", "u3", "u4"} {
		q2.add(auditEntry("sso.fallback", f.admin, "", UserResult{UserID: id, Outcome: Done}))
	}
	select {
	case n := <-appended:
		assert.Equal(t, 3, n)
	case <-time.After(5 * time.Second):
		t.Fatal("a full batch was not appended")
	}
	assert.Len(t, userRecords(t, f.trail, "sso.fallback"), 4)
}
