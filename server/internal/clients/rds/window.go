package rds

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// ErrClusterNotFound is wrapped by errors about a DB cluster that does not exist.
var ErrClusterNotFound = errors.New("DB cluster not found")

// RestorableWindow is how far back and how recently AWS's point-in-time restore
// (RestoreDBClusterToPointInTime) can restore a DB cluster.
type RestorableWindow struct {
	Cluster string // identifier
	Region  string
	// Earliest and Latest bound the restorable times. Zero when RDS does not report them,
	// as before a cluster's first automated backup.
	Earliest time.Time
	Latest   time.Time
	// RetentionDays is BackupRetentionPeriod: how many days of automated backups RDS keeps.
	RetentionDays int
}

// RestorableWindow reads the point-in-time restore window of cluster (identifier or ARN) with
// DescribeDBClusters in the cluster's region.
func (c *Client) RestorableWindow(ctx context.Context, cluster string) (RestorableWindow, error) {
	id, region, err := c.clusterRegion(cluster)
	if err != nil {
		return RestorableWindow{}, fmt.Errorf("read the restorable window of %s: %w", cluster, err)
	}
	out, err := c.rdsClient(region).DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)})
	if err != nil {
		var nf *types.DBClusterNotFoundFault
		if errors.As(err, &nf) {
			return RestorableWindow{}, fmt.Errorf("describe DB cluster %s in %s: %w", id, region, ErrClusterNotFound)
		}
		return RestorableWindow{}, fmt.Errorf("describe DB cluster %s in %s: %w", id, region, err)
	}
	for _, dc := range out.DBClusters {
		// RDS stores identifiers in lower case and matches them regardless of case.
		if !strings.EqualFold(aws.ToString(dc.DBClusterIdentifier), id) {
			continue
		}
		return RestorableWindow{
			Cluster:       aws.ToString(dc.DBClusterIdentifier),
			Region:        region,
			Earliest:      aws.ToTime(dc.EarliestRestorableTime),
			Latest:        aws.ToTime(dc.LatestRestorableTime),
			RetentionDays: int(aws.ToInt32(dc.BackupRetentionPeriod)),
		}, nil
	}
	return RestorableWindow{}, fmt.Errorf("describe DB cluster %s in %s: %w", id, region, ErrClusterNotFound)
}
