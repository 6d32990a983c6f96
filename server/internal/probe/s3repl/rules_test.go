package s3repl

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

func TestDestinationBucket(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:s3:::mm-files-eu": "mm-files-eu",
		"arn:minio:replication::c1d2b3a4-0000-4000-8000-000000000000:region-b-1": "region-b-1",
		"plain": "plain",
		"":      "",
	} {
		assert.Equal(t, want, destinationBucket(arn), arn)
	}
}

func rule(id, dest string, status types.ReplicationRuleStatus, mods types.ReplicaModificationsStatus) types.ReplicationRule {
	r := types.ReplicationRule{ID: aws.String(id), Status: status, Destination: &types.Destination{Bucket: aws.String(dest)}}
	if mods != "" {
		r.SourceSelectionCriteria = &types.SourceSelectionCriteria{ReplicaModifications: &types.ReplicaModifications{Status: mods}}
	}
	return r
}

func TestReportRules(t *testing.T) {
	const peerARN = "arn:aws:s3:::b"
	on, off := types.ReplicationRuleStatusEnabled, types.ReplicationRuleStatusDisabled
	modsOn := types.ReplicaModificationsStatusEnabled
	tests := []struct {
		name     string
		s        side
		state    probe.State
		findings []string
		cells    [3]string // Replicates to, Rule, Replica modifications
	}{
		{"two-way rule", side{rules: []types.ReplicationRule{rule("r1", peerARN, on, modsOn)}}, probe.Healthy, nil,
			[3]string{"b", "r1 Enabled", "Enabled"}},
		{"no configuration", side{noRules: true}, probe.Critical, []string{"no replication rule on bucket a: objects written there are not copied to b"},
			[3]string{"nothing", "no rule", "-"}},
		{"elsewhere", side{rules: []types.ReplicationRule{rule("r1", "arn:aws:s3:::c", on, modsOn)}}, probe.Critical,
			[]string{"the replication rules on bucket a copy to c, not to b"}, [3]string{"c", "none towards b", "-"}},
		{"only rule disabled", side{rules: []types.ReplicationRule{rule("r1", peerARN, off, modsOn)}}, probe.Critical,
			[]string{"replication rule r1 on bucket a towards b is Disabled: objects written to a are not copied to b"}, [3]string{"b", "r1 Disabled", "Enabled"}},
		{"one of two disabled", side{rules: []types.ReplicationRule{rule("r1", peerARN, on, modsOn), rule("r2", peerARN, off, modsOn)}}, probe.Degraded,
			[]string{"replication rule r2 on bucket a towards b is Disabled"}, [3]string{"b", "r1 Enabled, r2 Disabled", "Enabled, Enabled"}},
		{"no replica modifications", side{rules: []types.ReplicationRule{rule("r1", peerARN, on, "")}}, probe.Degraded,
			[]string{"replication rule r1 on bucket a does not sync replica modifications"}, [3]string{"b", "r1 Enabled", "Disabled"}},
		{"unreadable", side{rulesErr: &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"}}, probe.Unknown,
			[]string{"cannot read the replication configuration of bucket a: api error AccessDenied: Access Denied"}, [3]string{"-", "-", "-"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.s.b, tt.s.peer = Bucket{Name: "a"}, Bucket{Name: "b"}
			res := probe.Result{State: probe.Healthy}
			row := []string{"a", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"}
			tt.s.reportRules(&res, row)
			assert.Equal(t, tt.state, res.State)
			require.Len(t, res.Findings, len(tt.findings), "%+v", res.Findings)
			for i, f := range tt.findings {
				assert.Contains(t, res.Findings[i].Message, f)
			}
			assert.Equal(t, tt.cells[:], row[2:5])
		})
	}
}

func TestReportSample(t *testing.T) {
	o := Options{}.withDefaults()
	o.PendingThreshold, o.FailedThreshold, o.MaxPendingAge = 3, 2, 10*time.Minute
	tests := []struct {
		name     string
		smp      sample
		err      error
		state    probe.State
		findings []string
	}{
		{"all replicated", sample{listed: 9, sampled: 9, completed: 5, replica: 4}, nil, probe.Healthy, nil},
		{"a few pending, recent", sample{listed: 9, sampled: 9, completed: 7, pending: 2, oldestPending: time.Now()}, nil, probe.Healthy, nil},
		{"pending at threshold", sample{listed: 9, sampled: 9, pending: 3, oldestPending: time.Now()}, nil, probe.Degraded,
			[]string{"3 of the 9 newest objects of bucket a are still PENDING replication to b (threshold 3)"}},
		{"pending too long", sample{listed: 9, sampled: 9, pending: 1, oldestPending: time.Now().Add(-time.Hour)}, nil, probe.Degraded,
			[]string{"an object of bucket a has been PENDING replication to b for 1.0 h (threshold 10m0s)"}},
		{"one failed", sample{listed: 9, sampled: 9, failed: 1}, nil, probe.Degraded, []string{"1 of the 9 newest objects of bucket a failed to replicate to b"}},
		{"failed at threshold", sample{listed: 9, sampled: 9, failed: 2}, nil, probe.Critical, []string{"2 of the 9 newest objects"}},
		{"cut short", sample{listed: 9, sampled: 0}, errors.New("read the replication status of none of 9 objects of a: context deadline exceeded"), probe.Unknown,
			[]string{"cannot sample the objects of bucket a: read the replication status of none of 9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := side{b: Bucket{Name: "a"}, peer: Bucket{Name: "b"}, sample: tt.smp, sampleErr: tt.err}
			res := probe.Result{State: probe.Healthy}
			row := []string{"a", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"}
			s.reportSample(&res, o, row, map[string]string{"bucket": "a"})
			assert.Equal(t, tt.state, res.State)
			require.Len(t, res.Findings, len(tt.findings), "%+v", res.Findings)
			for i, f := range tt.findings {
				assert.Contains(t, res.Findings[i].Message, f)
			}
			if tt.err == nil {
				assert.Len(t, res.Metrics, 2, "pending and failed")
			}
		})
	}
}

func TestCount(t *testing.T) {
	now := time.Now()
	var smp sample
	obj := func(age time.Duration) types.Object {
		return types.Object{Key: aws.String("k"), LastModified: aws.Time(now.Add(-age))}
	}
	head := func(s types.ReplicationStatus) *s3.HeadObjectOutput {
		return &s3.HeadObjectOutput{ReplicationStatus: s}
	}
	smp.count(obj(0), head(types.ReplicationStatusCompleted), nil)
	smp.count(obj(0), head(types.ReplicationStatusComplete), nil)
	smp.count(obj(time.Minute), head(types.ReplicationStatusPending), nil)
	smp.count(obj(time.Hour), head(types.ReplicationStatusPending), nil)
	smp.count(obj(0), head(types.ReplicationStatusFailed), nil)
	smp.count(obj(0), head(types.ReplicationStatusReplica), nil)
	smp.count(obj(0), head(""), nil)
	smp.count(obj(0), nil, &types.NotFound{})
	smp.count(obj(0), nil, errors.New("boom"))
	assert.Equal(t, sample{sampled: 7, completed: 2, pending: 2, failed: 1, replica: 1, none: 1, oldestPending: now.Add(-time.Hour),
		headErrors: 1, headErr: errors.New("boom")}, smp)
}
