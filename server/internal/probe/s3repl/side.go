package s3repl

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

// side is one bucket and what the probe learnt about it.
type side struct {
	b, peer Bucket
	err     error // the bucket's S3 service did not answer: nothing else is known

	versioning    types.BucketVersioningStatus
	versioningErr error

	rules    []types.ReplicationRule
	noRules  bool // ReplicationConfigurationNotFoundError
	rulesErr error

	sample    sample
	sampleErr error
}

// sample is the replication status of a bucket's newest objects.
type sample struct {
	listed                                       int
	truncated                                    bool // the bucket has more keys than were listed
	cutShort                                     bool // the deadline ended listing or reading early
	sampled, completed, pending, failed, replica int
	none                                         int       // no status: written before the rule, or outside its filter
	oldestPending                                time.Time // LastModified of the oldest PENDING object
	headErrors                                   int
	headErr                                      error
}

func (s *side) inspect(ctx context.Context, o Options) {
	if s.b.Name == "" || s.b.Client == nil {
		s.err = errors.New("no bucket name or no S3 client given")
		return
	}
	bucket := aws.String(s.b.Name)
	v, err := s.b.Client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: bucket})
	switch {
	case err != nil && (unreachable(err) || ctx.Err() != nil):
		s.err = err
		return
	case err != nil:
		s.versioningErr = err
	default:
		s.versioning = v.Status
	}
	rc, err := s.b.Client.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: bucket})
	switch {
	case errorCode(err) == "ReplicationConfigurationNotFoundError":
		s.noRules = true
	case err != nil:
		s.rulesErr = err
	case rc.ReplicationConfiguration != nil:
		s.rules = rc.ReplicationConfiguration.Rules
	}
	if ctx.Err() != nil {
		s.sampleErr = ctx.Err()
		return
	}
	s.sample, s.sampleErr = takeSample(ctx, s.b, o)
}

// takeSample lists up to o.MaxListed keys, keeps the o.SampleSize newest and reads their
// replication status. S3 lists in key order, so the newest objects are only found by listing.
func takeSample(ctx context.Context, b Bucket, o Options) (sample, error) {
	var smp sample
	var objs []types.Object
	// Listing gets half of the time left, so that the newest objects found by then still get
	// their status read.
	listCtx, cancel := context.WithCancel(ctx)
	if dl, ok := ctx.Deadline(); ok {
		cancel()
		listCtx, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(dl)/2))
	}
	defer cancel()
	p := s3.NewListObjectsV2Paginator(b.Client, &s3.ListObjectsV2Input{Bucket: aws.String(b.Name), Prefix: aws.String(o.Prefix),
		MaxKeys: aws.Int32(int32(min(1000, o.MaxListed)))})
	for p.HasMorePages() {
		if len(objs) >= o.MaxListed {
			smp.truncated = true
			break
		}
		page, err := p.NextPage(listCtx)
		if err != nil {
			if listCtx.Err() != nil && ctx.Err() == nil && len(objs) > 0 {
				smp.truncated, smp.cutShort = true, true
				break
			}
			return smp, fmt.Errorf("list the objects of %s: %w", b.Name, err)
		}
		objs = append(objs, page.Contents...)
	}
	smp.listed = len(objs)
	sort.Slice(objs, func(i, j int) bool { return aws.ToTime(objs[i].LastModified).After(aws.ToTime(objs[j].LastModified)) })
	if len(objs) > o.SampleSize {
		objs = objs[:o.SampleSize]
	}

	var mu sync.Mutex
	work := make(chan types.Object)
	var wg sync.WaitGroup
	for range min(o.Concurrency, max(1, len(objs))) {
		wg.Go(func() {
			for obj := range work {
				out, err := b.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b.Name), Key: obj.Key})
				mu.Lock()
				smp.count(obj, out, err)
				mu.Unlock()
			}
		})
	}
feed:
	for _, obj := range objs {
		select {
		case work <- obj:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if smp.headErrors > 0 && smp.sampled == 0 {
		return smp, fmt.Errorf("read the replication status of %s's objects: %w", b.Name, smp.headErr)
	}
	if ctx.Err() != nil && smp.sampled < len(objs) {
		if smp.sampled == 0 {
			return smp, fmt.Errorf("read the replication status of none of %d objects of %s: %w", len(objs), b.Name, ctx.Err())
		}
		smp.cutShort = true // what was read is still worth reporting
	}
	return smp, nil
}

func (smp *sample) count(obj types.Object, out *s3.HeadObjectOutput, err error) {
	if err != nil {
		var nf *types.NotFound
		if errors.As(err, &nf) {
			return // deleted since it was listed
		}
		smp.headErrors++
		smp.headErr = err
		return
	}
	smp.sampled++
	switch out.ReplicationStatus {
	case types.ReplicationStatusCompleted, types.ReplicationStatusComplete:
		smp.completed++
	case types.ReplicationStatusPending:
		smp.pending++
		if t := aws.ToTime(obj.LastModified); smp.oldestPending.IsZero() || t.Before(smp.oldestPending) {
			smp.oldestPending = t
		}
	case types.ReplicationStatusFailed:
		smp.failed++
	case types.ReplicationStatusReplica:
		smp.replica++
	default:
		smp.none++
	}
}

// report turns what was learnt about the bucket into findings, a table row and metrics.
func (s *side) report(res *probe.Result, o Options) {
	name, peer := s.b.label(), s.peer.label()
	labels := map[string]string{"bucket": name}
	row := []string{name, "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"}
	defer func() { res.Table.Rows = append(res.Table.Rows, row) }()
	if s.err != nil {
		state := probe.Unknown
		if unreachable(s.err) {
			state = probe.Critical
		}
		row[1] = "unreachable"
		res.Add(state, fmt.Sprintf("Check the S3 service that holds %s and the network path to it: while it is down, objects written to %s wait as PENDING.", name, peer),
			fmt.Sprintf("cannot check bucket %s: %v", name, s.err))
		return
	}

	switch {
	case s.versioningErr != nil:
		res.Add(probe.Unknown, "Allow s3:GetBucketVersioning to the probe's credentials.",
			fmt.Sprintf("cannot read the versioning of bucket %s: %v", name, s.versioningErr))
	case s.versioning == types.BucketVersioningStatusEnabled:
		row[1] = "Enabled"
		res.Gauge(MetricVersioning, "1 when versioning is enabled on a replicated S3 bucket, which replication requires.", 1, labels)
	default:
		state := string(s.versioning)
		if state == "" {
			state = "never enabled"
		}
		row[1] = state
		res.Gauge(MetricVersioning, "1 when versioning is enabled on a replicated S3 bucket, which replication requires.", 0, labels)
		res.Add(probe.Critical, fmt.Sprintf("Enable versioning on %s (mc version enable ALIAS/%s, or aws s3api put-bucket-versioning --versioning-configuration Status=Enabled).", name, s.b.Name),
			fmt.Sprintf("versioning is %s on bucket %s: replication needs it on both buckets, new objects are not replicated", state, name))
	}

	s.reportRules(res, row)
	s.reportSample(res, o, row, labels)
}

func (s *side) reportRules(res *probe.Result, row []string) {
	name, peer := s.b.label(), s.peer.label()
	addFix := fmt.Sprintf("Add a rule on %s towards %s with replica modification sync (mc replicate add ALIAS/%s --remote-bucket … --replicate …,metadata-sync; on AWS put-bucket-replication with SourceSelectionCriteria.ReplicaModifications Enabled).",
		name, peer, s.b.Name)
	switch {
	case s.rulesErr != nil:
		res.Add(probe.Unknown, "Allow s3:GetReplicationConfiguration to the probe's credentials.",
			fmt.Sprintf("cannot read the replication configuration of bucket %s: %v", name, s.rulesErr))
		return
	case s.noRules || len(s.rules) == 0:
		row[2], row[3] = "nothing", "no rule"
		res.Add(probe.Critical, addFix, fmt.Sprintf("no replication rule on bucket %s: objects written there are not copied to %s", name, peer))
		return
	}
	var toPeer, enabled []types.ReplicationRule
	var elsewhere []string
	for _, r := range s.rules {
		dest := ""
		if r.Destination != nil {
			dest = destinationBucket(aws.ToString(r.Destination.Bucket))
		}
		if dest != s.peer.Name {
			elsewhere = append(elsewhere, dest)
			continue
		}
		toPeer = append(toPeer, r)
		if r.Status == types.ReplicationRuleStatusEnabled {
			enabled = append(enabled, r)
		}
	}
	if len(toPeer) == 0 {
		row[2], row[3] = strings.Join(elsewhere, ", "), "none towards "+peer
		res.Add(probe.Critical, addFix, fmt.Sprintf("the replication rules on bucket %s copy to %s, not to %s", name, strings.Join(elsewhere, ", "), peer))
		return
	}
	row[2] = peer
	var ids, mods []string
	for _, r := range toPeer {
		ids = append(ids, fmt.Sprintf("%s %s", ruleID(r), r.Status))
		m := "Disabled"
		if r.SourceSelectionCriteria != nil && r.SourceSelectionCriteria.ReplicaModifications != nil {
			m = string(r.SourceSelectionCriteria.ReplicaModifications.Status)
		}
		mods = append(mods, m)
	}
	row[3], row[4] = strings.Join(ids, ", "), strings.Join(mods, ", ")
	for _, r := range toPeer {
		if r.Status == types.ReplicationRuleStatusEnabled {
			if r.SourceSelectionCriteria == nil || r.SourceSelectionCriteria.ReplicaModifications == nil ||
				r.SourceSelectionCriteria.ReplicaModifications.Status != types.ReplicaModificationsStatusEnabled {
				res.Add(probe.Degraded, fmt.Sprintf("Enable replica modification sync on the rule (mc replicate update ALIAS/%s --id %s --replicate …,metadata-sync; on AWS SourceSelectionCriteria.ReplicaModifications Enabled).", s.b.Name, ruleID(r)),
					fmt.Sprintf("replication rule %s on bucket %s does not sync replica modifications: in two-way replication, changes made in %s to objects that came from %s are not copied back", ruleID(r), name, name, peer))
			}
			continue
		}
		state, msg := probe.Degraded, fmt.Sprintf("replication rule %s on bucket %s towards %s is %s", ruleID(r), name, peer, r.Status)
		if len(enabled) == 0 {
			state = probe.Critical
			msg += fmt.Sprintf(": objects written to %s are not copied to %s", name, peer)
		} // else another rule still copies
		res.Add(state, fmt.Sprintf("Enable it: mc replicate update ALIAS/%s --id %s --state enable (on AWS: Status Enabled in put-bucket-replication).", s.b.Name, ruleID(r)), msg)
	}
}

func ruleID(r types.ReplicationRule) string {
	if id := aws.ToString(r.ID); id != "" {
		return id
	}
	return "(no id, priority " + strconv.Itoa(int(aws.ToInt32(r.Priority))) + ")"
}

func (s *side) reportSample(res *probe.Result, o Options, row []string, labels map[string]string) {
	name, peer := s.b.label(), s.peer.label()
	smp := s.sample
	if s.sampleErr != nil {
		res.Add(probe.Unknown, "Allow s3:ListBucket and s3:GetObject (HeadObject) to the probe's credentials.",
			fmt.Sprintf("cannot sample the objects of bucket %s: %v", name, s.sampleErr))
		if smp.sampled == 0 {
			return
		}
	}
	listed := strconv.Itoa(smp.listed)
	if smp.truncated {
		listed = "the first " + listed + " keys"
	}
	row[5] = fmt.Sprintf("%d newest of %s", smp.sampled, listed)
	if smp.cutShort {
		row[5] += " (cut short by the deadline)"
	}
	row[6], row[7], row[8] = strconv.Itoa(smp.completed), strconv.Itoa(smp.pending), strconv.Itoa(smp.failed)
	row[9], row[10] = strconv.Itoa(smp.replica), strconv.Itoa(smp.none)
	res.Gauge(MetricPending, "Objects PENDING replication among a replicated S3 bucket's newest objects.", float64(smp.pending), labels)
	res.Gauge(MetricFailed, "Objects whose replication FAILED among a replicated S3 bucket's newest objects.", float64(smp.failed), labels)

	if smp.failed > 0 {
		state := probe.Degraded
		if smp.failed >= o.FailedThreshold {
			state = probe.Critical
		}
		res.Add(state, fmt.Sprintf("Find the objects whose ReplicationStatus is FAILED and replicate them again (MinIO: mc replicate resync; AWS: S3 Batch Replication), then check why they failed (permissions, KMS keys, %s's availability).", peer),
			fmt.Sprintf("%d of the %d newest objects of bucket %s failed to replicate to %s (AWS S3 never retries them; MinIO retries them in the background)", smp.failed, smp.sampled, name, peer))
	}
	if smp.pending >= o.PendingThreshold {
		res.Add(probe.Degraded, fmt.Sprintf("Check that %s is up and reachable from %s's S3 service (MinIO: mc replicate status ALIAS/%s; AWS: CloudWatch OperationsPendingReplication).", peer, name, s.b.Name),
			fmt.Sprintf("%d of the %d newest objects of bucket %s are still PENDING replication to %s (threshold %d)", smp.pending, smp.sampled, name, peer, o.PendingThreshold))
	}
	if smp.pending > 0 {
		age := time.Since(smp.oldestPending)
		row[11] = ageString(age)
		if o.MaxPendingAge > 0 && age > o.MaxPendingAge {
			res.Add(probe.Degraded, fmt.Sprintf("Check that %s is up and reachable from %s's S3 service.", peer, name),
				fmt.Sprintf("an object of bucket %s has been PENDING replication to %s for %s (threshold %s)", name, peer, ageString(age), o.MaxPendingAge))
		}
	}
	if smp.headErrors > 0 && s.sampleErr == nil {
		res.Add(probe.Unknown, "", fmt.Sprintf("the replication status of %d sampled objects of bucket %s could not be read: %v", smp.headErrors, name, smp.headErr))
	}
}
