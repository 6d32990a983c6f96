// Package route53 is the client of the AWS Route 53 API that switches the DNS record users
// resolve from one region to the other: an UPSERT of the record with Route 53's ChangeResourceRecordSets, then GetChange until Route 53
// says the change reached all its name servers (INSYNC).
package route53

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
)

// Options configure a Client.
type Options struct {
	// AccessKeyID and SecretAccessKey (and SessionToken) are static credentials. Empty: the
	// default AWS chain.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Region signs the requests. Route 53 is global: us-east-1 (the default) in the aws
	// partition; another partition needs its own (cn-northwest-1, us-gov-west-1).
	Region string
	// Endpoint replaces the Route 53 endpoint (tests, proxies).
	Endpoint string
	// MaxAttempts bounds the attempts of each call, retries included (0: the SDK's 3).
	MaxAttempts int
}

// Client changes records in Route 53 hosted zones.
type Client struct {
	r53 *route53.Client
}

// New returns a client. With no static credentials it loads the default AWS configuration.
func New(ctx context.Context, o Options) (*Client, error) {
	if (o.AccessKeyID == "") != (o.SecretAccessKey == "") {
		return nil, errors.New("route 53 client: set both the access key ID and the secret access key, or neither to use the default AWS credentials")
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	var cfg aws.Config
	if o.AccessKeyID != "" {
		cfg = aws.Config{Region: o.Region, Credentials: credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, o.SessionToken)}
	} else {
		var err error
		if cfg, err = config.LoadDefaultConfig(ctx, config.WithRegion(o.Region)); err != nil {
			return nil, fmt.Errorf("route 53 client: load the default AWS configuration: %w", err)
		}
	}
	return &Client{r53: route53.NewFromConfig(cfg, func(ro *route53.Options) {
		if o.Endpoint != "" {
			ro.BaseEndpoint = aws.String(o.Endpoint)
		}
		if o.MaxAttempts > 0 {
			ro.RetryMaxAttempts = o.MaxAttempts
		}
	})}, nil
}

// UpsertRecord creates or replaces the record set name/typ in zoneID (with or without the
// /hostedzone/ prefix) with values and ttl, and returns the change id for WaitInsync.
func (c *Client) UpsertRecord(ctx context.Context, zoneID, name, typ string, ttl int64, values []string) (string, error) {
	if name == "" || typ == "" || len(values) == 0 || ttl <= 0 {
		return "", fmt.Errorf("upsert %s record %q in zone %s: a name, a type, at least one value and a positive TTL are required", typ, name, zoneID)
	}
	records := make([]types.ResourceRecord, 0, len(values))
	for _, v := range values {
		records = append(records, types.ResourceRecord{Value: aws.String(v)})
	}
	out, err := c.r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID),
		ChangeBatch: &types.ChangeBatch{
			Comment: aws.String("Mattermost disaster recovery: point " + name + " at the active region"),
			Changes: []types.Change{{
				Action: types.ChangeActionUpsert,
				ResourceRecordSet: &types.ResourceRecordSet{
					Name: aws.String(name), Type: types.RRType(strings.ToUpper(typ)), TTL: aws.Int64(ttl), ResourceRecords: records,
				},
			}},
		},
	})
	if err != nil {
		var icb *types.InvalidChangeBatch
		if errors.As(err, &icb) && len(icb.Messages) > 0 {
			// The SDK's message for this error is generic; Route 53's reasons are in Messages.
			return "", fmt.Errorf("upsert %s record %s in zone %s: %s: %w", typ, name, zoneID, strings.Join(icb.Messages, "; "), err)
		}
		return "", fmt.Errorf("upsert %s record %s in zone %s: %w", typ, name, zoneID, err)
	}
	if out.ChangeInfo == nil || aws.ToString(out.ChangeInfo.Id) == "" {
		return "", fmt.Errorf("upsert %s record %s in zone %s: Route 53 returned no change id", typ, name, zoneID)
	}
	return strings.TrimPrefix(aws.ToString(out.ChangeInfo.Id), "/change/"), nil
}

// WaitInsync polls the change every poll until Route 53 reports it INSYNC, or ctx ends.
func (c *Client) WaitInsync(ctx context.Context, changeID string, poll time.Duration) error {
	if poll <= 0 {
		poll = 5 * time.Second
	}
	// GetChange takes the bare id; ChangeInfo.Id carries a /change/ prefix.
	id := strings.TrimPrefix(changeID, "/change/")
	var last types.ChangeStatus
	for {
		out, err := c.r53.GetChange(ctx, &route53.GetChangeInput{Id: aws.String(id)})
		if err != nil {
			if ctx.Err() != nil && last != "" {
				// The deadline came during a poll: what matters is the last answer.
				return fmt.Errorf("wait for Route 53 change %s: still %s: %w", id, last, ctx.Err())
			}
			return fmt.Errorf("wait for Route 53 change %s: %w", id, err)
		}
		if out.ChangeInfo != nil {
			last = out.ChangeInfo.Status
		}
		if last == types.ChangeStatusInsync {
			return nil
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("wait for Route 53 change %s: still %s: %w", id, last, ctx.Err())
		case <-t.C:
		}
	}
}
