package opensearchccr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Replication states of a follower index, as _status reports them.
const (
	StateSyncing       = "SYNCING"
	StateBootstrapping = "BOOTSTRAPPING"
	StatePaused        = "PAUSED"
	StateFailed        = "FAILED"
	StateStopped       = "STOPPED"
	// StateNotInProgress is the answer for an index that is not a follower (or does not
	// exist).
	StateNotInProgress = "REPLICATION NOT IN PROGRESS"
)

const base = "/_plugins/_replication/"

// Status is the replication status of one follower index.
type Status struct {
	Status        string            `json:"status"`
	Reason        string            `json:"reason,omitempty"`
	LeaderAlias   string            `json:"leader_alias,omitempty"`
	LeaderIndex   string            `json:"leader_index,omitempty"`
	FollowerIndex string            `json:"follower_index,omitempty"`
	Syncing       *SyncingDetails   `json:"syncing_details,omitempty"`
	Bootstrap     *BootstrapDetails `json:"bootstrap_details,omitempty"`
}

// SyncingDetails are the checkpoints of a syncing follower, summed over its shards.
type SyncingDetails struct {
	LeaderCheckpoint   int64 `json:"leader_checkpoint"`
	FollowerCheckpoint int64 `json:"follower_checkpoint"`
	SeqNo              int64 `json:"seq_no"`
}

// BootstrapDetails are the progress of the initial copy of a follower.
type BootstrapDetails struct {
	BytesTotal     int64   `json:"bytes_total"`
	BytesRecovered int64   `json:"bytes_recovered"`
	BytesPercent   float64 `json:"bytes_percent"`
	FilesTotal     int64   `json:"files_total"`
	FilesRecovered int64   `json:"files_recovered"`
	FilesPercent   float64 `json:"files_percent"`
	StartTime      int64   `json:"start_time"`   // epoch milliseconds
	RunningTime    int64   `json:"running_time"` // milliseconds
}

// Lag is how many operations the follower is behind its leader; ok is false when _status
// gave no checkpoints (the index is not syncing).
func (s Status) Lag() (ops int64, ok bool) {
	if s.Syncing == nil {
		return 0, false
	}
	return max(0, s.Syncing.LeaderCheckpoint-s.Syncing.FollowerCheckpoint), true
}

// Status returns the replication status of a follower index.
func (c *Client) Status(ctx context.Context, index string) (Status, error) {
	if err := checkIndex(index); err != nil {
		return Status{}, fmt.Errorf("replication status: %w", err)
	}
	var s Status
	if err := c.call(ctx, http.MethodGet, base+url.PathEscape(index)+"/_status", nil, &s); err != nil {
		return Status{}, fmt.Errorf("replication status of %s: %w", index, err)
	}
	if s.Status == "" {
		return Status{}, fmt.Errorf("replication status of %s: the answer has no status", index)
	}
	return s, nil
}

// AutoFollowStats are the auto-follow rules of a follower cluster and how they fared.
type AutoFollowStats struct {
	SuccessStart      int64            `json:"num_success_start_replication"`
	FailedStart       int64            `json:"num_failed_start_replication"`
	FailedLeaderCalls int64            `json:"num_failed_leader_calls"`
	FailedIndices     []string         `json:"failed_indices"`
	Rules             []AutoFollowRule `json:"autofollow_stats"`
}

// AutoFollowRule is one rule's stats. FailedStart counts the failures of its last run;
// FailedIndices are the leader indices it could not start (retried later by the plugin).
type AutoFollowRule struct {
	Name              string   `json:"name"`
	Pattern           string   `json:"pattern"`
	SuccessStart      int64    `json:"num_success_start_replication"`
	FailedStart       int64    `json:"num_failed_start_replication"`
	FailedLeaderCalls int64    `json:"num_failed_leader_calls"`
	FailedIndices     []string `json:"failed_indices"`
	LastExecutionTime int64    `json:"last_execution_time,omitempty"` // epoch milliseconds
}

// AutoFollowStats returns the auto-follow rules and their stats (follower cluster).
func (c *Client) AutoFollowStats(ctx context.Context) (AutoFollowStats, error) {
	var s AutoFollowStats
	if err := c.call(ctx, http.MethodGet, base+"autofollow_stats", nil, &s); err != nil {
		return AutoFollowStats{}, fmt.Errorf("auto-follow stats: %w", err)
	}
	return s, nil
}

// FollowerOperations are the replication counters of a follower (cluster or index).
type FollowerOperations struct {
	OperationsWritten      int64 `json:"operations_written"`
	OperationsRead         int64 `json:"operations_read"`
	FailedReadRequests     int64 `json:"failed_read_requests"`
	ThrottledReadRequests  int64 `json:"throttled_read_requests"`
	FailedWriteRequests    int64 `json:"failed_write_requests"`
	ThrottledWriteRequests int64 `json:"throttled_write_requests"`
	FollowerCheckpoint     int64 `json:"follower_checkpoint"`
	LeaderCheckpoint       int64 `json:"leader_checkpoint"`
	TotalWriteTimeMillis   int64 `json:"total_write_time_millis"`
}

// FollowerStats are the follower cluster's replication stats.
type FollowerStats struct {
	Syncing       int `json:"num_syncing_indices"`
	Bootstrapping int `json:"num_bootstrapping_indices"`
	Paused        int `json:"num_paused_indices"`
	Failed        int `json:"num_failed_indices"`
	ShardTasks    int `json:"num_shard_tasks"`
	IndexTasks    int `json:"num_index_tasks"`
	FollowerOperations
	Indices map[string]FollowerOperations `json:"index_stats"`
}

// FollowerStats returns the follower cluster's replication stats.
func (c *Client) FollowerStats(ctx context.Context) (FollowerStats, error) {
	var s FollowerStats
	if err := c.call(ctx, http.MethodGet, base+"follower_stats", nil, &s); err != nil {
		return FollowerStats{}, fmt.Errorf("follower stats: %w", err)
	}
	return s, nil
}

// LeaderOperations are the counters of what followers read from a leader (cluster or index).
type LeaderOperations struct {
	OperationsRead              int64 `json:"operations_read"`
	TranslogSizeBytes           int64 `json:"translog_size_bytes"`
	OperationsReadLucene        int64 `json:"operations_read_lucene"`
	OperationsReadTranslog      int64 `json:"operations_read_translog"`
	TotalReadTimeLuceneMillis   int64 `json:"total_read_time_lucene_millis"`
	TotalReadTimeTranslogMillis int64 `json:"total_read_time_translog_millis"`
	BytesRead                   int64 `json:"bytes_read"`
}

// LeaderStats are the leader cluster's replication stats.
type LeaderStats struct {
	ReplicatedIndices int `json:"num_replicated_indices"`
	LeaderOperations
	Indices map[string]LeaderOperations `json:"index_stats"`
}

// LeaderStats returns the replication stats of a leader cluster (call it on the leader).
func (c *Client) LeaderStats(ctx context.Context) (LeaderStats, error) {
	var s LeaderStats
	if err := c.call(ctx, http.MethodGet, base+"leader_stats", nil, &s); err != nil {
		return LeaderStats{}, fmt.Errorf("leader stats: %w", err)
	}
	return s, nil
}

// Index is one row of _cat/indices.
type Index struct {
	Health       string `json:"health"`
	Status       string `json:"status"` // open, close
	Name         string `json:"index"`
	UUID         string `json:"uuid"`
	Primaries    string `json:"pri"`
	Replicas     string `json:"rep"`
	DocsCount    string `json:"docs.count"`
	DocsDeleted  string `json:"docs.deleted"`
	StoreSize    string `json:"store.size"`
	PriStoreSize string `json:"pri.store.size"`
}

// Indices lists the cluster's indices matching pattern ("" for all). OpenSearch leaves hidden
// indices out; dot-prefixed system indices that are not hidden are listed.
func (c *Client) Indices(ctx context.Context, pattern string) ([]Index, error) {
	p := "/_cat/indices"
	if pattern != "" {
		p += "/" + url.PathEscape(pattern)
	}
	var out []Index
	if err := c.call(ctx, http.MethodGet, p+"?format=json", nil, &out); err != nil {
		// A pattern matching nothing is an empty list, not an error.
		if StatusOf(err) == http.StatusNotFound && strings.Contains(pattern, "*") {
			return nil, nil
		}
		return nil, fmt.Errorf("list indices: %w", err)
	}
	return out, nil
}

// Roles are the security roles replication runs with on each cluster.
type Roles struct {
	LeaderClusterRole   string `json:"leader_cluster_role"`
	FollowerClusterRole string `json:"follower_cluster_role"`
}

// Start starts replicating leaderIndex of the remote cluster leaderAlias into index, which
// must not exist yet. roles may be nil when the clusters have no security plugin.
func (c *Client) Start(ctx context.Context, index, leaderAlias, leaderIndex string, roles *Roles) error {
	if err := errors.Join(checkIndex(index), checkIndex(leaderIndex)); err != nil {
		return fmt.Errorf("start replication: %w", err)
	}
	if leaderAlias == "" {
		return fmt.Errorf("start replication of %s: the leader alias is required", index)
	}
	body := map[string]any{"leader_alias": leaderAlias, "leader_index": leaderIndex}
	if roles != nil {
		body["use_roles"] = roles
	}
	if err := c.acknowledged(ctx, http.MethodPut, base+url.PathEscape(index)+"/_start", body); err != nil {
		return fmt.Errorf("start replication of %s:%s into %s: %w", leaderAlias, leaderIndex, index, err)
	}
	return nil
}

// Stop stops replication into index, which becomes a regular writable index.
func (c *Client) Stop(ctx context.Context, index string) error {
	return c.indexAction(ctx, index, "_stop", "stop")
}

// Pause pauses replication into index.
func (c *Client) Pause(ctx context.Context, index string) error {
	return c.indexAction(ctx, index, "_pause", "pause")
}

// Resume resumes paused replication into index.
func (c *Client) Resume(ctx context.Context, index string) error {
	return c.indexAction(ctx, index, "_resume", "resume")
}

func (c *Client) indexAction(ctx context.Context, index, action, verb string) error {
	if err := checkIndex(index); err != nil {
		return fmt.Errorf("%s replication: %w", verb, err)
	}
	if err := c.acknowledged(ctx, http.MethodPost, base+url.PathEscape(index)+"/"+action, map[string]any{}); err != nil {
		return fmt.Errorf("%s replication of %s: %w", verb, index, err)
	}
	return nil
}

// AddAutoFollow adds (or replaces) the auto-follow rule name: every leader index matching
// pattern on the remote cluster leaderAlias gets replicated into an index of the same name.
func (c *Client) AddAutoFollow(ctx context.Context, leaderAlias, name, pattern string, roles *Roles) error {
	if leaderAlias == "" || name == "" || pattern == "" {
		return errors.New("add auto-follow rule: the leader alias, rule name and pattern are required")
	}
	if pattern == "*" || strings.HasPrefix(pattern, ".") {
		// Replicating everything would take the hidden and system indices too.
		return fmt.Errorf("add auto-follow rule %s: pattern %q would replicate system indices", name, pattern)
	}
	body := map[string]any{"leader_alias": leaderAlias, "name": name, "pattern": pattern}
	if roles != nil {
		body["use_roles"] = roles
	}
	if err := c.acknowledged(ctx, http.MethodPost, base+"_autofollow", body); err != nil {
		return fmt.Errorf("add auto-follow rule %s (%s from %s): %w", name, pattern, leaderAlias, err)
	}
	return nil
}

// DeleteAutoFollow removes an auto-follow rule; the indices it started keep replicating.
func (c *Client) DeleteAutoFollow(ctx context.Context, leaderAlias, name string) error {
	if leaderAlias == "" || name == "" {
		return errors.New("delete auto-follow rule: the leader alias and rule name are required")
	}
	body := map[string]string{"leader_alias": leaderAlias, "name": name}
	if err := c.acknowledged(ctx, http.MethodDelete, base+"_autofollow", body); err != nil {
		return fmt.Errorf("delete auto-follow rule %s of %s: %w", name, leaderAlias, err)
	}
	return nil
}

// DeleteIndex deletes one index. It refuses wildcards, _all and dot-prefixed (system)
// indices: reversing replication deletes Mattermost's indices, never anything else.
func (c *Client) DeleteIndex(ctx context.Context, index string) error {
	if err := checkIndex(index); err != nil {
		return fmt.Errorf("delete index: %w", err)
	}
	if strings.HasPrefix(index, ".") {
		return fmt.Errorf("delete index %s: refusing to delete a system index", index)
	}
	if err := c.call(ctx, http.MethodDelete, "/"+url.PathEscape(index), nil, nil); err != nil {
		return fmt.Errorf("delete index %s: %w", index, err)
	}
	return nil
}

// Refresh makes recent writes to indices (all indices when none) searchable.
func (c *Client) Refresh(ctx context.Context, indices ...string) error {
	p := "/_refresh"
	escaped := make([]string, 0, len(indices))
	for _, ix := range indices {
		if err := checkIndex(ix); err != nil {
			return fmt.Errorf("refresh: %w", err)
		}
		escaped = append(escaped, url.PathEscape(ix))
	}
	if len(indices) > 0 {
		p = "/" + strings.Join(escaped, ",") + "/_refresh"
	}
	if err := c.call(ctx, http.MethodPost, p, nil, nil); err != nil {
		return fmt.Errorf("refresh %s: %w", describeIndices(indices), err)
	}
	return nil
}

func describeIndices(indices []string) string {
	if len(indices) == 0 {
		return "all indices"
	}
	return strings.Join(indices, ",")
}
