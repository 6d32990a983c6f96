package s3repl

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/build/harness"
)

// Two MinIO servers, one per region, shared by the package; each test makes its own pair of
// replicated buckets on them (newPair). Nil when MinIO is unavailable (minioErr says why).
var (
	minioA, minioB *harness.MinIO
	minioErr       error
	pairSeq        atomic.Int64
)

func TestMain(m *testing.M) {
	servers, stop, err := harness.TestMinIO(2)
	if minioErr = err; err != nil {
		fmt.Fprintf(os.Stderr, "s3repl tests: MinIO unavailable: %v\n", err)
	} else {
		minioA, minioB = servers[0], servers[1]
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

func requireMinIO(t *testing.T) {
	t.Helper()
	if minioA == nil || minioB == nil {
		harness.Unavailable(t, "MinIO", minioErr)
	}
}

// pair is two buckets, one on each server, replicating both ways.
type pair struct {
	a, b         string // bucket names
	ruleA, ruleB string
}

// newPair makes two empty buckets (versioning off) and, when replicate is set, the two-way
// replication rules between them.
func newPair(t *testing.T, replicate bool) pair {
	t.Helper()
	requireMinIO(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := pairSeq.Add(1)
	p := pair{a: fmt.Sprintf("region-a-%d", n), b: fmt.Sprintf("region-b-%d", n),
		ruleA: fmt.Sprintf("a-to-b-%d", n), ruleB: fmt.Sprintf("b-to-a-%d", n)}
	require.NoError(t, minioA.MakeBucket(ctx, p.a))
	require.NoError(t, minioB.MakeBucket(ctx, p.b))
	if replicate {
		require.NoError(t, harness.ReplicateBuckets(ctx, minioA, p.a, p.ruleA, minioB, p.b, p.ruleB))
	}
	return p
}

func (p pair) options() Options {
	return Options{
		A: Bucket{Name: p.a, Client: minioA.S3Client()},
		B: Bucket{Name: p.b, Client: minioB.S3Client()},
	}
}

func put(t *testing.T, m *harness.MinIO, bucket string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		_, err := m.S3Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader(k)})
		require.NoError(t, err)
	}
}

func waitStatus(t *testing.T, m *harness.MinIO, bucket string, want types.ReplicationStatus, keys ...string) {
	t.Helper()
	for _, k := range keys {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := harness.WaitReplicationStatus(ctx, m, bucket, k, want)
		cancel()
		require.NoError(t, err)
	}
}

func mc(t *testing.T, m *harness.MinIO, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := m.MC(ctx, args...)
	require.NoError(t, err)
	return string(out)
}
