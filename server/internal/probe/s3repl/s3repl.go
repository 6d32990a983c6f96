// Package s3repl checks two-way S3 bucket replication between the file stores of two
// regions: versioning on both buckets, a replication rule on each pointing at the other, and
// the replication status of the newest objects. It works the same on AWS S3 and MinIO.
//
// On MinIO a rule's destination is the ARN of a registered remote target,
// arn:minio:replication::<target id>:<bucket>, whose endpoint the S3 API does not show: the
// probe can check the destination bucket's name, not which server holds it.
package s3repl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

// Component is the probe.Result component of this probe.
const Component = "s3"

// Metric names.
const (
	MetricPending    = "dr_s3_replication_pending_objects"
	MetricFailed     = "dr_s3_replication_failed_objects"
	MetricVersioning = "dr_s3_versioning_enabled"
)

// Defaults of Options.
const (
	DefaultSampleSize       = 20
	DefaultMaxListed        = 5000
	DefaultPendingThreshold = 10
	DefaultFailedThreshold  = 1
	DefaultMaxPendingAge    = 15 * time.Minute
	DefaultConcurrency      = 4
)

// ClientOptions describe how to reach one bucket's S3 service.
type ClientOptions struct {
	Region    string
	Endpoint  string // empty for AWS; http(s)://host:port for MinIO and other S3-compatible stores
	PathStyle bool   // MinIO needs it
	// Static credentials; empty AccessKeyID means the default chain (environment, shared
	// files, instance or task role).
	AccessKeyID, SecretAccessKey, SessionToken string
}

// NewClient returns an S3 client for o.
func NewClient(ctx context.Context, o ClientOptions) (*s3.Client, error) {
	var load []func(*config.LoadOptions) error
	if o.Region != "" {
		load = append(load, config.WithRegion(o.Region))
	}
	if o.AccessKeyID != "" {
		load = append(load, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, o.SessionToken)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("load the AWS configuration for the S3 client: %w", err)
	}
	return s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.PathStyle
	}), nil
}

// Bucket is one side of the replication.
type Bucket struct {
	Name   string
	Client *s3.Client
	// Label names the bucket in the output and metrics (a region name, say); default Name.
	// Give one when both buckets have the same name.
	Label string
}

func (b Bucket) label() string {
	if b.Label != "" {
		return b.Label
	}
	return b.Name
}

// Options say what to check and what is too much.
type Options struct {
	A, B Bucket
	// Prefix limits the sample to keys under it (Mattermost's FileSettings.AmazonS3PathPrefix).
	Prefix string
	// SampleSize is how many of the newest objects of each bucket get their replication status
	// read (one HeadObject each). Default DefaultSampleSize.
	SampleSize int
	// MaxListed bounds the keys listed per bucket to find the newest ones: S3 lists by key, not
	// by date, so a bigger bucket is sampled among its first MaxListed keys. Default
	// DefaultMaxListed.
	MaxListed int
	// PendingThreshold: this many PENDING objects in a bucket's sample or more is degraded
	// (1 reports any). Default DefaultPendingThreshold.
	PendingThreshold int
	// FailedThreshold: this many FAILED objects or more is critical; fewer, but some, is
	// degraded. Default DefaultFailedThreshold.
	FailedThreshold int
	// MaxPendingAge: an object still PENDING this long after it was written is degraded,
	// however few there are. Default DefaultMaxPendingAge; negative disables.
	MaxPendingAge time.Duration
	// Concurrency of HeadObject calls per bucket. Default DefaultConcurrency.
	Concurrency int
}

func (o Options) withDefaults() Options {
	if o.SampleSize <= 0 {
		o.SampleSize = DefaultSampleSize
	}
	if o.MaxListed <= 0 {
		o.MaxListed = DefaultMaxListed
	}
	if o.MaxListed < o.SampleSize {
		o.MaxListed = o.SampleSize
	}
	if o.PendingThreshold <= 0 {
		o.PendingThreshold = DefaultPendingThreshold
	}
	if o.FailedThreshold <= 0 {
		o.FailedThreshold = DefaultFailedThreshold
	}
	if o.MaxPendingAge == 0 {
		o.MaxPendingAge = DefaultMaxPendingAge
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	return o
}

// Probe checks the two buckets of Options; it satisfies status.Prober.
type Probe struct{ o Options }

// New returns the probe for o.
func New(o Options) *Probe { return &Probe{o: o.withDefaults()} }

// Component is the status component.
func (p *Probe) Component() string { return Component }

// Name says what is checked (the result names the buckets by their labels).
func (p *Probe) Name() string { return "S3 replication " + p.o.A.Name + " ⇄ " + p.o.B.Name }

// ReportsPartial is true: a bucket whose S3 service does not answer is reported beside the other.
func (p *Probe) ReportsPartial() bool { return true }

// Probe runs the check; it returns when ctx ends (the status runner owns the deadline). What
// it cannot check is reported as unknown, with the cause.
func (p *Probe) Probe(ctx context.Context) probe.Result {
	o := p.o
	res := probe.Result{Component: Component, State: probe.Healthy,
		Name: fmt.Sprintf("S3 replication %s ⇄ %s", o.A.label(), o.B.label())}
	if o.A.Name == "" && o.B.Name == "" {
		res.State = probe.NotConfigured
		res.Summary = "no replicated S3 buckets configured"
		return res
	}
	sides := [2]*side{{b: o.A, peer: o.B}, {b: o.B, peer: o.A}}
	done := make(chan struct{}, 2)
	for _, s := range sides {
		go func() {
			defer func() {
				if p := recover(); p != nil {
					s.err = fmt.Errorf("panic: %v", p)
				}
				done <- struct{}{}
			}()
			s.inspect(ctx, o)
		}()
	}
	<-done
	<-done

	res.Table = &probe.Table{Columns: []string{"Bucket", "Versioning", "Replicates to", "Rule", "Replica modifications",
		"Sampled", "Completed", "Pending", "Failed", "Replica", "No status", "Oldest pending"}}
	for _, s := range sides {
		s.report(&res, o)
	}
	res.Summary = summary(&res, sides)
	return res
}

func summary(res *probe.Result, sides [2]*side) string {
	var sampled, pending, failed int
	for _, s := range sides {
		sampled += s.sample.sampled
		pending += s.sample.pending
		failed += s.sample.failed
	}
	out := fmt.Sprintf("%d newest objects sampled: %d pending, %d failed", sampled, pending, failed)
	if res.State != probe.Healthy {
		out += fmt.Sprintf("; %d problem(s)", len(res.Findings))
	}
	return out
}

// unreachable says whether err means the S3 service did not answer at all (rather than
// answering with an error): its endpoint is down or unknown.
func unreachable(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return false
	}
	var dnsErr *net.DNSError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		(errors.As(err, &dnsErr) && dnsErr.IsNotFound)
}

// errorCode is the S3 error code of err ("" when S3 did not answer with one).
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// destinationBucket is the bucket a rule's destination ARN names: arn:aws:s3:::<bucket> on
// AWS, arn:minio:replication::<target id>:<bucket> on MinIO, or a plain name.
func destinationBucket(arn string) string {
	if i := strings.LastIndexByte(arn, ':'); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

func ageString(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min"
	default:
		return fmt.Sprintf("%.1f h", d.Hours())
	}
}
