package s3

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/redact"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
)

// Config says where and how backups are written to S3 (AWS or any S3-compatible store).
type Config struct {
	Bucket   string
	Prefix   string // folder inside the bucket; leading and trailing slashes are ignored
	Region   string // empty: from the environment or shared config (us-east-1 with a custom Endpoint)
	Endpoint string // empty for AWS; else the store's URL, such as https://minio.example.com:9000
	// PathStyle addresses buckets as <endpoint>/<bucket> instead of <bucket>.<endpoint>; most
	// S3-compatible stores (MinIO) need it.
	PathStyle bool
	// AccessKeyID and SecretAccessKey are static credentials. Both empty: the default AWS
	// credential chain (environment, shared profile, web identity, instance or task role).
	AccessKeyID     string
	SecretAccessKey string
	StorageClass    string // empty: the bucket's default (STANDARD)
	SSE             string // server-side encryption: "", "AES256" or "aws:kms"
	SSEKMSKeyID     string // KMS key for "aws:kms"; empty: the account's aws/s3 key
}

// String describes the configuration without its secret.
func (c Config) String() string {
	secret := ""
	if c.SecretAccessKey != "" {
		secret = "[redacted]"
	}
	return fmt.Sprintf("{Bucket:%s Prefix:%s Region:%s Endpoint:%s PathStyle:%t AccessKeyID:%s SecretAccessKey:%s StorageClass:%s SSE:%s SSEKMSKeyID:%s}",
		c.Bucket, c.Prefix, c.Region, redact.ShownURL(c.Endpoint), c.PathStyle, c.AccessKeyID, secret, c.StorageClass, c.SSE, c.SSEKMSKeyID)
}

// GoString is String, so that %#v does not print the secret either.
func (c Config) GoString() string { return "s3.Config" + c.String() }

// ConfigError is one problem with one setting. Validate returns them joined (errors.Join); a
// caller can unwrap them to show each next to its field.
type ConfigError struct {
	Setting string // the Config field: "Bucket", "Endpoint"…
	Problem string // what is wrong and what to do
}

func (e *ConfigError) Error() string { return "S3 setting " + e.Setting + ": " + e.Problem }

func problem(setting, format string, args ...any) error {
	return &ConfigError{Setting: setting, Problem: fmt.Sprintf(format, args...)}
}

var (
	bucketChars  = regexp.MustCompile(`^[a-z0-9.-]+$`)
	ipLike       = regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+$`)
	awsRegion    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	customRegion = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// Storage classes whose objects cannot be read without first asking S3 to restore them (hours):
// backups there could be neither verified nor restored by the plugin.
var archiveClasses = []string{string(types.StorageClassGlacier), string(types.StorageClassDeepArchive)}

// Validate checks every setting and returns all the problems found, each naming its setting
// and saying what to fix, or nil.
func (c Config) Validate() error {
	var errs []error
	errs = append(errs, validateBucket(c.Bucket))
	if p := strings.Trim(c.Prefix, "/"); p != "" {
		if err := storage.ValidateKey(p); err != nil {
			errs = append(errs, problem("Prefix", "%q is not a usable folder name (%v): use a path such as mattermost/backups", c.Prefix, unwrapKeyError(err)))
		} else if len(p) > 1024-storage.MaxKeyLength-1 {
			errs = append(errs, problem("Prefix", "is %d bytes long: keep it under %d bytes", len(p), 1024-storage.MaxKeyLength-1))
		}
	}
	errs = append(errs, c.validateEndpoint(), c.validateRegion())
	switch {
	case c.AccessKeyID != "" && c.SecretAccessKey == "":
		errs = append(errs, problem("SecretAccessKey", "is empty while AccessKeyID is set: set both, or neither to use the default AWS credential chain (environment, shared profile, instance role)"))
	case c.AccessKeyID == "" && c.SecretAccessKey != "":
		errs = append(errs, problem("AccessKeyID", "is empty while SecretAccessKey is set: set both, or neither to use the default AWS credential chain (environment, shared profile, instance role)"))
	case strings.TrimSpace(c.AccessKeyID) != c.AccessKeyID:
		errs = append(errs, problem("AccessKeyID", "has leading or trailing spaces: remove them"))
	case strings.TrimSpace(c.SecretAccessKey) != c.SecretAccessKey:
		errs = append(errs, problem("SecretAccessKey", "has leading or trailing spaces: remove them"))
	}
	if c.StorageClass != "" {
		var known []string
		for _, v := range types.StorageClass("").Values() {
			if !slices.Contains(archiveClasses, string(v)) {
				known = append(known, string(v))
			}
		}
		switch {
		case slices.Contains(archiveClasses, c.StorageClass):
			errs = append(errs, problem("StorageClass", "%s objects cannot be read until S3 restores them (hours), so backups could be neither verified nor restored: use STANDARD_IA or GLACIER_IR, and a bucket lifecycle rule to move older backups to %s", c.StorageClass, c.StorageClass))
		case !slices.Contains(known, c.StorageClass):
			errs = append(errs, problem("StorageClass", "%q is not an S3 storage class: leave it empty for the bucket's default, or use one of %s", c.StorageClass, strings.Join(known, ", ")))
		}
	}
	switch c.SSE {
	case "", string(types.ServerSideEncryptionAes256), string(types.ServerSideEncryptionAwsKms):
	default:
		errs = append(errs, problem("SSE", `%q is not a server-side encryption S3 supports here: use "" (the bucket's default), "AES256" (S3-managed keys) or "aws:kms" (KMS keys)`, c.SSE))
	}
	if c.SSEKMSKeyID != "" && c.SSE != string(types.ServerSideEncryptionAwsKms) {
		errs = append(errs, problem("SSEKMSKeyID", `is set but SSE is %q: set SSE to "aws:kms" to use the key, or clear SSEKMSKeyID`, c.SSE))
	}
	return errors.Join(errs...)
}

func unwrapKeyError(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// validateBucket applies AWS's naming rules for general purpose buckets.
func validateBucket(b string) error {
	const rules = "use 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit"
	switch {
	case b == "":
		return problem("Bucket", "is empty: set it to the name of the bucket backups go to")
	case len(b) < 3 || len(b) > 63:
		return problem("Bucket", "%q is %d characters long: %s", b, len(b), rules)
	case strings.ToLower(b) != b && bucketChars.MatchString(strings.ToLower(b)):
		return problem("Bucket", "%q has upper-case letters: bucket names are lower-case (%s)", b, strings.ToLower(b))
	case !bucketChars.MatchString(b):
		return problem("Bucket", "%q has characters S3 does not allow: %s", b, rules)
	case !isAlnum(b[0]) || !isAlnum(b[len(b)-1]):
		return problem("Bucket", "%q must start and end with a letter or digit: %s", b, rules)
	case strings.Contains(b, ".."):
		return problem("Bucket", "%q has two dots in a row: %s", b, rules)
	case ipLike.MatchString(b) || net.ParseIP(b) != nil:
		return problem("Bucket", "%q looks like an IP address, which S3 does not allow as a bucket name", b)
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(b, p) {
			return problem("Bucket", "%q starts with %q, which S3 reserves", b, p)
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(b, s) {
			return problem("Bucket", "%q ends with %q, which S3 reserves", b, s)
		}
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func (c Config) validateEndpoint() error {
	if c.Endpoint == "" {
		return nil
	}
	const example = "such as https://minio.example.com:9000 (leave it empty for AWS)"
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return problem("Endpoint", "is not a URL: set it to the S3 service's URL, %s", example)
	}
	shown := redact.ShownURL(c.Endpoint)
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return problem("Endpoint", "%q must start with https:// or http://: %s", shown, example)
	case u.Host == "" || u.Hostname() == "":
		return problem("Endpoint", "%q has no host name: %s", shown, example)
	case u.User != nil:
		return problem("Endpoint", "%q contains credentials: remove them from the URL and use AccessKeyID and SecretAccessKey", shown)
	case u.RawQuery != "" || u.Fragment != "":
		return problem("Endpoint", "%q has a query or fragment: use only scheme, host and port, %s", shown, example)
	case u.Path != "" && u.Path != "/":
		return problem("Endpoint", "%q has a path: use only scheme, host and port (the bucket is set in Bucket), %s", shown, example)
	}
	return nil
}

func (c Config) validateRegion() error {
	switch {
	case c.Region == "":
		return nil
	case c.Endpoint == "" && !awsRegion.MatchString(c.Region):
		return problem("Region", "%q is not an AWS region name: use the bucket's region, such as us-east-1 or eu-west-3", c.Region)
	case !customRegion.MatchString(c.Region):
		return problem("Region", "%q is not a region name: use the region your S3 service expects (MinIO's default is us-east-1)", c.Region)
	}
	return nil
}
