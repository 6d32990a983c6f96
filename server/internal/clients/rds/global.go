package rds

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// ErrNotFound is wrapped by errors about a global cluster that does not exist.
var ErrNotFound = errors.New("global cluster not found")

// Values of Member.WriteForwarding and Member.Sync, as RDS spells them.
const (
	ForwardingEnabled = "enabled"
	SyncConnected     = "connected"
)

// GlobalCluster is an Aurora global database as RDS describes it.
type GlobalCluster struct {
	ID            string
	ARN           string
	Status        string
	Engine        string
	EngineVersion string
	Endpoint      string
	Members       []Member
	// Failover is set while a switchover or failover runs, nil otherwise.
	Failover *FailoverState
}

// Member is one cluster of a global database.
type Member struct {
	ARN      string
	ID       string // cluster identifier, from the ARN
	Region   string // from the ARN
	IsWriter bool
	// Readers are the ARNs of the secondary clusters (set on the writer only).
	Readers []string
	// WriteForwarding is GlobalWriteForwardingStatus: enabled, disabled, enabling, disabling,
	// unknown, or "" when RDS does not report it.
	WriteForwarding string
	// Sync is SynchronizationStatus: connected, pending-resync, or "" when not reported.
	Sync string
}

// FailoverState describes a switchover or failover in progress.
type FailoverState struct {
	Status          string // pending, failing-over, cancelling, switching-over
	From, To        string // cluster ARNs
	DataLossAllowed bool
}

// Writer returns the member that takes writes.
func (g GlobalCluster) Writer() (Member, bool) {
	for _, m := range g.Members {
		if m.IsWriter {
			return m, true
		}
	}
	return Member{}, false
}

// Member returns the member named by ARN or cluster identifier.
func (g GlobalCluster) Member(cluster string) (Member, bool) {
	for _, m := range g.Members {
		if m.ARN == cluster || m.ID == cluster {
			return m, true
		}
	}
	return Member{}, false
}

// GlobalCluster describes the global database id.
func (c *Client) GlobalCluster(ctx context.Context, id string) (GlobalCluster, error) {
	out, err := c.rdsClient(c.opts.Region).DescribeGlobalClusters(ctx, &rds.DescribeGlobalClustersInput{GlobalClusterIdentifier: aws.String(id)})
	if err != nil {
		var nf *types.GlobalClusterNotFoundFault
		if errors.As(err, &nf) {
			return GlobalCluster{}, fmt.Errorf("describe global cluster %s in %s: %w", id, c.opts.Region, ErrNotFound)
		}
		return GlobalCluster{}, fmt.Errorf("describe global cluster %s in %s: %w", id, c.opts.Region, err)
	}
	for _, g := range out.GlobalClusters {
		if aws.ToString(g.GlobalClusterIdentifier) == id {
			return convert(g), nil
		}
	}
	return GlobalCluster{}, fmt.Errorf("describe global cluster %s in %s: %w", id, c.opts.Region, ErrNotFound)
}

func convert(g types.GlobalCluster) GlobalCluster {
	out := GlobalCluster{
		ID:            aws.ToString(g.GlobalClusterIdentifier),
		ARN:           aws.ToString(g.GlobalClusterArn),
		Status:        aws.ToString(g.Status),
		Engine:        aws.ToString(g.Engine),
		EngineVersion: aws.ToString(g.EngineVersion),
		Endpoint:      aws.ToString(g.Endpoint),
	}
	for _, m := range g.GlobalClusterMembers {
		arn := aws.ToString(m.DBClusterArn)
		region, id, _ := ParseClusterARN(arn)
		if len(m.Readers) == 0 {
			m.Readers = nil // secondaries report an empty list
		}
		out.Members = append(out.Members, Member{
			ARN: arn, ID: id, Region: region,
			IsWriter:        aws.ToBool(m.IsWriter),
			Readers:         m.Readers,
			WriteForwarding: string(m.GlobalWriteForwardingStatus),
			Sync:            string(m.SynchronizationStatus),
		})
	}
	// RDS may send an empty element; only a status means an operation runs.
	if fs := g.FailoverState; fs != nil && fs.Status != "" {
		out.Failover = &FailoverState{
			Status:          string(fs.Status),
			From:            aws.ToString(fs.FromDbClusterArn),
			To:              aws.ToString(fs.ToDbClusterArn),
			DataLossAllowed: aws.ToBool(fs.IsDataLossAllowed),
		}
	}
	return out
}

// targetARN resolves target (ARN or identifier) to a member's ARN: RDS finds a secondary in
// another region by ARN only.
func (c *Client) targetARN(ctx context.Context, globalID, target string) (string, error) {
	if _, _, ok := ParseClusterARN(target); ok {
		return target, nil
	}
	g, err := c.GlobalCluster(ctx, globalID)
	if err != nil {
		return "", err
	}
	m, ok := g.Member(target)
	if !ok {
		return "", fmt.Errorf("cluster %s is not a member of global cluster %s", target, globalID)
	}
	return m.ARN, nil
}

// Switchover starts a planned switchover of globalID to target (ARN or identifier): RDS waits
// for the secondary to catch up, so no data is lost. It returns the global cluster as RDS
// reports it once the switchover is accepted; WaitWriter follows it to the end.
func (c *Client) Switchover(ctx context.Context, globalID, target string) (GlobalCluster, error) {
	arn, err := c.targetARN(ctx, globalID, target)
	if err != nil {
		return GlobalCluster{}, fmt.Errorf("switch over global cluster %s to %s: %w", globalID, target, err)
	}
	out, err := c.rdsClient(c.opts.Region).SwitchoverGlobalCluster(ctx, &rds.SwitchoverGlobalClusterInput{
		GlobalClusterIdentifier: aws.String(globalID), TargetDbClusterIdentifier: aws.String(arn),
	})
	if err != nil {
		return GlobalCluster{}, fmt.Errorf("switch over global cluster %s to %s: %w", globalID, arn, err)
	}
	if out.GlobalCluster == nil {
		return GlobalCluster{}, fmt.Errorf("switch over global cluster %s to %s: RDS returned no global cluster", globalID, arn)
	}
	return convert(*out.GlobalCluster), nil
}

// Failover starts an unplanned failover of globalID to target (ARN or identifier). With
// allowDataLoss it does not wait for the secondary: it is fast and loses the writes not yet
// replicated, which is what a regional outage needs. Without it, RDS runs a switchover.
func (c *Client) Failover(ctx context.Context, globalID, target string, allowDataLoss bool) (GlobalCluster, error) {
	arn, err := c.targetARN(ctx, globalID, target)
	if err != nil {
		return GlobalCluster{}, fmt.Errorf("fail over global cluster %s to %s: %w", globalID, target, err)
	}
	in := &rds.FailoverGlobalClusterInput{GlobalClusterIdentifier: aws.String(globalID), TargetDbClusterIdentifier: aws.String(arn)}
	if allowDataLoss {
		in.AllowDataLoss = aws.Bool(true)
	} else {
		in.Switchover = aws.Bool(true)
	}
	out, err := c.rdsClient(c.opts.Region).FailoverGlobalCluster(ctx, in)
	if err != nil {
		return GlobalCluster{}, fmt.Errorf("fail over global cluster %s to %s: %w", globalID, arn, err)
	}
	if out.GlobalCluster == nil {
		return GlobalCluster{}, fmt.Errorf("fail over global cluster %s to %s: RDS returned no global cluster", globalID, arn)
	}
	return convert(*out.GlobalCluster), nil
}

// WaitWriter polls globalID every poll until target (ARN or identifier) is its writer and no
// switchover or failover runs. Transient errors (5xx, timeouts, throttling) are polled
// through, since a region in trouble answers some calls only; client errors end the wait. On
// ctx's end it returns the last state seen with an error saying what it was.
func (c *Client) WaitWriter(ctx context.Context, globalID, target string, poll time.Duration) (GlobalCluster, error) {
	if poll <= 0 {
		poll = 10 * time.Second
	}
	var last GlobalCluster
	var lastErr error
	for {
		g, err := c.GlobalCluster(ctx, globalID)
		switch {
		case err == nil:
			last, lastErr = g, nil
			m, ok := g.Member(target)
			if !ok {
				return g, fmt.Errorf("wait for %s to become the writer of %s: it is not a member", target, globalID)
			}
			if m.IsWriter && g.Failover == nil {
				return g, nil
			}
		case ctx.Err() == nil && isPermanent(err):
			return last, fmt.Errorf("wait for %s to become the writer of %s: %w", target, globalID, err)
		case ctx.Err() == nil:
			lastErr = err
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			if lastErr != nil {
				return last, fmt.Errorf("wait for %s to become the writer of %s: %w (last error: %w)", target, globalID, ctx.Err(), lastErr)
			}
			return last, fmt.Errorf("wait for %s to become the writer of %s: %w (last seen: %s)", target, globalID, ctx.Err(), describe(last))
		case <-t.C:
		}
	}
}

// describe summarises a global cluster's state for an error message.
func describe(g GlobalCluster) string {
	w := "none"
	if m, ok := g.Writer(); ok {
		w = m.ARN
	}
	s := fmt.Sprintf("status %s, writer %s", g.Status, w)
	if g.Failover != nil {
		s += fmt.Sprintf(", %s from %s to %s", g.Failover.Status, g.Failover.From, g.Failover.To)
	}
	return s
}
