package drsettings

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Key is where the document lives at a backup destination, beside backups/ and pool/.
const Key = "dr-settings.json"

// FormatName and Version identify the document. A reader refuses a newer version: it cannot
// know what a newer field it ignores would have changed.
const (
	FormatName = "mattermost-dr-settings"
	Version    = 1
)

// maxBytes bounds what a reader accepts: the document is a few KiB.
const maxBytes = 1 << 20

// Document is the DR settings document. Every field is safe to store beside the backups.
type Document struct {
	Format            string             `json:"format"`
	Version           int                `json:"version"`
	Topology          string             `json:"topology"` // "single" or "two_regions"
	Regions           Regions            `json:"regions"`
	Database          Database           `json:"database"`
	S3Replication     *S3Replication     `json:"s3_replication,omitempty"`
	OpenSearch        *OpenSearch        `json:"opensearch,omitempty"`
	Route53           *Route53           `json:"route53,omitempty"`
	AWSEndpoint       string             `json:"aws_endpoint,omitempty"` // replaces the AWS API endpoints (VPC endpoints, tests)
	Thresholds        Thresholds         `json:"thresholds"`
	Backups           Backups            `json:"backups"`
	IdentityProviders *IdentityProviders `json:"identity_providers,omitempty"`
	// SigningKey is the backup signing key's public half (an authorized_keys line).
	SigningKey string `json:"signing_public_key,omitempty"`
	// Omitted names the settings left out because they could not be made safe (a DSN or URL
	// that does not parse): never their values.
	Omitted []string `json:"omitted,omitempty"`
}

// Regions are the deployment's regions.
type Regions struct {
	Primary              string `json:"primary,omitempty"`
	Secondary            string `json:"secondary,omitempty"`
	This                 string `json:"this,omitempty"` // the region of the cluster that wrote the document
	SchedulerInSecondary bool   `json:"scheduler_in_secondary,omitempty"`
}

// Database is the replicated database: an Aurora global database, self-hosted PostgreSQL
// streaming replication, or both described.
type Database struct {
	Aurora     *Aurora     `json:"aurora,omitempty"`
	PostgreSQL *PostgreSQL `json:"postgresql,omitempty"`
}

// Aurora names the global database and its clusters (identifiers or ARNs).
type Aurora struct {
	GlobalClusterID  string `json:"global_cluster_id"`
	PrimaryCluster   string `json:"primary_cluster,omitempty"`
	SecondaryCluster string `json:"secondary_cluster,omitempty"`
}

// PostgreSQL holds connection strings in libpq's key=value form WITHOUT passwords: the
// operator's PGPASSWORD or ~/.pgpass supplies them.
type PostgreSQL struct {
	PrimaryDSN  string   `json:"primary_dsn,omitempty"`  // Mattermost's SqlSettings.DataSource
	ReplicaDSNs []string `json:"replica_dsns,omitempty"` // SqlSettings.DataSourceReplicas
	StandbyDSN  string   `json:"standby_dsn,omitempty"`  // the DR standby (DRPostgresStandbyDataSource)
}

// S3Replication is the file store bucket and its replica.
type S3Replication struct {
	PrimaryBucket     string `json:"primary_bucket"`
	SecondaryBucket   string `json:"secondary_bucket"`
	PrimaryEndpoint   string `json:"primary_endpoint,omitempty"`
	SecondaryEndpoint string `json:"secondary_endpoint,omitempty"`
	PathStyle         bool   `json:"path_style,omitempty"`
	Prefix            string `json:"prefix,omitempty"` // Mattermost's FileSettings.AmazonS3PathPrefix
}

// OpenSearch is cross-cluster replication between the two clusters (URLs without credentials).
type OpenSearch struct {
	PrimaryURL         string   `json:"primary_url,omitempty"`
	SecondaryURL       string   `json:"secondary_url"`
	LeaderAlias        string   `json:"leader_alias,omitempty"`
	ReverseLeaderAlias string   `json:"reverse_leader_alias,omitempty"`
	Indices            []string `json:"indices,omitempty"`
	Roles              string   `json:"roles,omitempty"`
}

// Route53 is the record users resolve and its value in each region.
type Route53 struct {
	ZoneID          string   `json:"zone_id"`
	RecordName      string   `json:"record_name"`
	RecordType      string   `json:"record_type"`
	TTL             int      `json:"ttl"`
	PrimaryValues   []string `json:"primary_values,omitempty"`
	SecondaryValues []string `json:"secondary_values,omitempty"`
}

// Thresholds say when the status turns degraded or critical. Durations are Go durations ("30s").
type Thresholds struct {
	RPOLag                  string `json:"rpo_lag,omitempty"`
	BackupStaleAfter        string `json:"backup_stale_after,omitempty"`
	S3PendingObjects        int    `json:"s3_pending_objects,omitempty"`
	S3FailedObjects         int    `json:"s3_failed_objects,omitempty"`
	OpenSearchCheckpointLag int    `json:"opensearch_checkpoint_lag,omitempty"`
}

// RPOLagDuration is RPOLag parsed (0 when unset or invalid: the probe's default).
func (t Thresholds) RPOLagDuration() time.Duration { return parseDuration(t.RPOLag) }

// BackupStaleAfterDuration is BackupStaleAfter parsed (0: the probe's default).
func (t Thresholds) BackupStaleAfterDuration() time.Duration {
	return parseDuration(t.BackupStaleAfter)
}

func parseDuration(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0
	}
	return d
}

// Backups are the plugin's backup destinations (no keys).
type Backups struct {
	Local *LocalDestination `json:"local,omitempty"`
	S3    *S3Destination    `json:"s3,omitempty"`
}

// LocalDestination is a folder on the app nodes (often an NFS mount).
type LocalDestination struct {
	Folder string `json:"folder"`
}

// S3Destination is a bucket and prefix in S3 or an S3-compatible store.
type S3Destination struct {
	Bucket    string `json:"bucket"`
	Prefix    string `json:"prefix,omitempty"`
	Region    string `json:"region,omitempty"`
	Endpoint  string `json:"endpoint,omitempty"`
	PathStyle bool   `json:"path_style,omitempty"`
}

// URL is the destination as drctl's --from takes it.
func (d S3Destination) URL() string {
	if d.Prefix == "" {
		return "s3://" + d.Bucket
	}
	return "s3://" + d.Bucket + "/" + d.Prefix
}

// Marshal is the document as stored: indented JSON ending in a newline. The same document
// always gives the same bytes, so the plugin can tell whether the stored one is current.
func Marshal(d Document) ([]byte, error) {
	d.Format, d.Version = FormatName, Version
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode the DR settings document: %w", err)
	}
	return append(b, '\n'), nil
}

// ErrUnsupported is wrapped by Parse's errors for a document this reader cannot use.
var ErrUnsupported = errors.New("unsupported DR settings document")

// Parse reads a stored document and checks that this reader understands it.
func Parse(b []byte) (Document, error) {
	var d Document
	if len(b) > maxBytes {
		return d, fmt.Errorf("%w: larger than %d bytes", ErrUnsupported, maxBytes)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return d, fmt.Errorf("%w: not valid JSON: %w", ErrUnsupported, err)
	}
	switch {
	case d.Format != FormatName:
		return d, fmt.Errorf("%w: its format is %q, not %q", ErrUnsupported, d.Format, FormatName)
	case d.Version > Version:
		return d, fmt.Errorf("%w: version %d was written by a newer plugin; use the drctl of that plugin version", ErrUnsupported, d.Version)
	case d.Version < 1:
		return d, fmt.Errorf("%w: version %d", ErrUnsupported, d.Version)
	}
	return d, nil
}
