package awsfake_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	awsfake "github.com/mattermost/mattermost-plugin-disaster-recovery/build/fakes/aws"
)

// These tests hold the fake to the SDK: every answer goes through aws-sdk-go-v2's own
// deserializers (awsQuery for RDS, RPC v2 CBOR for CloudWatch, REST-XML for Route 53), and
// modeled errors must come out as the SDK's typed errors.

func cfg(f *awsfake.Server, region string) aws.Config {
	return aws.Config{
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider(awsfake.AccessKeyID, awsfake.SecretAccessKey, ""),
		BaseEndpoint:     aws.String(f.URL),
		RetryMaxAttempts: 1,
	}
}

func TestRDSThroughTheSDK(t *testing.T) {
	f := awsfake.New(t)
	f.PutGlobalCluster(awsfake.GlobalCluster{ID: "g", Members: []awsfake.Member{
		{ARN: "arn:aws:rds:us-east-1:1:cluster:a", IsWriter: true, Sync: "connected"},
		{ARN: "arn:aws:rds:us-west-2:1:cluster:b", WriteForwarding: "enabled", Sync: "connected"},
	}})
	f.SetFailoverState("g", &awsfake.FailoverState{Status: "switching-over", From: "arn:aws:rds:us-east-1:1:cluster:a", To: "arn:aws:rds:us-west-2:1:cluster:b"})
	c := rds.NewFromConfig(cfg(f, "us-east-1"))
	ctx := context.Background()

	out, err := c.DescribeGlobalClusters(ctx, &rds.DescribeGlobalClustersInput{})
	require.NoError(t, err)
	require.Len(t, out.GlobalClusters, 1)
	g := out.GlobalClusters[0]
	assert.Equal(t, "g", aws.ToString(g.GlobalClusterIdentifier))
	assert.Equal(t, "switching-over", aws.ToString(g.Status))
	assert.Equal(t, "arn:aws:rds::1:global-cluster:g", aws.ToString(g.GlobalClusterArn))
	assert.True(t, aws.ToBool(g.StorageEncrypted))
	require.Len(t, g.GlobalClusterMembers, 2)
	assert.Equal(t, []string{"arn:aws:rds:us-west-2:1:cluster:b"}, g.GlobalClusterMembers[0].Readers)
	assert.Equal(t, rdstypes.WriteForwardingStatusEnabled, g.GlobalClusterMembers[1].GlobalWriteForwardingStatus)
	assert.Equal(t, rdstypes.GlobalClusterMemberSynchronizationStatusConnected, g.GlobalClusterMembers[1].SynchronizationStatus)
	require.NotNil(t, g.FailoverState)
	assert.Equal(t, rdstypes.FailoverStatus("switching-over"), g.FailoverState.Status, "documented, though the SDK has no constant for it")
	assert.Equal(t, "arn:aws:rds:us-west-2:1:cluster:b", aws.ToString(g.FailoverState.ToDbClusterArn))
	assert.False(t, aws.ToBool(g.FailoverState.IsDataLossAllowed))

	_, err = c.DescribeGlobalClusters(ctx, &rds.DescribeGlobalClustersInput{GlobalClusterIdentifier: aws.String("nope")})
	var nf *rdstypes.GlobalClusterNotFoundFault
	require.ErrorAs(t, err, &nf, "the modeled fault, as RDS answers it")
	assertHTTPStatus(t, err, 404)

	_, err = c.SwitchoverGlobalCluster(ctx, &rds.SwitchoverGlobalClusterInput{GlobalClusterIdentifier: aws.String("g"), TargetDbClusterIdentifier: aws.String("arn:aws:rds:us-west-2:1:cluster:b")})
	var bad *rdstypes.InvalidGlobalClusterStateFault
	require.ErrorAs(t, err, &bad)

	_, err = c.FailoverGlobalCluster(ctx, &rds.FailoverGlobalClusterInput{GlobalClusterIdentifier: aws.String("g"), TargetDbClusterIdentifier: aws.String("zzz")})
	var dbnf *rdstypes.DBClusterNotFoundFault
	require.ErrorAs(t, err, &dbnf)
}

// DescribeDBClusters: every global cluster member is a DB cluster with default backups,
// PutDBCluster scripts one, and only the caller's region's clusters are found.
func TestDescribeDBClustersThroughTheSDK(t *testing.T) {
	f := awsfake.New(t)
	now := time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)
	f.Now = func() time.Time { return now }
	f.PutGlobalCluster(awsfake.GlobalCluster{ID: "g", Members: []awsfake.Member{
		{ARN: "arn:aws:rds:us-east-1:1:cluster:a", IsWriter: true},
		{ARN: "arn:aws:rds:us-west-2:1:cluster:b"},
	}})
	latest := now.Add(-40 * time.Minute).Add(123 * time.Millisecond)
	f.PutDBCluster(awsfake.DBCluster{ARN: "arn:aws:rds:us-east-1:1:cluster:c", BackupRetentionPeriod: 1, LatestRestorableTime: latest})
	c := rds.NewFromConfig(cfg(f, "us-east-1"))
	ctx := context.Background()

	out, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{})
	require.NoError(t, err)
	var ids []string
	for _, dc := range out.DBClusters {
		ids = append(ids, aws.ToString(dc.DBClusterIdentifier))
	}
	assert.Equal(t, []string{"a", "c"}, ids, "the clusters of us-east-1 only")

	a := out.DBClusters[0]
	assert.Equal(t, "arn:aws:rds:us-east-1:1:cluster:a", aws.ToString(a.DBClusterArn))
	assert.Equal(t, "available", aws.ToString(a.Status))
	assert.Equal(t, "aurora-postgresql", aws.ToString(a.Engine))
	assert.Equal(t, int32(awsfake.DefaultBackupRetentionDays), aws.ToInt32(a.BackupRetentionPeriod))
	assert.Equal(t, now.Add(-awsfake.DefaultRestorableLag), aws.ToTime(a.LatestRestorableTime))
	assert.Equal(t, now.AddDate(0, 0, -awsfake.DefaultBackupRetentionDays), aws.ToTime(a.EarliestRestorableTime))

	out, err = c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("arn:aws:rds:us-east-1:1:cluster:c")})
	require.NoError(t, err)
	require.Len(t, out.DBClusters, 1)
	cc := out.DBClusters[0]
	assert.Equal(t, int32(1), aws.ToInt32(cc.BackupRetentionPeriod))
	assert.True(t, latest.Equal(aws.ToTime(cc.LatestRestorableTime)), "milliseconds kept: %v", cc.LatestRestorableTime)
	assert.Nil(t, cc.EarliestRestorableTime, "left out when not scripted")

	for _, id := range []string{"b", "arn:aws:rds:us-west-2:1:cluster:b", "zzz"} {
		_, err = c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)})
		var nf *rdstypes.DBClusterNotFoundFault
		require.ErrorAs(t, err, &nf, id)
		assertHTTPStatus(t, err, 404)
	}
	out, err = rds.NewFromConfig(cfg(f, "us-west-2")).DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("B")})
	require.NoError(t, err)
	require.Len(t, out.DBClusters, 1)
	assert.Equal(t, "b", aws.ToString(out.DBClusters[0].DBClusterIdentifier))
}

// A bare cluster identifier resolves only in the caller's region, as RDS needs ARNs to find a
// secondary elsewhere.
func TestRDSIdentifierResolvesInTheCallersRegion(t *testing.T) {
	f := awsfake.New(t)
	f.PutGlobalCluster(awsfake.GlobalCluster{ID: "g", Members: []awsfake.Member{
		{ARN: "arn:aws:rds:us-east-1:1:cluster:a", IsWriter: true},
		{ARN: "arn:aws:rds:us-west-2:1:cluster:b"},
	}})
	in := &rds.SwitchoverGlobalClusterInput{GlobalClusterIdentifier: aws.String("g"), TargetDbClusterIdentifier: aws.String("b")}
	_, err := rds.NewFromConfig(cfg(f, "us-east-1")).SwitchoverGlobalCluster(context.Background(), in)
	var dbnf *rdstypes.DBClusterNotFoundFault
	require.ErrorAs(t, err, &dbnf)
	out, err := rds.NewFromConfig(cfg(f, "us-west-2")).SwitchoverGlobalCluster(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, rdstypes.FailoverStatusPending, out.GlobalCluster.FailoverState.Status)
}

func TestCloudWatchThroughTheSDK(t *testing.T) {
	f := awsfake.New(t)
	now := time.Now().Truncate(time.Minute)
	dims := map[string]string{"DBClusterIdentifier": "b"}
	for i, v := range []float64{10, 30, 20} {
		f.PutMetric("us-west-2", "AWS/RDS", awsfake.MetricRPOLag, dims, awsfake.Datapoint{At: now.Add(-time.Duration(3-i) * time.Minute), Value: v})
	}
	f.PutMetric("us-west-2", "AWS/RDS", awsfake.MetricRPOLag, dims, awsfake.Datapoint{At: now.Add(-time.Minute + time.Second), Value: 40})
	c := cloudwatch.NewFromConfig(cfg(f, "us-west-2"))
	q := func(stat string) cwtypes.MetricDataQuery {
		return cwtypes.MetricDataQuery{Id: aws.String("rpo_" + strings.ToLower(stat)), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String("AWS/RDS"), MetricName: aws.String(awsfake.MetricRPOLag),
				Dimensions: []cwtypes.Dimension{{Name: aws.String("DBClusterIdentifier"), Value: aws.String("b")}}},
			Period: aws.Int32(60), Stat: aws.String(stat),
		}}
	}
	out, err := c.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(now.Add(-5 * time.Minute)), EndTime: aws.Time(now),
		MetricDataQueries: []cwtypes.MetricDataQuery{q("Maximum"), q("Average")},
	})
	require.NoError(t, err)
	require.Len(t, out.MetricDataResults, 2)
	maxR := out.MetricDataResults[0]
	assert.Equal(t, "rpo_maximum", aws.ToString(maxR.Id))
	assert.Equal(t, awsfake.MetricRPOLag, aws.ToString(maxR.Label))
	assert.Equal(t, cwtypes.StatusCodeComplete, maxR.StatusCode)
	assert.Equal(t, []float64{40, 30, 10}, maxR.Values, "newest first, one value per minute")
	require.Len(t, maxR.Timestamps, 3)
	assert.True(t, maxR.Timestamps[0].Equal(now.Add(-time.Minute)), "%v", maxR.Timestamps[0])
	assert.Equal(t, []float64{30, 30, 10}, out.MetricDataResults[1].Values)

	_, err = c.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(now), EndTime: aws.Time(now.Add(-time.Minute)), MetricDataQueries: []cwtypes.MetricDataQuery{q("Maximum")},
	})
	var ipv *cwtypes.InvalidParameterValueException
	require.ErrorAs(t, err, &ipv, "modeled CBOR errors come out typed")

	f.Inject(awsfake.Fault{Kind: awsfake.FaultServer, Count: 1})
	_, err = c.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(now.Add(-time.Minute)), EndTime: aws.Time(now), MetricDataQueries: []cwtypes.MetricDataQuery{q("Maximum")},
	})
	var isf *cwtypes.InternalServiceFault
	require.ErrorAs(t, err, &isf)
	assert.Equal(t, "InternalServiceError", isf.ErrorCode(), "the Query-compatible code from x-amzn-query-error")
	assertHTTPStatus(t, err, 500)

	f.Inject(awsfake.Fault{Kind: awsfake.FaultAuth, Count: 1})
	_, err = c.GetMetricData(context.Background(), &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(now.Add(-time.Minute)), EndTime: aws.Time(now), MetricDataQueries: []cwtypes.MetricDataQuery{q("Maximum")},
	})
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, "InvalidClientTokenId", ae.ErrorCode())
	assertHTTPStatus(t, err, 403)
}

func TestRoute53ThroughTheSDK(t *testing.T) {
	f := awsfake.New(t)
	f.PutHostedZone("Z1", "example.com.")
	c := route53.NewFromConfig(cfg(f, "us-east-1"))
	ctx := context.Background()
	change := func(action r53types.ChangeAction, name string) *route53.ChangeResourceRecordSetsInput {
		return &route53.ChangeResourceRecordSetsInput{HostedZoneId: aws.String("Z1"), ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{
			Action: action, ResourceRecordSet: &r53types.ResourceRecordSet{Name: aws.String(name), Type: r53types.RRTypeA, TTL: aws.Int64(60),
				ResourceRecords: []r53types.ResourceRecord{{Value: aws.String("192.0.2.1")}}},
		}}}}
	}
	out, err := c.ChangeResourceRecordSets(ctx, change(r53types.ChangeActionCreate, "a.example.com"))
	require.NoError(t, err)
	assert.Equal(t, r53types.ChangeStatusPending, out.ChangeInfo.Status)
	assert.True(t, strings.HasPrefix(aws.ToString(out.ChangeInfo.Id), "/change/C"))
	assert.WithinDuration(t, time.Now(), aws.ToTime(out.ChangeInfo.SubmittedAt), time.Minute)

	_, err = c.ChangeResourceRecordSets(ctx, change(r53types.ChangeActionCreate, "a.example.com"))
	var icb *r53types.InvalidChangeBatch
	require.ErrorAs(t, err, &icb)
	assert.Equal(t, []string{"Tried to create resource record set [name='a.example.com.', type='A'] but it already exists"}, icb.Messages)

	_, err = c.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: aws.String("Z2"), ChangeBatch: change(r53types.ChangeActionUpsert, "a.example.com").ChangeBatch})
	var nz *r53types.NoSuchHostedZone
	require.ErrorAs(t, err, &nz)

	id := strings.TrimPrefix(aws.ToString(out.ChangeInfo.Id), "/change/")
	var statuses []r53types.ChangeStatus
	for range 3 {
		g, err := c.GetChange(ctx, &route53.GetChangeInput{Id: aws.String(id)})
		require.NoError(t, err)
		statuses = append(statuses, g.ChangeInfo.Status)
	}
	assert.Equal(t, []r53types.ChangeStatus{"PENDING", "PENDING", "INSYNC"}, statuses)

	_, err = c.GetChange(ctx, &route53.GetChangeInput{Id: aws.String("CMISSING")})
	var nc *r53types.NoSuchChange
	require.ErrorAs(t, err, &nc)
}

// TestAuthorizationChecks sends unsigned and mis-scoped requests by hand, which no SDK would.
func TestAuthorizationChecks(t *testing.T) {
	f := awsfake.New(t)
	cases := []struct {
		name, path, auth, body, want string
	}{
		{"unsigned query", "/", "", "Action=DescribeGlobalClusters&Version=2014-10-31", "<Code>MissingAuthenticationToken</Code>"},
		{"malformed", "/", "AWS4-HMAC-SHA256 Credential=x", "Action=DescribeGlobalClusters&Version=2014-10-31", "<Code>MissingAuthenticationToken</Code>"},
		{"wrong service", "/", sigV4("rds-data"), "Action=DescribeGlobalClusters&Version=2014-10-31", "Credential should be scoped to correct service: &#39;rds&#39;"},
		{"unsigned route 53", "/2013-04-01/change/C1", "", "", "<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, f.URL+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Amz-Date", "20261126T000000Z")
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			assert.Equal(t, 403, res.StatusCode)
			assert.Contains(t, string(body), tc.want)
		})
	}
	assert.Empty(t, f.Requests(), "refused requests are not recorded as calls")
}

func sigV4(service string) string {
	return "AWS4-HMAC-SHA256 Credential=" + awsfake.AccessKeyID + "/20261126/us-east-1/" + service +
		"/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("0", 64)
}

func TestHangReleasedOnClose(t *testing.T) {
	f := awsfake.New(nil)
	f.Inject(awsfake.Fault{Kind: awsfake.FaultHang})
	done := make(chan error, 1)
	go func() {
		_, err := rds.NewFromConfig(cfg(f, "us-east-1")).DescribeGlobalClusters(context.Background(), &rds.DescribeGlobalClustersInput{})
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	f.Close()
	select {
	case err := <-done:
		require.Error(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Close left a hanging request behind")
	}
}

func assertHTTPStatus(t *testing.T, err error, want int) {
	t.Helper()
	var se interface{ HTTPStatusCode() int }
	if assert.True(t, errors.As(err, &se), "%v", err) {
		assert.Equal(t, want, se.HTTPStatusCode())
	}
}
