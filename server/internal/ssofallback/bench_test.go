package ssofallback

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/mattermost/mattermost/server/public/pluginapi"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
)

// rpcKV gives each KV call the round trip of the plugin KV store (plugin RPC to the server,
// then one SQL statement) and counts the calls by key family.
type rpcKV struct {
	*pluginapi.MemoryStore
	delay time.Duration
	mu    sync.Mutex
	calls map[string]int
}

func (k *rpcKV) count(key string) {
	time.Sleep(k.delay)
	family := key
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		family = key[:i+1]
	}
	k.mu.Lock()
	k.calls[family]++
	k.mu.Unlock()
}

func (k *rpcKV) Set(key string, value any, options ...pluginapi.KVSetOption) (bool, error) {
	k.count(key)
	return k.MemoryStore.Set(key, value, options...)
}

func (k *rpcKV) Get(key string, o any) error {
	k.count(key)
	return k.MemoryStore.Get(key, o)
}

// BenchmarkFallbackRestore: a fallback and a restore of 1,000 users with 8 workers (as the
// plugin runs them) over a KV store with a round trip per call; reports users/s and the KV
// calls per user of each key family. The server calls are the in-memory fake's.
func BenchmarkFallbackRestore(b *testing.B) {
	const users = 1000
	for _, delay := range []time.Duration{0, 500 * time.Microsecond} {
		b.Run(fmt.Sprintf("kv-rtt=%v", delay), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				mm := newFake()
				for i := range users {
					mm.add(&model.User{Username: fmt.Sprintf("u%04d", i), AuthService: "saml", AuthData: str(fmt.Sprintf("id-%d", i))})
				}
				kv := &rpcKV{MemoryStore: &pluginapi.MemoryStore{}, delay: delay, calls: map[string]int{}}
				svc := New(mm, kv, audit.New(kv, "node-1"), 8)
				actor := Actor{ID: model.NewId(), Username: "admin"}
				b.StartTimer()
				start := time.Now()
				rep, err := svc.Fallback(context.Background(), FallbackRequest{Selection: Selection{Service: "saml", All: true}, Actor: actor, Delivery: DeliverResetLink}, nil)
				if err != nil || rep.Count(Done) != users {
					b.Fatalf("fallback: %v, %d done", err, rep.Count(Done))
				}
				rep, err = svc.Restore(context.Background(), RestoreRequest{Selection: Selection{Service: "saml", All: true}, Actor: actor}, nil)
				if err != nil || rep.Count(Done) != users {
					b.Fatalf("restore: %v, %d done", err, rep.Count(Done))
				}
				b.ReportMetric(float64(2*users)/time.Since(start).Seconds(), "users/s")
				for family, n := range kv.calls {
					b.ReportMetric(float64(n)/float64(2*users), "kv:"+family+"/user")
				}
			}
		})
	}
}
