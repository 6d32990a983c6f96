// Package rds is the client of the AWS RDS and CloudWatch APIs for an Aurora global database:
// it reads its members and failover state (RDS) and the replication and RPO lag of its
// secondaries (CloudWatch, in each secondary's region), and takes the switchover and failover
// actions of the failover runbook.
package rds

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/smithy-go"
)

// Options configure a Client.
type Options struct {
	// Region receives the RDS calls about the global database (describe, switchover,
	// failover). Any region of the global database answers them; during a regional outage use
	// a healthy one.
	Region string
	// ClusterRegions gives the region of clusters named by identifier rather than ARN.
	// CloudWatch metrics are read in the cluster's own region; an ARN names it already.
	ClusterRegions map[string]string

	// AccessKeyID and SecretAccessKey (and SessionToken for temporary credentials) are static
	// credentials. Empty: the default AWS chain (environment, shared files, instance role).
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string

	// RDSEndpoint and CloudWatchEndpoint replace the AWS endpoints in every region (tests,
	// proxies); RegionEndpoints replaces them per region (VPC interface endpoints).
	RDSEndpoint        string
	CloudWatchEndpoint string
	RegionEndpoints    map[string]Endpoints

	// MaxAttempts bounds the attempts of each call, retries included (0: the SDK's 3).
	MaxAttempts int
	// LagWindow is how far back Lag looks for the newest datapoint (default 5 minutes).
	LagWindow time.Duration
}

// Endpoints are the endpoint URLs of one region.
type Endpoints struct {
	RDS        string
	CloudWatch string
}

// Client talks to RDS and CloudWatch in the regions of one global database. It is safe for
// concurrent use.
type Client struct {
	opts Options
	cfg  aws.Config
	now  func() time.Time

	mu  sync.Mutex
	rds map[string]*rds.Client
	cw  map[string]*cloudwatch.Client
}

// New returns a client. With no static credentials it loads the default AWS configuration,
// which is why it takes a context.
func New(ctx context.Context, o Options) (*Client, error) {
	if o.Region == "" {
		return nil, errors.New("aurora client: the region for RDS calls is required")
	}
	if (o.AccessKeyID == "") != (o.SecretAccessKey == "") {
		return nil, errors.New("aurora client: set both the access key ID and the secret access key, or neither to use the default AWS credentials")
	}
	if o.LagWindow <= 0 {
		o.LagWindow = 5 * time.Minute
	}
	var cfg aws.Config
	if o.AccessKeyID != "" {
		// Static keys: no need to read the environment or shared files, which might name a
		// profile that does not exist on this server.
		cfg = aws.Config{Region: o.Region, Credentials: credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, o.SessionToken)}
	} else {
		var err error
		if cfg, err = config.LoadDefaultConfig(ctx, config.WithRegion(o.Region)); err != nil {
			return nil, fmt.Errorf("aurora client: load the default AWS configuration: %w", err)
		}
	}
	return &Client{opts: o, cfg: cfg, now: time.Now, rds: map[string]*rds.Client{}, cw: map[string]*cloudwatch.Client{}}, nil
}

func (c *Client) endpoint(region string, pick func(Endpoints) string, all string) string {
	if ep := pick(c.opts.RegionEndpoints[region]); ep != "" {
		return ep
	}
	return all
}

func (c *Client) rdsClient(region string) *rds.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl := c.rds[region]; cl != nil {
		return cl
	}
	ep := c.endpoint(region, func(e Endpoints) string { return e.RDS }, c.opts.RDSEndpoint)
	cl := rds.NewFromConfig(c.cfg, func(o *rds.Options) {
		o.Region = region
		if ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
		if c.opts.MaxAttempts > 0 {
			o.RetryMaxAttempts = c.opts.MaxAttempts
		}
	})
	c.rds[region] = cl
	return cl
}

func (c *Client) cloudWatchClient(region string) *cloudwatch.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl := c.cw[region]; cl != nil {
		return cl
	}
	ep := c.endpoint(region, func(e Endpoints) string { return e.CloudWatch }, c.opts.CloudWatchEndpoint)
	cl := cloudwatch.NewFromConfig(c.cfg, func(o *cloudwatch.Options) {
		o.Region = region
		if ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
		if c.opts.MaxAttempts > 0 {
			o.RetryMaxAttempts = c.opts.MaxAttempts
		}
	})
	c.cw[region] = cl
	return cl
}

// ParseClusterARN splits arn:aws:rds:<region>:<account>:cluster:<id>.
func ParseClusterARN(arn string) (region, id string, ok bool) {
	f := strings.Split(arn, ":")
	if len(f) != 7 || f[0] != "arn" || f[2] != "rds" || f[5] != "cluster" || f[3] == "" || f[6] == "" {
		return "", "", false
	}
	return f[3], f[6], true
}

// clusterRegion returns the identifier and region of a cluster given by ARN or identifier.
func (c *Client) clusterRegion(cluster string) (id, region string, err error) {
	if region, id, ok := ParseClusterARN(cluster); ok {
		return id, region, nil
	}
	if strings.HasPrefix(cluster, "arn:") {
		return "", "", fmt.Errorf("%q is not an Aurora DB cluster ARN", cluster)
	}
	if r := c.opts.ClusterRegions[cluster]; r != "" {
		return cluster, r, nil
	}
	return "", "", fmt.Errorf("the region of cluster %s is unknown: give its ARN or its region in the settings", cluster)
}

// authCodes are the error codes AWS answers when credentials are wrong, expired or lack a
// permission.
var authCodes = map[string]bool{
	"InvalidClientTokenId": true, "UnrecognizedClientException": true, "SignatureDoesNotMatch": true,
	"InvalidSignatureException": true, "ExpiredToken": true, "ExpiredTokenException": true,
	"AccessDenied": true, "AccessDeniedException": true, "MissingAuthenticationToken": true,
	"MissingAuthenticationTokenException": true, "AuthFailure": true, "UnauthorizedOperation": true,
}

// IsAuthError tells whether err is AWS refusing the credentials or the permission.
func IsAuthError(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && authCodes[ae.ErrorCode()]
}

// isPermanent tells whether retrying err cannot help: AWS answered with a client error other
// than throttling (which the Query protocol answers with 400).
func isPermanent(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && (strings.Contains(ae.ErrorCode(), "Throttl") || ae.ErrorCode() == "RequestLimitExceeded") {
		return false
	}
	var se interface{ HTTPStatusCode() int }
	if errors.As(err, &se) {
		code := se.HTTPStatusCode()
		return code >= 400 && code < 500 && code != 429
	}
	return false
}
