package harness

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMinIOPair(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	root, err := RepoRoot()
	require.NoError(t, err)
	bin, err := MinIOBinaries(ctx, root)
	if err != nil {
		Unavailable(t, "MinIO", err)
	}
	p, err := StartMinIOPair(ctx, bin, "region-a", "region-b")
	require.NoError(t, err)
	t.Cleanup(p.Stop)

	for _, side := range []struct {
		m              *MinIO
		bucket, rule   string
		peer           string
		peerBucketName string
	}{{p.A, p.BucketA, RuleA, "b", p.BucketB}, {p.B, p.BucketB, RuleB, "a", p.BucketA}} {
		v, err := side.m.S3Client().GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(side.bucket)})
		require.NoError(t, err)
		assert.Equal(t, types.BucketVersioningStatusEnabled, v.Status)
		rc, err := side.m.S3Client().GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String(side.bucket)})
		require.NoError(t, err)
		require.Len(t, rc.ReplicationConfiguration.Rules, 1)
		rule := rc.ReplicationConfiguration.Rules[0]
		assert.Equal(t, side.rule, aws.ToString(rule.ID))
		assert.Equal(t, types.ReplicationRuleStatusEnabled, rule.Status)
		assert.True(t, strings.HasSuffix(aws.ToString(rule.Destination.Bucket), ":"+side.peerBucketName), aws.ToString(rule.Destination.Bucket))
		assert.Equal(t, types.ReplicaModificationsStatusEnabled, rule.SourceSelectionCriteria.ReplicaModifications.Status)
	}

	// Each way: COMPLETED on the side written, REPLICA on the other.
	put := func(m *MinIO, bucket, key string) {
		_, err := m.S3Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(key)})
		require.NoError(t, err)
	}
	wait := func(m *MinIO, bucket, key string, want types.ReplicationStatus) {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err := WaitReplicationStatus(wctx, m, bucket, key, want)
		require.NoError(t, err)
	}
	put(p.A, p.BucketA, "from-a")
	wait(p.A, p.BucketA, "from-a", types.ReplicationStatusCompleted)
	wait(p.B, p.BucketB, "from-a", types.ReplicationStatusReplica)
	put(p.B, p.BucketB, "from-b")
	wait(p.B, p.BucketB, "from-b", types.ReplicationStatusCompleted)
	wait(p.A, p.BucketA, "from-b", types.ReplicationStatusReplica)
	assert.Equal(t, "from-b", getObject(ctx, t, p.A, p.BucketA, "from-b"))

	// A failing set-up names what failed without the peer's secret key (mc's arguments go
	// into the error).
	err = addReplicationRule(ctx, p.A, p.BucketA, "again", p.B, "no-such-bucket")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "mc replicate add local/"+p.BucketA+" --remote-bucket peer/no-such-bucket")
	assert.NotContains(t, err.Error(), p.B.SecretKey)
}
