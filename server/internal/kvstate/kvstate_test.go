package kvstate

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/pluginapi"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe/nodes"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/status"
)

// stored are values exactly as earlier versions wrote them (pluginapi's KVService.Set of a
// string, a []byte or a struct), with what they read as today.
func storedByEarlierVersions() []struct {
	key  interface{ spec() Spec }
	raw  string
	want any
} {
	ms := time.UnixMilli(1700000000123)
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	return []struct {
		key  interface{ spec() Spec }
		raw  string
		want any
	}{
		// Unix milliseconds as a JSON string (strconv.FormatInt(t.UnixMilli(), 10) set as a string).
		{LastSuccess, `"1700000000123"`, ms},
		{LastVerified, `"1700000000123"`, ms},
		{BackupSlot, `"1700000000123"`, ms},
		{VerifySlot, `"1700000000123"`, ms},
		{FirstSeen, `"1700000000123"`, ms},
		// JSON inside a JSON string (string(json.Marshal(stats)) set as a string).
		{LastBackupStats, `"{\"size_bytes\":4096,\"duration_seconds\":1.5}"`, BackupStats{SizeBytes: 4096, DurationSeconds: 1.5}},
		// JSON written as raw bytes (json.Marshal(state) set as a []byte).
		{AlertState, `{"posted":"critical","posted_at":"2024-05-06T07:08:09Z","unhealthy_since":"2024-05-06T07:08:09Z"}`,
			status.AlertState{Posted: probe.Critical, PostedAt: at, UnhealthySince: at}},
		// Strings and structs set as such: their JSON.
		{IndexIdentity, `"AGE-SECRET-KEY-1QQQ"`, "AGE-SECRET-KEY-1QQQ"},
		{SigningKey, `"DR-SIGNING-KEY-1:abc"`, "DR-SIGNING-KEY-1:abc"},
		{AnnouncedVersion, `"1.2.3"`, "1.2.3"},
		{AuditPostDay, `"2024-05-06"`, "2024-05-06"},
		{StaleAlerted, `"3"`, "3"},
		{BackupFailAlerted, `"job1"`, "job1"},
		{Pins, `{"b1":true}`, map[string]bool{"b1": true}},
		{LastBackupInfo, `{"id":"b1","local_only":true,"unencrypted_secrets":false}`, BackupInfo{ID: "b1", LocalOnly: true}},
		{Records, `{"b1":{"manifests":{"s3":"ab"},"recorded_at":"2024-05-06T07:08:09Z","adopted_by":"admin"}}`,
			map[string]*BackupRecord{"b1": {Manifests: map[string]string{"s3": "ab"}, RecordedAt: at, AdoptedBy: "admin"}}},
		{FailoverAliveMark, `{"run":"r1","node":"n1","process":42}`, FailoverAlive{Run: "r1", Node: "n1", Process: 42}},
	}
}

func TestValuesOfEarlierVersionsReadAndWriteTheSameBytes(t *testing.T) {
	for _, c := range storedByEarlierVersions() {
		t.Run(c.key.spec().Name, func(t *testing.T) {
			kv := &pluginapi.MemoryStore{}
			if _, err := kv.Set(c.key.spec().Name, []byte(c.raw)); err != nil {
				t.Fatal(err)
			}
			got, err := readAndRewrite(kv, c.key)
			if err != nil {
				t.Fatal(err)
			}
			if w, g := norm(c.want), norm(got); !reflect.DeepEqual(w, g) {
				t.Errorf("read %#v, want %#v", g, w)
			}
			var raw []byte
			if err := kv.Get(c.key.spec().Name, &raw); err != nil || string(raw) != c.raw {
				t.Errorf("rewritten as %s (%v), want %s", raw, err, c.raw)
			}
		})
	}
}

// readAndRewrite reads k and writes back what it read.
func readAndRewrite(kv KV, k any) (any, error) {
	switch k := k.(type) {
	case *Key[time.Time]:
		return rw(kv, k)
	case *Key[string]:
		return rw(kv, k)
	case *Key[BackupStats]:
		return rw(kv, k)
	case *Key[status.AlertState]:
		return rw(kv, k)
	case *Key[map[string]bool]:
		return rw(kv, k)
	case *Key[BackupInfo]:
		return rw(kv, k)
	case *Key[map[string]*BackupRecord]:
		return rw(kv, k)
	case *Key[FailoverAlive]:
		return rw(kv, k)
	}
	return nil, errors.New("no case for this key type")
}

func rw[T any](kv KV, k *Key[T]) (any, error) {
	v, ok, err := k.Get(kv)
	if err != nil || !ok {
		return nil, errors.Join(err, errors.New("not found"))
	}
	return v, k.Set(kv, v)
}

// norm drops the monotonic clock and location of times, which equal values need not share.
func norm(v any) any {
	if t, ok := v.(time.Time); ok {
		return t.UnixMilli()
	}
	return v
}

func TestNodeReportsAsEarlierVersionsWroteThem(t *testing.T) {
	kv := &pluginapi.MemoryStore{}
	r := nodes.NodeReport{NodeID: "n1", Hostname: "n1", Region: "eu", ReportedAt: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)}
	if _, err := kv.Set("nodes/n1", r); err != nil { // as plugin/status.go wrote it
		t.Fatal(err)
	}
	got, ok, err := NodeReports.Key(NodeReports.ID("nodes/n1")).Get(kv)
	if err != nil || !ok || !reflect.DeepEqual(got, r) {
		t.Errorf("got %+v, %v, %v; want %+v", got, ok, err, r)
	}
}

// setRecorder keeps the options of the last Set.
type setRecorder struct {
	pluginapi.MemoryStore
	opts pluginapi.KVSetOptions
}

func (r *setRecorder) Set(key string, value any, options ...pluginapi.KVSetOption) (bool, error) {
	r.opts = pluginapi.KVSetOptions{}
	for _, o := range options {
		o(&r.opts)
	}
	return r.MemoryStore.Set(key, value, options...)
}

func TestLifetimesAreThoseOfEarlierVersions(t *testing.T) {
	kv := &setRecorder{}
	if err := NodeReports.Key("n1").Set(kv, nodes.NodeReport{NodeID: "n1"}); err != nil || kv.opts.ExpireInSeconds != 600 {
		t.Errorf("node report expiry %d s (%v), want 600", kv.opts.ExpireInSeconds, err)
	}
	if err := FailoverAliveMark.Set(kv, FailoverAlive{Run: "r"}); err != nil || kv.opts.ExpireInSeconds != 30 {
		t.Errorf("failover alive expiry %d s (%v), want 30", kv.opts.ExpireInSeconds, err)
	}
	if err := BackupLockWanted.Set(kv, time.Now()); err != nil || kv.opts.ExpireInSeconds != 45 {
		t.Errorf("backup lock wanted expiry %d s (%v), want 45", kv.opts.ExpireInSeconds, err)
	}
	for _, s := range All() {
		if s.Lifetime == "" || s.Owner == "" || s.Doc == "" {
			t.Errorf("%s: owner, lifetime and doc are required", s.Name)
		}
		if s.TTL > 0 && s.Name != NodeReports.Name && s.Name != FailoverAliveMark.Name && s.Owner != "internal/ssofallback" &&
			s.Name != BackupLock.Name && s.Name != BackupLockWanted.Name && s.Name != FailoverLock.Name && s.Name != WALArchiveLock.Name && s.Name != "sso/button/" {
			t.Errorf("%s: unexpected expiry %s", s.Name, s.TTL)
		}
	}
	if _, err := LastSuccess.Create(kv, time.Now()); err != nil || kv.opts.ExpireInSeconds != 0 || !kv.opts.Atomic {
		t.Errorf("create: %+v (%v), want atomic without expiry", kv.opts, err)
	}
}

func TestCompareAndSetAndCreate(t *testing.T) {
	kv := &pluginapi.MemoryStore{}
	if ok, err := AnnouncedVersion.Create(kv, "1"); err != nil || !ok {
		t.Fatalf("create on an empty store: %v %v", ok, err)
	}
	if ok, err := AnnouncedVersion.Create(kv, "2"); err != nil || ok {
		t.Fatalf("create over a value: %v %v", ok, err)
	}
	e, err := AnnouncedVersion.Load(kv)
	if err != nil || !e.OK() || e.Value != "1" {
		t.Fatalf("load: %+v %v", e, err)
	}
	if ok, err := AnnouncedVersion.CompareAndSet(kv, e, "2"); err != nil || !ok {
		t.Fatalf("compare and set: %v %v", ok, err)
	}
	if ok, err := AnnouncedVersion.CompareAndSet(kv, e, "3"); err != nil || ok {
		t.Fatalf("compare and set over a changed value: %v %v", ok, err)
	}
	if err := AnnouncedVersion.Delete(kv); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := AnnouncedVersion.Get(kv); err != nil || ok {
		t.Fatalf("after delete: %v %v", ok, err)
	}
}

func TestUnreadableValue(t *testing.T) {
	kv := &pluginapi.MemoryStore{}
	_, _ = kv.Set(LastSuccess.Name, []byte(`"soon"`))
	if _, _, err := LastSuccess.Get(kv); !errors.Is(err, ErrUnreadable) {
		t.Fatalf("get: %v, want ErrUnreadable", err)
	}
	e, err := LastSuccess.Load(kv)
	if err != nil || e.OK() || !e.Found || !errors.Is(e.Unreadable, ErrUnreadable) {
		t.Fatalf("load: %+v %v", e, err)
	}
	// The unreadable value can be replaced by a compare-and-set against what was read.
	if ok, err := LastSuccess.CompareAndSet(kv, e, time.UnixMilli(5)); err != nil || !ok {
		t.Fatalf("replace: %v %v", ok, err)
	}
	if err := Pins.Update(kv, func(map[string]bool, bool) (map[string]bool, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	_, _ = kv.Set(Pins.Name, []byte(`[1]`))
	if err := Pins.Update(kv, func(map[string]bool, bool) (map[string]bool, error) { return nil, nil }); !errors.Is(err, ErrUnreadable) {
		t.Fatalf("update of an unreadable value: %v", err)
	}
}

func TestUpdate(t *testing.T) {
	kv := &pluginapi.MemoryStore{}
	add := func(id string) error {
		return Pins.Update(kv, func(pins map[string]bool, _ bool) (map[string]bool, error) {
			if pins == nil {
				pins = map[string]bool{}
			}
			pins[id] = true
			return pins, nil
		})
	}
	if err := add("a"); err != nil {
		t.Fatal(err)
	}
	if err := add("b"); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	_ = kv.Get(Pins.Name, &raw)
	want, _ := json.Marshal(map[string]bool{"a": true, "b": true})
	if string(raw) != string(want) {
		t.Errorf("stored %s, want %s", raw, want)
	}
}
