// Package opensearchfake is an HTTP test server that answers like an OpenSearch cluster with
// the cross-cluster replication plugin and the security plugin: the _plugins/_replication
// endpoints, _cat/indices, index deletion and _refresh, with the JSON shapes, status codes and
// error bodies OpenSearch uses. Two fakes linked with Connect stand for a leader and a follower
// cluster: a follower's checkpoints follow its leader's, and its auto-follow rules start
// replicating the leader's matching indices. Tests script states (bootstrapping, paused,
// failed, lagging) and faults (wrong password, 403, 5xx, hangs) through the Go API.
package opensearchfake

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Replication states, as the plugin's _status spells them.
const (
	Syncing       = "SYNCING"
	Bootstrapping = "BOOTSTRAPPING"
	Paused        = "PAUSED"
	Failed        = "FAILED"
	NotInProgress = "REPLICATION NOT IN PROGRESS"
)

// Options configure a fake cluster.
type Options struct {
	// Name is the cluster name (default "opensearch").
	Name string
	// Username and Password turn on the security plugin's basic authentication.
	Username, Password string
	// TLS serves HTTPS with a self-signed certificate (see CACertPEM).
	TLS bool
}

// FaultKind is what a scripted fault answers.
type FaultKind int

const (
	// FaultServer answers Fault.Status (default 500) with an OpenSearch error body.
	FaultServer FaultKind = iota + 1
	// FaultForbidden answers 403 security_exception, as the security plugin does when the
	// user's roles lack a permission.
	FaultForbidden
	// FaultHang never answers.
	FaultHang
)

// Fault is a scripted failure for requests whose path starts with PathPrefix ("" for all);
// Count limits how many requests fail (0: until ClearFaults).
type Fault struct {
	PathPrefix string
	Kind       FaultKind
	Status     int
	Count      int
}

// Cluster is one fake OpenSearch cluster.
type Cluster struct {
	URL  string
	Name string
	// BootstrapPolls is how many _status calls a new follower index answers BOOTSTRAPPING
	// before SYNCING (default 0: syncing at once).
	BootstrapPolls int

	opts Options
	srv  *httptest.Server
	done chan struct{}
	once sync.Once

	mu        sync.Mutex
	indices   map[string]*index
	remotes   map[string]*Cluster
	followers []*Cluster
	rules     []*rule
	failStart map[string]string // leader index → why auto-follow cannot start it
	faults    []*Fault
	requests  []string
}

type index struct {
	name, uuid     string
	hidden, closed bool
	// checkpoint is the index's global checkpoint: the highest sequence number written,
	// -1 when empty. A follower's own is derived from its leader's.
	checkpoint int64
	follow     *follow
}

type follow struct {
	alias, leaderIndex string
	state, reason      string
	bootstrapLeft      int
	lag                int64 // operations the follower stays behind while syncing
	frozen             int64 // follower checkpoint while paused or failed
	roles              map[string]string
	started            time.Time
}

type rule struct {
	alias, name, pattern string
	roles                map[string]string
	success, failCount   int64
	failed               []string
	lastRun              time.Time
}

// New starts a fake cluster, closed when the test ends.
func New(tb testing.TB, o Options) *Cluster {
	if o.Name == "" {
		o.Name = "opensearch"
	}
	c := &Cluster{
		Name: o.Name, opts: o, done: make(chan struct{}),
		indices: map[string]*index{}, remotes: map[string]*Cluster{}, failStart: map[string]string{},
	}
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(c.serveHTTP))
	// Handshakes refused by clients that do not trust the test CA are expected: keep them
	// out of the test output.
	c.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if o.TLS {
		c.srv.StartTLS()
	} else {
		c.srv.Start()
	}
	c.URL = c.srv.URL
	if tb != nil {
		tb.Cleanup(c.Close)
	}
	return c
}

// Close releases hanging requests and stops the server.
func (c *Cluster) Close() {
	c.once.Do(func() {
		close(c.done)
		c.srv.Close()
	})
}

// CACertPEM returns the PEM certificate a TLS fake serves with, for clients to trust.
func (c *Cluster) CACertPEM() []byte {
	if c.srv.Certificate() == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.srv.Certificate().Raw})
}

// Connect makes leader reachable from c as remote cluster alias (cluster.remote.<alias>).
func (c *Cluster) Connect(alias string, leader *Cluster) {
	c.mu.Lock()
	c.remotes[alias] = leader
	c.mu.Unlock()
	leader.mu.Lock()
	leader.followers = append(leader.followers, c)
	leader.mu.Unlock()
}

// IndexSpec describes an index to create.
type IndexSpec struct {
	Name   string
	Hidden bool // index.hidden: left out of wildcard expansion and _cat/indices by default
	Closed bool
	Docs   int64 // documents already written
}

// CreateIndex creates a regular (not replicated) index.
func (c *Cluster) CreateIndex(spec IndexSpec) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.indices[spec.Name] = &index{name: spec.Name, uuid: uuid(), hidden: spec.Hidden, closed: spec.Closed, checkpoint: spec.Docs - 1}
}

// Write indexes ops documents into a regular index, moving its checkpoint on.
func (c *Cluster) Write(name string, ops int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ix := c.indices[name]
	if ix == nil || ix.follow != nil {
		panic("opensearchfake: cannot write to " + name + ": missing or a follower index")
	}
	ix.checkpoint += ops
}

// SetFollowerState scripts the replication state of a follower index: Syncing,
// Bootstrapping, Paused or Failed, with the reason _status shows.
func (c *Cluster) SetFollowerState(name, state, reason string) {
	lc := c.leaderCheckpointOf(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.mustFollow(name)
	if f.state == Syncing || f.state == Bootstrapping {
		f.frozen = max(-1, lc-f.lag)
	}
	f.state, f.reason = state, reason
	if state == Bootstrapping && f.bootstrapLeft == 0 {
		f.bootstrapLeft = 1
	}
}

// SetLag makes a syncing follower index stay ops operations behind its leader.
func (c *Cluster) SetLag(name string, ops int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mustFollow(name).lag = ops
}

// FailAutoFollow makes auto-follow fail to start replicating leaderIndex (as when the
// follower's role lacks a permission); "" clears it.
func (c *Cluster) FailAutoFollow(leaderIndex, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if reason == "" {
		delete(c.failStart, leaderIndex)
		return
	}
	c.failStart[leaderIndex] = reason
}

// FollowerState returns the replication state of an index ("" when it is not a follower)
// and whether it exists.
func (c *Cluster) FollowerState(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ix := c.indices[name]
	if ix == nil {
		return "", false
	}
	if ix.follow == nil {
		return "", true
	}
	return ix.follow.state, true
}

// IndexNames lists the cluster's indices, hidden ones included.
func (c *Cluster) IndexNames() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return sortedKeys(c.indices)
}

// AutoFollowRules lists the rules as "alias/name pattern".
func (c *Cluster) AutoFollowRules() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.rules {
		out = append(out, r.alias+"/"+r.name+" "+r.pattern)
	}
	return out
}

// Inject adds a scripted fault.
func (c *Cluster) Inject(f Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = append(c.faults, &f)
}

// ClearFaults removes every scripted fault.
func (c *Cluster) ClearFaults() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = nil
}

// Requests lists the requests received, as "METHOD /path".
func (c *Cluster) Requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.requests)
}

func (c *Cluster) mustFollow(name string) *follow {
	ix := c.indices[name]
	if ix == nil || ix.follow == nil {
		panic("opensearchfake: " + name + " is not a follower index")
	}
	return ix.follow
}

// leaderCheckpointOf returns the checkpoint of the leader index a follower index follows
// (-1 when unknown). It must be called without c.mu held: it locks the leader, and two
// clusters may follow each other.
func (c *Cluster) leaderCheckpointOf(name string) int64 {
	c.mu.Lock()
	ix := c.indices[name]
	var leader *Cluster
	var leaderIndex string
	if ix != nil && ix.follow != nil {
		leader, leaderIndex = c.remotes[ix.follow.alias], ix.follow.leaderIndex
	}
	c.mu.Unlock()
	if leader == nil {
		return -1
	}
	cp, _ := leader.checkpoint(leaderIndex)
	return cp
}

func (c *Cluster) checkpoint(name string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ix := c.indices[name]
	if ix == nil {
		return -1, false
	}
	return ix.checkpoint, true
}

// matching lists the open, non-hidden indices matching an index pattern (comma-separated
// wildcards), as a lenient wildcard expansion does. A pattern starting with "." also matches
// hidden indices.
func (c *Cluster) matching(pattern string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, name := range sortedKeys(c.indices) {
		ix := c.indices[name]
		if ix.closed {
			continue
		}
		for _, p := range strings.Split(pattern, ",") {
			p = strings.TrimSpace(p)
			if pathMatch(p, name) && (!ix.hidden || strings.HasPrefix(p, ".")) {
				out = append(out, name)
				break
			}
		}
	}
	return out
}

// followerCheckpoint is what the follower has applied, given its leader's checkpoint.
func (f *follow) followerCheckpoint(leader int64) int64 {
	switch f.state {
	case Syncing:
		return max(-1, leader-f.lag)
	case Bootstrapping:
		return -1
	default:
		return f.frozen
	}
}

// runAutoFollow does what the plugin's auto-follow task does on each poll: start replicating
// every leader index matching a rule that has no index of the same name here. It runs before
// each request and after it, standing for the plugin's 30 s poll.
func (c *Cluster) runAutoFollow() {
	c.mu.Lock()
	type job struct {
		r      *rule
		leader *Cluster
	}
	var jobs []job
	for _, r := range c.rules {
		if l := c.remotes[r.alias]; l != nil {
			jobs = append(jobs, job{r, l})
		}
	}
	c.mu.Unlock()
	for _, j := range jobs {
		names := j.leader.matching(j.r.pattern)
		c.mu.Lock()
		j.r.failCount, j.r.lastRun = 0, time.Now()
		for _, name := range names {
			if c.indices[name] != nil {
				continue // the plugin skips indices that exist here, silently
			}
			if _, fails := c.failStart[name]; fails {
				j.r.failCount++
				if !slices.Contains(j.r.failed, name) {
					j.r.failed = append(j.r.failed, name)
				}
				continue
			}
			c.startFollowing(name, j.r.alias, name, j.r.roles)
			j.r.success++
			j.r.failed = slices.DeleteFunc(j.r.failed, func(s string) bool { return s == name })
		}
		c.mu.Unlock()
	}
}

// startFollowing creates a follower index; c.mu must be held.
func (c *Cluster) startFollowing(name, alias, leaderIndex string, roles map[string]string) {
	c.indices[name] = &index{name: name, uuid: uuid(), checkpoint: -1, follow: &follow{
		alias: alias, leaderIndex: leaderIndex, state: Bootstrapping, reason: "User initiated",
		bootstrapLeft: c.BootstrapPolls, frozen: -1, roles: roles, started: time.Now(),
	}}
	if c.BootstrapPolls == 0 {
		c.indices[name].follow.state = Syncing
	}
}

func (c *Cluster) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if c.opts.Username != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != c.opts.Username || p != c.opts.Password {
			// What the security plugin answers to missing or wrong credentials.
			w.Header().Set("WWW-Authenticate", `Basic realm="OpenSearch Security"`)
			w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte("Unauthorized"))
			return
		}
	}
	c.mu.Lock()
	c.requests = append(c.requests, r.Method+" "+r.URL.Path)
	var hit *Fault
	for i, f := range c.faults {
		if strings.HasPrefix(r.URL.Path, f.PathPrefix) {
			hit = f
			if f.Count > 0 {
				if f.Count--; f.Count == 0 {
					c.faults = append(c.faults[:i:i], c.faults[i+1:]...)
				}
			}
			break
		}
	}
	c.mu.Unlock()
	if hit != nil {
		c.answerFault(w, r, hit)
		return
	}
	c.runAutoFollow()
	c.route(w, r)
	// A rule just added starts its first poll at once, as the plugin's task does.
	c.runAutoFollow()
}

func (c *Cluster) answerFault(w http.ResponseWriter, r *http.Request, f *Fault) {
	switch f.Kind {
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-c.done:
		}
		// Drop the connection without an answer, as a server that dies mid-request does.
		panic(http.ErrAbortHandler)
	case FaultForbidden:
		user := c.opts.Username
		writeError(w, http.StatusForbidden, "security_exception",
			"no permissions for [cluster:admin/plugins/replication] and User [name="+user+", backend_roles=[], requestedTenant=null]", nil)
	default:
		status := f.Status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		typ, reason := "exception", "Internal error"
		if status == http.StatusServiceUnavailable {
			typ, reason = "cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];"
		}
		writeError(w, status, typ, reason, nil)
	}
}

// writeError writes OpenSearch's error document:
// {"error":{"root_cause":[{…}],"type":…,"reason":…},"status":…}.
func writeError(w http.ResponseWriter, status int, typ, reason string, extra map[string]any) {
	cause := map[string]any{"type": typ, "reason": reason}
	for k, v := range extra {
		cause[k] = v
	}
	top := map[string]any{"root_cause": []any{cause}}
	for k, v := range cause {
		top[k] = v
	}
	writeJSON(w, status, map[string]any{"error": top, "status": status})
}

func indexNotFound(w http.ResponseWriter, name string) {
	writeError(w, http.StatusNotFound, "index_not_found_exception", "no such index ["+name+"]",
		map[string]any{"index": name, "resource.type": "index_or_alias", "resource.id": name, "index_uuid": "_na_"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func acknowledged(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, map[string]bool{"acknowledged": true})
}

func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return strings.TrimRight(base64.RawURLEncoding.EncodeToString(b[:]), "=")[:22]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
