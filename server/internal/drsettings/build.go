package drsettings

import (
	"net/url"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdsn"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/redact"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
)

// Sources are what the document is made of: the plugin's settings and what Mattermost knows.
type Sources struct {
	Config settings.Config
	// ThisRegion is this node's region (DR_REGION wins over the setting).
	ThisRegion string
	// PostgresPrimaryDSN and PostgresReplicaDSNs are Mattermost's own database (SqlSettings),
	// when it is PostgreSQL. Passwords are stripped here.
	PostgresPrimaryDSN  string
	PostgresReplicaDSNs []string
	// FileStorePrefix is Mattermost's FileSettings.AmazonS3PathPrefix.
	FileStorePrefix string
	// LocalBackupFolder is the local destination's folder, resolved; "" when there is none.
	LocalBackupFolder string
	// Mattermost is Mattermost's configuration: its enabled SSO providers go in (see
	// IdentityProvidersOf). Nil: none.
	Mattermost *model.Config
	// SigningKey is the backup signing key's public half (zero: none yet).
	SigningKey format.PublicKey
}

// Build makes the document. Anything that cannot be made safe is left out and named in
// Omitted, never copied as written.
func Build(s Sources) Document {
	c := s.Config
	b := &builder{}
	d := Document{
		Format: FormatName, Version: Version, Topology: strings.TrimSpace(c.DRTopology),
		Regions: Regions{Primary: strings.TrimSpace(c.DRPrimaryRegion), Secondary: strings.TrimSpace(c.DRSecondaryRegion),
			This: strings.TrimSpace(s.ThisRegion), SchedulerInSecondary: c.DRSchedulerInSecondary},
		AWSEndpoint: b.endpoint("DRAWSEndpoint", c.DRAWSEndpoint),
		Thresholds: Thresholds{RPOLag: c.RPOLagThreshold().String(), S3PendingObjects: c.DRS3PendingThreshold,
			S3FailedObjects: c.DRS3FailedThreshold, OpenSearchCheckpointLag: c.DROpenSearchLagThreshold},
	}
	if d.Topology == "" {
		d.Topology = "single"
	}
	if sa := c.StaleAfter(); sa > 0 {
		d.Thresholds.BackupStaleAfter = sa.String()
	}
	d.Database = b.database(s)
	d.S3Replication = b.s3Replication(c, s.FileStorePrefix)
	d.OpenSearch = b.openSearch(c)
	d.Route53 = route53(c)
	d.Backups = b.backups(c, s.LocalBackupFolder)
	if !s.SigningKey.IsZero() {
		d.SigningKey = s.SigningKey.String()
	}
	var omitted []string
	d.IdentityProviders, omitted = IdentityProvidersOf(s.Mattermost)
	b.omitted = append(b.omitted, omitted...)
	d.Omitted = b.omitted
	return d
}

// builder collects what was left out.
type builder struct{ omitted []string }

// dsn is dsn without its passwords; "" (and a note) when it does not parse.
func (b *builder) dsn(setting, dsn string) string {
	if strings.TrimSpace(dsn) == "" {
		return ""
	}
	out, err := pgdsn.StripPasswords(dsn)
	if err != nil {
		b.omitted = append(b.omitted, setting+": does not parse as a PostgreSQL connection string")
		return ""
	}
	return out
}

// endpoint is an API base URL without user info, query or fragment (where tokens hide).
func (b *builder) endpoint(setting, raw string) string {
	u := b.url(setting, raw)
	if u == nil {
		return ""
	}
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// pageURL is a document URL (SAML metadata, OpenID discovery) without user info; its query
// stays (metadata URLs carry the app ID there) unless a parameter is named like a secret.
func (b *builder) pageURL(setting, raw string) string {
	u := b.url(setting, raw)
	if u == nil {
		return ""
	}
	q := u.Query()
	for k := range q {
		if secretName(k) {
			b.omitted = append(b.omitted, setting+": the query parameter "+k+" was removed")
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	u.Fragment = ""
	return u.String()
}

func (b *builder) url(setting, raw string) *url.URL {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil
	}
	clean, err := redact.URL(raw, "")
	if err != nil {
		b.omitted = append(b.omitted, setting+": not a valid URL")
		return nil
	}
	u, err := url.Parse(clean)
	if err != nil || u.Host == "" {
		b.omitted = append(b.omitted, setting+": not a valid URL")
		return nil
	}
	return u
}

// secretName says whether a query parameter name reads like a credential.
func secretName(k string) bool {
	k = strings.ToLower(k)
	for _, w := range []string{"token", "secret", "password", "passwd", "key", "signature", "sig", "auth", "credential", "code"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

func (b *builder) database(s Sources) Database {
	c := s.Config
	var db Database
	if id := strings.TrimSpace(c.DRAuroraGlobalClusterID); id != "" {
		db.Aurora = &Aurora{GlobalClusterID: id, PrimaryCluster: strings.TrimSpace(c.DRAuroraPrimaryCluster),
			SecondaryCluster: strings.TrimSpace(c.DRAuroraSecondaryCluster)}
	}
	pg := PostgreSQL{PrimaryDSN: b.dsn("SqlSettings.DataSource", s.PostgresPrimaryDSN),
		StandbyDSN: b.dsn("DRPostgresStandbyDataSource", c.DRPostgresStandbyDataSource)}
	for _, r := range s.PostgresReplicaDSNs {
		if v := b.dsn("SqlSettings.DataSourceReplicas", r); v != "" {
			pg.ReplicaDSNs = append(pg.ReplicaDSNs, v)
		}
	}
	if pg.PrimaryDSN != "" || pg.StandbyDSN != "" || len(pg.ReplicaDSNs) > 0 {
		db.PostgreSQL = &pg
	}
	return db
}

func (b *builder) s3Replication(c settings.Config, prefix string) *S3Replication {
	if strings.TrimSpace(c.DRS3PrimaryBucket) == "" || strings.TrimSpace(c.DRS3SecondaryBucket) == "" {
		return nil
	}
	return &S3Replication{PrimaryBucket: strings.TrimSpace(c.DRS3PrimaryBucket), SecondaryBucket: strings.TrimSpace(c.DRS3SecondaryBucket),
		PrimaryEndpoint:   b.endpoint("DRS3PrimaryEndpoint", c.DRS3PrimaryEndpoint),
		SecondaryEndpoint: b.endpoint("DRS3SecondaryEndpoint", c.DRS3SecondaryEndpoint),
		PathStyle:         c.DRS3PathStyle, Prefix: prefix}
}

func (b *builder) openSearch(c settings.Config) *OpenSearch {
	if strings.TrimSpace(c.DROpenSearchSecondaryURL) == "" {
		return nil
	}
	return &OpenSearch{PrimaryURL: b.endpoint("DROpenSearchPrimaryURL", c.DROpenSearchPrimaryURL),
		SecondaryURL: b.endpoint("DROpenSearchSecondaryURL", c.DROpenSearchSecondaryURL),
		LeaderAlias:  strings.TrimSpace(c.DROpenSearchLeaderAlias), ReverseLeaderAlias: strings.TrimSpace(c.DROpenSearchReverseLeaderAlias),
		Indices: settings.SplitList(c.DROpenSearchIndices), Roles: strings.TrimSpace(c.DROpenSearchRoles)}
}

func route53(c settings.Config) *Route53 {
	if strings.TrimSpace(c.DRRoute53ZoneID) == "" {
		return nil
	}
	return &Route53{ZoneID: strings.TrimSpace(c.DRRoute53ZoneID), RecordName: strings.TrimSpace(c.DRRoute53RecordName),
		RecordType: strings.TrimSpace(c.DRRoute53RecordType), TTL: c.DRRoute53RecordTTL,
		PrimaryValues: settings.SplitList(c.DRRoute53PrimaryValue), SecondaryValues: settings.SplitList(c.DRRoute53SecondaryValue)}
}

func (b *builder) backups(c settings.Config, localFolder string) Backups {
	var out Backups
	if localFolder != "" {
		out.Local = &LocalDestination{Folder: localFolder}
	}
	if s3c, ok := c.S3(); ok {
		out.S3 = &S3Destination{Bucket: s3c.Bucket, Prefix: strings.Trim(s3c.Prefix, "/"), Region: s3c.Region,
			Endpoint: b.endpoint("BackupS3Endpoint", s3c.Endpoint), PathStyle: s3c.PathStyle}
	}
	return out
}
