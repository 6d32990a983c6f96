package rds

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// CloudWatch metrics of an Aurora global database secondary, in milliseconds.
const (
	MetricRPOLag         = "AuroraGlobalDBRPOLag"
	MetricReplicationLag = "AuroraGlobalDBReplicationLag"
)

// Sample is the newest datapoint of a metric.
type Sample struct {
	Value time.Duration
	At    time.Time
}

// Lag is what CloudWatch says about a secondary cluster's lag. A nil sample means CloudWatch
// had no datapoint in Window: the metric is not published (not a secondary, or not this
// engine) or the metrics pipeline is behind. It is not zero lag.
type Lag struct {
	Cluster     string // identifier
	Region      string
	Window      time.Duration
	RPO         *Sample
	Replication *Sample
}

// Lag reads AuroraGlobalDBRPOLag and AuroraGlobalDBReplicationLag of secondary (ARN or
// identifier) from CloudWatch in the secondary's region: the newest one-minute maximum of the
// last LagWindow.
func (c *Client) Lag(ctx context.Context, secondary string) (Lag, error) {
	id, region, err := c.clusterRegion(secondary)
	if err != nil {
		return Lag{}, fmt.Errorf("read the lag of %s: %w", secondary, err)
	}
	end := c.now().UTC().Truncate(time.Second)
	start := end.Add(-c.opts.LagWindow)
	query := func(qid, metric string) cwtypes.MetricDataQuery {
		return cwtypes.MetricDataQuery{
			Id: aws.String(qid),
			MetricStat: &cwtypes.MetricStat{
				Metric: &cwtypes.Metric{
					Namespace:  aws.String("AWS/RDS"),
					MetricName: aws.String(metric),
					Dimensions: []cwtypes.Dimension{{Name: aws.String("DBClusterIdentifier"), Value: aws.String(id)}},
				},
				Period: aws.Int32(60),
				Stat:   aws.String("Maximum"),
			},
			ReturnData: aws.Bool(true),
		}
	}
	out, err := c.cloudWatchClient(region).GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime:         aws.Time(start),
		EndTime:           aws.Time(end),
		ScanBy:            cwtypes.ScanByTimestampDescending,
		MetricDataQueries: []cwtypes.MetricDataQuery{query("rpo", MetricRPOLag), query("replication", MetricReplicationLag)},
	})
	if err != nil {
		return Lag{}, fmt.Errorf("read the lag of %s from CloudWatch in %s: %w", id, region, err)
	}
	lag := Lag{Cluster: id, Region: region, Window: c.opts.LagWindow}
	for _, r := range out.MetricDataResults {
		if r.StatusCode == cwtypes.StatusCodeForbidden || r.StatusCode == cwtypes.StatusCodeInternalError {
			return Lag{}, fmt.Errorf("read the lag of %s from CloudWatch in %s: metric %s: %s", id, region, aws.ToString(r.Label), r.StatusCode)
		}
		s := newest(r)
		switch aws.ToString(r.Id) {
		case "rpo":
			lag.RPO = s
		case "replication":
			lag.Replication = s
		}
	}
	return lag, nil
}

// newest picks the latest datapoint, whatever order CloudWatch used.
func newest(r cwtypes.MetricDataResult) *Sample {
	var best *Sample
	for i, t := range r.Timestamps {
		if i >= len(r.Values) {
			break
		}
		if best == nil || t.After(best.At) {
			best = &Sample{Value: time.Duration(r.Values[i] * float64(time.Millisecond)), At: t}
		}
	}
	return best
}
