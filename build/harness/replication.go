package harness

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// ReplicationFlags are what every harness replication rule replicates: deletes, delete markers,
// objects that existed before the rule, and changes made to replicas (metadata-sync sets
// ReplicaModifications to Enabled, which two-way replication needs).
const ReplicationFlags = "delete-marker,delete,existing-objects,metadata-sync"

// MinIOPair is two MinIO servers whose buckets replicate to each other, as the two regions of a
// DR deployment would: BucketA on A and BucketB on B.
type MinIOPair struct {
	A, B             *MinIO
	BucketA, BucketB string
}

// RuleA and RuleB are the ids of the replication rules on BucketA (towards B) and on BucketB
// (towards A), for `mc replicate update --id`.
const (
	RuleA = "dr-harness-a-to-b"
	RuleB = "dr-harness-b-to-a"
)

// StartMinIOPair starts two MinIO servers (binDir from MinIOBinaries), creates bucketA on the
// first and bucketB on the second and sets up two-way replication between them. On error it
// has stopped whatever it started.
func StartMinIOPair(ctx context.Context, binDir, bucketA, bucketB string) (_ *MinIOPair, err error) {
	p := &MinIOPair{BucketA: bucketA, BucketB: bucketB}
	defer func() {
		if err != nil {
			p.Stop()
		}
	}()
	if p.A, err = StartMinIO(ctx, binDir); err != nil {
		return nil, err
	}
	if p.B, err = StartMinIO(ctx, binDir); err != nil {
		return nil, err
	}
	if err = p.A.MakeBucket(ctx, bucketA); err != nil {
		return nil, err
	}
	if err = p.B.MakeBucket(ctx, bucketB); err != nil {
		return nil, err
	}
	if err = ReplicateBuckets(ctx, p.A, bucketA, RuleA, p.B, bucketB, RuleB); err != nil {
		return nil, err
	}
	return p, nil
}

// Stop stops both servers and removes their data. Safe on nil and more than once.
func (p *MinIOPair) Stop() {
	if p == nil {
		return
	}
	p.A.Stop()
	p.B.Stop()
}

// ReplicateBuckets sets up two-way replication between existing buckets with mc, as an
// administrator would: versioning on both, then a rule on each bucket pointing at the other
// (ids ruleA on bucketA, ruleB on bucketB) with ReplicationFlags.
func ReplicateBuckets(ctx context.Context, a *MinIO, bucketA, ruleA string, b *MinIO, bucketB, ruleB string) error {
	for _, s := range []struct {
		m      *MinIO
		bucket string
	}{{a, bucketA}, {b, bucketB}} {
		if _, err := s.m.MC(ctx, "version", "enable", "local/"+s.bucket); err != nil {
			return err
		}
	}
	if err := addReplicationRule(ctx, a, bucketA, ruleA, b, bucketB); err != nil {
		return err
	}
	return addReplicationRule(ctx, b, bucketB, ruleB, a, bucketA)
}

// addReplicationRule adds a rule on src/srcBucket that copies to dst/dstBucket. The remote is
// given as an mc alias, not as a URL with the credentials in it, so that a failing mc command
// (whose arguments go into the error) does not print the peer's secret key.
func addReplicationRule(ctx context.Context, src *MinIO, srcBucket, id string, dst *MinIO, dstBucket string) error {
	if _, err := src.MC(ctx, "alias", "list", "local"); err != nil { // sets up mc's configuration
		return err
	}
	const peer = "peer"
	if out, err := src.runMC(ctx, "alias", "set", peer, dst.Endpoint, dst.AccessKey, dst.SecretKey, "--api", "S3v4", "--path", "on"); err != nil {
		return fmt.Errorf("mc alias set %s %s (credentials hidden): %w\n%s", peer, dst.Endpoint, err, out)
	}
	_, err := src.MC(ctx, "replicate", "add", "local/"+srcBucket, "--remote-bucket", peer+"/"+dstBucket,
		"--id", id, "--priority", "1", "--replicate", ReplicationFlags, "--path", "on")
	return err
}

// WaitReplicationStatus waits until HeadObject of key in bucket on m reports want
// (COMPLETED on a source, REPLICA on a destination) and returns the last status seen.
func WaitReplicationStatus(ctx context.Context, m *MinIO, bucket, key string, want types.ReplicationStatus) (types.ReplicationStatus, error) {
	client := m.S3Client()
	var last types.ReplicationStatus
	for {
		out, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err == nil {
			last = out.ReplicationStatus
			if last == want {
				return last, nil
			}
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return last, fmt.Errorf("%s/%s on %s: replication status %q, want %q: %w", bucket, key, m.Endpoint, last, want, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
