package opensearchfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const replicationPrefix = "/_plugins/_replication/"

func (c *Cluster) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/":
		c.methods(w, r, map[string]func(){http.MethodGet: func() { c.info(w) }})
	case p == replicationPrefix+"_autofollow":
		c.methods(w, r, map[string]func(){
			http.MethodPost:   func() { c.addAutoFollow(w, r) },
			http.MethodDelete: func() { c.deleteAutoFollow(w, r) },
		})
	case p == replicationPrefix+"autofollow_stats":
		c.methods(w, r, map[string]func(){http.MethodGet: func() { c.autoFollowStats(w) }})
	case p == replicationPrefix+"follower_stats":
		c.methods(w, r, map[string]func(){http.MethodGet: func() { c.followerStats(w) }})
	case p == replicationPrefix+"leader_stats":
		c.methods(w, r, map[string]func(){http.MethodGet: func() { c.leaderStats(w) }})
	case strings.HasPrefix(p, replicationPrefix):
		name, action, ok := strings.Cut(strings.TrimPrefix(p, replicationPrefix), "/")
		handlers := map[string]map[string]func(){
			"_start":  {http.MethodPut: func() { c.start(w, r, name) }},
			"_stop":   {http.MethodPost: func() { c.stop(w, name) }},
			"_pause":  {http.MethodPost: func() { c.pause(w, name) }},
			"_resume": {http.MethodPost: func() { c.resume(w, name) }},
			"_status": {http.MethodGet: func() { c.status(w, name, r.URL.Query().Get("verbose") == "true") }},
		}
		if h := handlers[action]; ok && h != nil {
			c.methods(w, r, h)
			return
		}
		noHandler(w, r)
	case p == "/_cat/indices" || strings.HasPrefix(p, "/_cat/indices/"):
		c.methods(w, r, map[string]func(){http.MethodGet: func() { c.catIndices(w, r) }})
	case p == "/_refresh" || strings.HasSuffix(p, "/_refresh"):
		refresh := func() { c.refresh(w, strings.Trim(strings.TrimSuffix(p, "_refresh"), "/")) }
		c.methods(w, r, map[string]func(){http.MethodPost: refresh, http.MethodGet: refresh})
	case strings.Count(p, "/") == 1 && !strings.HasPrefix(p, "/_"):
		c.methods(w, r, map[string]func(){http.MethodDelete: func() { c.deleteIndex(w, strings.TrimPrefix(p, "/")) }})
	default:
		noHandler(w, r)
	}
}

func (c *Cluster) methods(w http.ResponseWriter, r *http.Request, handlers map[string]func()) {
	if h := handlers[r.Method]; h != nil {
		h()
		return
	}
	allowed := make([]string, 0, len(handlers))
	for m := range handlers {
		allowed = append(allowed, m)
	}
	writeJSON(w, http.StatusMethodNotAllowed, map[string]any{
		"error":  fmt.Sprintf("Incorrect HTTP method for uri [%s] and method [%s], allowed: %v", r.URL.RequestURI(), r.Method, allowed),
		"status": http.StatusMethodNotAllowed,
	})
}

func noHandler(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"error":  fmt.Sprintf("no handler found for uri [%s] and method [%s]", r.URL.RequestURI(), r.Method),
		"status": http.StatusBadRequest,
	})
}

func (c *Cluster) info(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, map[string]any{
		"name": c.Name + "-node-1", "cluster_name": c.Name, "cluster_uuid": uuid(),
		"version": map[string]any{
			"distribution": "opensearch", "number": "2.19.1", "build_type": "tar",
			"lucene_version": "9.12.1", "minimum_wire_compatibility_version": "7.10.0",
			"minimum_index_compatibility_version": "7.0.0",
		},
		"tagline": "The OpenSearch Project: https://opensearch.org/",
	})
}

// readBody decodes a JSON request body; it answers the parse error itself.
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	raw, err := io.ReadAll(r.Body)
	if err == nil {
		err = json.Unmarshal(raw, v)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "x_content_parse_exception", "[1:1] failed to parse request body: "+err.Error(), nil)
		return false
	}
	return true
}

type useRoles struct {
	LeaderClusterRole   string `json:"leader_cluster_role"`
	FollowerClusterRole string `json:"follower_cluster_role"`
}

func (u *useRoles) roles() map[string]string {
	if u == nil {
		return nil
	}
	return map[string]string{"leader_cluster_role": u.LeaderClusterRole, "follower_cluster_role": u.FollowerClusterRole}
}

func (c *Cluster) start(w http.ResponseWriter, r *http.Request, name string) {
	var body struct {
		LeaderAlias string    `json:"leader_alias"`
		LeaderIndex string    `json:"leader_index"`
		UseRoles    *useRoles `json:"use_roles"`
	}
	if !readBody(w, r, &body) {
		return
	}
	if body.LeaderAlias == "" || body.LeaderIndex == "" {
		writeError(w, http.StatusBadRequest, "illegal_argument_exception", "Mandatory params [leader_alias, leader_index] are missing for the request", nil)
		return
	}
	c.mu.Lock()
	leader := c.remotes[body.LeaderAlias]
	c.mu.Unlock()
	if leader == nil {
		writeError(w, http.StatusNotFound, "no_such_remote_cluster_exception", "no such remote cluster: ["+body.LeaderAlias+"]", nil)
		return
	}
	if _, ok := leader.checkpoint(body.LeaderIndex); !ok {
		indexNotFound(w, body.LeaderIndex)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.indices[name] != nil {
		writeError(w, http.StatusBadRequest, "illegal_argument_exception", "Cant use same index again for replication. Delete the index:"+name, nil)
		return
	}
	c.startFollowing(name, body.LeaderAlias, body.LeaderIndex, body.UseRoles.roles())
	acknowledged(w)
}

// noReplication is what stop, pause and resume answer for an index that is not a follower.
func noReplication(w http.ResponseWriter, name string) {
	writeError(w, http.StatusBadRequest, "illegal_argument_exception", "No replication in progress for index:"+name, nil)
}

func (c *Cluster) stop(w http.ResponseWriter, name string) {
	lc := c.leaderCheckpointOf(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	ix := c.indices[name]
	if ix == nil || ix.follow == nil {
		noReplication(w, name)
		return
	}
	// The index stays, now a regular writable index holding what it had replicated.
	ix.checkpoint = ix.follow.followerCheckpoint(lc)
	ix.follow = nil
	acknowledged(w)
}

func (c *Cluster) pause(w http.ResponseWriter, name string) {
	lc := c.leaderCheckpointOf(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	ix := c.indices[name]
	switch {
	case ix == nil || ix.follow == nil:
		noReplication(w, name)
	case ix.follow.state == Paused:
		writeError(w, http.StatusBadRequest, "resource_already_exists_exception", "Index "+name+" is already paused", nil)
	case ix.follow.state == Failed:
		writeError(w, http.StatusInternalServerError, "illegal_state_exception", "Unknown value of replication state:"+Failed, nil)
	default:
		ix.follow.frozen = ix.follow.followerCheckpoint(lc)
		ix.follow.state, ix.follow.reason = Paused, "User initiated"
		acknowledged(w)
	}
}

func (c *Cluster) resume(w http.ResponseWriter, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ix := c.indices[name]
	switch {
	case ix == nil || ix.follow == nil:
		noReplication(w, name)
	case ix.follow.state != Paused:
		writeError(w, http.StatusBadRequest, "resource_already_exists_exception", "Replication on Index "+name+" is already running", nil)
	default:
		ix.follow.state, ix.follow.reason = Syncing, "User initiated"
		acknowledged(w)
	}
}

func (c *Cluster) status(w http.ResponseWriter, name string, verbose bool) {
	lc := c.leaderCheckpointOf(name)
	c.mu.Lock()
	ix := c.indices[name]
	if ix == nil || ix.follow == nil {
		c.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]string{"status": NotInProgress})
		return
	}
	f := *ix.follow
	if ix.follow.state == Bootstrapping {
		if ix.follow.bootstrapLeft--; ix.follow.bootstrapLeft <= 0 {
			ix.follow.state = Syncing
		}
	}
	c.mu.Unlock()
	out := map[string]any{
		"status": f.state, "reason": f.reason, "leader_alias": f.alias,
		"leader_index": f.leaderIndex, "follower_index": name,
	}
	switch f.state {
	case Syncing:
		fc := f.followerCheckpoint(lc)
		details := map[string]int64{"leader_checkpoint": lc, "follower_checkpoint": fc, "seq_no": fc + 1}
		out["syncing_details"] = details
		if verbose {
			out["shard_replication_details"] = []any{map[string]any{"shard_id": "[" + name + "][0]", "syncing_task_details": details}}
		}
	case Bootstrapping:
		total := int64(8 << 20)
		pct := float64(50)
		if c.BootstrapPolls > 0 {
			pct = 100 * float64(c.BootstrapPolls-f.bootstrapLeft) / float64(c.BootstrapPolls)
		}
		details := map[string]any{
			"bytes_total": total, "bytes_recovered": int64(float64(total) * pct / 100), "bytes_percent": pct,
			"files_total": 12, "files_recovered": int(12 * pct / 100), "files_percent": pct,
			"start_time": f.started.UnixMilli(), "running_time": time.Since(f.started).Milliseconds(),
		}
		out["bootstrap_details"] = details
		if verbose {
			out["shard_replication_details"] = []any{map[string]any{"shard_id": "[" + name + "][0]", "bootstrap_task_details": details}}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (c *Cluster) addAutoFollow(w http.ResponseWriter, r *http.Request) {
	var body struct {
		LeaderAlias string    `json:"leader_alias"`
		Name        string    `json:"name"`
		Pattern     string    `json:"pattern"`
		UseRoles    *useRoles `json:"use_roles"`
	}
	if !readBody(w, r, &body) {
		return
	}
	if body.LeaderAlias == "" || body.Name == "" || body.Pattern == "" {
		writeError(w, http.StatusBadRequest, "illegal_argument_exception", "Mandatory params [leader_alias, name, pattern] are missing for the request", nil)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.remotes[body.LeaderAlias] == nil {
		writeError(w, http.StatusNotFound, "no_such_remote_cluster_exception", "no such remote cluster: ["+body.LeaderAlias+"]", nil)
		return
	}
	nr := &rule{alias: body.LeaderAlias, name: body.Name, pattern: body.Pattern, roles: body.UseRoles.roles()}
	for i, x := range c.rules {
		if x.alias == nr.alias && x.name == nr.name {
			c.rules[i] = nr
			acknowledged(w)
			return
		}
	}
	c.rules = append(c.rules, nr)
	acknowledged(w)
}

func (c *Cluster) deleteAutoFollow(w http.ResponseWriter, r *http.Request) {
	var body struct {
		LeaderAlias string `json:"leader_alias"`
		Name        string `json:"name"`
	}
	if !readBody(w, r, &body) {
		return
	}
	if body.LeaderAlias == "" || body.Name == "" {
		writeError(w, http.StatusBadRequest, "illegal_argument_exception", "Mandatory params [leader_alias, name] are missing for the request", nil)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.rules {
		if x.alias == body.LeaderAlias && x.name == body.Name {
			c.rules = append(c.rules[:i:i], c.rules[i+1:]...)
			break
		}
	}
	// The plugin acknowledges the removal of a rule that does not exist too.
	acknowledged(w)
}

func (c *Cluster) autoFollowStats(w http.ResponseWriter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var success, fails int64
	failed := []string{}
	stats := []any{}
	for _, r := range c.rules {
		success += r.success
		fails += r.failCount
		failed = append(failed, r.failed...)
		stats = append(stats, map[string]any{
			"name": r.name, "pattern": r.pattern, "num_success_start_replication": r.success,
			"num_failed_start_replication": r.failCount, "num_failed_leader_calls": 0,
			"failed_indices": append([]string{}, r.failed...), "last_execution_time": r.lastRun.UnixMilli(),
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"num_success_start_replication": success, "num_failed_start_replication": fails,
		"num_failed_leader_calls": 0, "failed_indices": failed, "autofollow_stats": stats,
	})
}

type followedIndex struct {
	name string
	f    follow
	lc   int64
}

// followed lists the follower indices with their leaders' checkpoints; leader nil means all
// leaders. It locks other clusters only with c.mu released.
func (c *Cluster) followed(leader *Cluster) []followedIndex {
	c.mu.Lock()
	var out []followedIndex
	for _, name := range sortedKeys(c.indices) {
		ix := c.indices[name]
		if ix.follow == nil || (leader != nil && c.remotes[ix.follow.alias] != leader) {
			continue
		}
		out = append(out, followedIndex{name: name, f: *ix.follow})
	}
	remotes := make(map[string]*Cluster, len(c.remotes))
	for k, v := range c.remotes {
		remotes[k] = v
	}
	c.mu.Unlock()
	for i := range out {
		out[i].lc = -1
		if l := remotes[out[i].f.alias]; l != nil {
			out[i].lc, _ = l.checkpoint(out[i].f.leaderIndex)
		}
	}
	return out
}

func (c *Cluster) followerStats(w http.ResponseWriter) {
	counts := map[string]int{}
	total := map[string]int64{}
	indexStats := map[string]any{}
	for _, fi := range c.followed(nil) {
		counts[fi.f.state]++
		if fi.f.state != Syncing {
			continue // only running shard tasks report stats
		}
		fc := fi.f.followerCheckpoint(fi.lc)
		s := map[string]int64{
			"operations_written": fc + 1, "operations_read": fc + 1, "failed_read_requests": 0,
			"throttled_read_requests": 0, "failed_write_requests": 0, "throttled_write_requests": 0,
			"follower_checkpoint": fc, "leader_checkpoint": fi.lc, "total_write_time_millis": 3 * (fc + 1),
		}
		for k, v := range s {
			total[k] += v
		}
		indexStats[fi.name] = s
	}
	out := map[string]any{
		"num_syncing_indices": counts[Syncing], "num_bootstrapping_indices": counts[Bootstrapping],
		"num_paused_indices": counts[Paused], "num_failed_indices": counts[Failed],
		"num_shard_tasks": counts[Syncing], "num_index_tasks": counts[Syncing] + counts[Bootstrapping],
		"index_stats": indexStats,
	}
	for _, k := range []string{"operations_written", "operations_read", "failed_read_requests", "throttled_read_requests",
		"failed_write_requests", "throttled_write_requests", "follower_checkpoint", "leader_checkpoint", "total_write_time_millis"} {
		out[k] = total[k]
	}
	writeJSON(w, http.StatusOK, out)
}

func (c *Cluster) leaderStats(w http.ResponseWriter) {
	c.mu.Lock()
	followers := append([]*Cluster(nil), c.followers...)
	c.mu.Unlock()
	indexStats := map[string]map[string]int64{}
	for _, f := range followers {
		for _, fi := range f.followed(c) {
			fc := fi.f.followerCheckpoint(fi.lc)
			s := indexStats[fi.f.leaderIndex]
			if s == nil {
				s = map[string]int64{}
				indexStats[fi.f.leaderIndex] = s
			}
			s["operations_read"] += fc + 1
			s["operations_read_lucene"] += 0
			s["operations_read_translog"] += fc + 1
			s["total_read_time_lucene_millis"] += 0
			s["total_read_time_translog_millis"] += fc + 1
			s["bytes_read"] += 512 * (fc + 1)
			s["translog_size_bytes"] = 55 * (fi.lc + 1)
		}
	}
	out := map[string]any{"num_replicated_indices": len(indexStats), "index_stats": indexStats}
	for _, k := range []string{"operations_read", "translog_size_bytes", "operations_read_lucene", "operations_read_translog",
		"total_read_time_lucene_millis", "total_read_time_translog_millis", "bytes_read"} {
		var sum int64
		for _, s := range indexStats {
			sum += s[k]
		}
		out[k] = sum
	}
	writeJSON(w, http.StatusOK, out)
}

// catIndices answers _cat/indices. Like OpenSearch, it leaves hidden indices out unless
// expand_wildcards asks for them (all, or hidden), and answers text unless format=json.
func (c *Cluster) catIndices(w http.ResponseWriter, r *http.Request) {
	pattern := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/_cat/indices"), "/")
	ew := r.URL.Query().Get("expand_wildcards")
	open, closed, hidden := ew == "", ew == "", false
	for _, e := range strings.Split(ew, ",") {
		switch e {
		case "all":
			open, closed, hidden = true, true, true
		case "open":
			open = true
		case "closed":
			closed = true
		case "hidden":
			hidden = true
		}
	}
	followed := map[string]int64{}
	for _, fi := range c.followed(nil) {
		followed[fi.name] = fi.f.followerCheckpoint(fi.lc)
	}
	c.mu.Lock()
	rows := []map[string]string{}
	for _, name := range sortedKeys(c.indices) {
		ix := c.indices[name]
		if pattern != "" && pattern != "_all" && pattern != "*" {
			match := false
			for _, p := range strings.Split(pattern, ",") {
				if pathMatch(p, name) {
					match = true
				}
			}
			if !match {
				continue
			}
		}
		if (ix.hidden && !hidden) || (ix.closed && !closed) || (!ix.closed && !open) {
			continue
		}
		cp := ix.checkpoint
		if fc, ok := followed[name]; ok {
			cp = fc
		}
		status, health := "open", "green"
		row := map[string]string{"health": health, "status": status, "index": name, "uuid": ix.uuid, "pri": "1", "rep": "1"}
		if ix.closed {
			row["status"], row["health"] = "close", "green"
			row["docs.count"], row["docs.deleted"], row["store.size"], row["pri.store.size"] = "", "", "", ""
		} else {
			row["docs.count"] = strconv.FormatInt(cp+1, 10)
			row["docs.deleted"] = "0"
			row["store.size"] = strconv.FormatInt(2*(cp+1)+1, 10) + "kb"
			row["pri.store.size"] = strconv.FormatInt(cp+1, 10) + "kb"
		}
		rows = append(rows, row)
	}
	c.mu.Unlock()
	if len(rows) == 0 && pattern != "" && !strings.ContainsAny(pattern, "*,") && pattern != "_all" {
		indexNotFound(w, pattern)
		return
	}
	if r.URL.Query().Get("format") != "json" {
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		var b strings.Builder
		for _, row := range rows {
			fmt.Fprintf(&b, "%s %s %s %s %s %s %s %s %s %s\n", row["health"], row["status"], row["index"], row["uuid"],
				row["pri"], row["rep"], row["docs.count"], row["docs.deleted"], row["store.size"], row["pri.store.size"])
		}
		_, _ = io.WriteString(w, b.String())
		return
	}
	writeJSON(w, http.StatusOK, rows)
}

func pathMatch(pattern, name string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == name
	}
	return matchWildcard(pattern, name)
}

// matchWildcard matches OpenSearch's simple wildcards: only * is special.
func matchWildcard(pattern, name string) bool {
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(name, p)
		}
		j := strings.Index(name, p)
		if j < 0 {
			return false
		}
		name = name[j+len(p):]
	}
	return true
}

func (c *Cluster) deleteIndex(w http.ResponseWriter, name string) {
	if name == "_all" || strings.ContainsAny(name, "*,") {
		writeError(w, http.StatusBadRequest, "illegal_argument_exception", "Wildcard expressions or all indices are not allowed", nil)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.indices[name] == nil {
		indexNotFound(w, name)
		return
	}
	delete(c.indices, name)
	acknowledged(w)
}

func (c *Cluster) refresh(w http.ResponseWriter, target string) {
	c.mu.Lock()
	n := len(c.indices)
	if target != "" {
		names := strings.Split(target, ",")
		for _, name := range names {
			if c.indices[name] == nil {
				c.mu.Unlock()
				indexNotFound(w, name)
				return
			}
		}
		n = len(names)
	}
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"_shards": map[string]int{"total": 2 * n, "successful": n, "failed": 0}})
}
