package s3

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	valid := Config{Bucket: "mattermost-backups", Region: "eu-west-3"}
	cases := []struct {
		name    string
		change  func(*Config)
		setting string // "" when valid
		want    string
	}{
		{"minimal AWS", func(*Config) {}, "", ""},
		{"no region (from the environment)", func(c *Config) { c.Region = "" }, "", ""},
		{"everything", func(c *Config) {
			*c = Config{Bucket: "my.backups-1", Prefix: "/mattermost/prod/", Region: "us-gov-west-1", AccessKeyID: "AKIA", SecretAccessKey: "s",
				StorageClass: "STANDARD_IA", SSE: "aws:kms", SSEKMSKeyID: "arn:aws:kms:us-east-1:123:key/abc"}
		}, "", ""},
		{"MinIO", func(c *Config) {
			*c = Config{Bucket: "dr-test", Endpoint: "http://127.0.0.1:9000", PathStyle: true, Region: "my_region", AccessKeyID: "a", SecretAccessKey: "b"}
		}, "", ""},
		{"endpoint with slash", func(c *Config) { c.Endpoint = "https://s3.example.com/" }, "", ""},
		{"SSE AES256", func(c *Config) { c.SSE = "AES256" }, "", ""},
		{"GLACIER_IR", func(c *Config) { c.StorageClass = "GLACIER_IR" }, "", ""},

		{"empty bucket", func(c *Config) { c.Bucket = "" }, "Bucket", "is empty"},
		{"short bucket", func(c *Config) { c.Bucket = "ab" }, "Bucket", "is 2 characters long"},
		{"long bucket", func(c *Config) { c.Bucket = strings.Repeat("a", 64) }, "Bucket", "is 64 characters long"},
		{"upper-case bucket", func(c *Config) { c.Bucket = "My-Backups" }, "Bucket", "upper-case letters: bucket names are lower-case (my-backups)"},
		{"underscore", func(c *Config) { c.Bucket = "my_backups" }, "Bucket", "characters S3 does not allow"},
		{"leading hyphen", func(c *Config) { c.Bucket = "-backups" }, "Bucket", "start and end with a letter or digit"},
		{"trailing dot", func(c *Config) { c.Bucket = "backups." }, "Bucket", "start and end with a letter or digit"},
		{"double dot", func(c *Config) { c.Bucket = "my..backups" }, "Bucket", "two dots in a row"},
		{"IP address", func(c *Config) { c.Bucket = "192.168.5.4" }, "Bucket", "IP address"},
		{"reserved prefix", func(c *Config) { c.Bucket = "xn--backups" }, "Bucket", "reserves"},
		{"reserved suffix", func(c *Config) { c.Bucket = "backups-s3alias" }, "Bucket", "reserves"},

		{"prefix with ..", func(c *Config) { c.Prefix = "a/../b" }, "Prefix", `".." segment`},
		{"prefix with //", func(c *Config) { c.Prefix = "a//b" }, "Prefix", "empty segment"},
		{"prefix with backslash", func(c *Config) { c.Prefix = `a\b` }, "Prefix", "backslash"},

		{"AWS region typo", func(c *Config) { c.Region = "eu-west" }, "Region", "not an AWS region name"},
		{"region with spaces", func(c *Config) { c.Endpoint = "http://h"; c.Region = "my region" }, "Region", "not a region name"},

		{"endpoint without scheme", func(c *Config) { c.Endpoint = "minio.example.com:9000" }, "Endpoint", "must start with https:// or http://"},
		{"endpoint ftp", func(c *Config) { c.Endpoint = "ftp://minio.example.com" }, "Endpoint", "must start with https:// or http://"},
		{"endpoint no host", func(c *Config) { c.Endpoint = "https://" }, "Endpoint", "no host name"},
		{"endpoint with path", func(c *Config) { c.Endpoint = "https://s3.example.com/bucket" }, "Endpoint", "has a path"},
		{"endpoint with query", func(c *Config) { c.Endpoint = "https://s3.example.com?x=1" }, "Endpoint", "query"},
		{"endpoint not a URL", func(c *Config) { c.Endpoint = "http://[::1" }, "Endpoint", "is not a URL"},

		{"key without secret", func(c *Config) { c.AccessKeyID = "AKIA" }, "SecretAccessKey", "set both, or neither"},
		{"secret without key", func(c *Config) { c.SecretAccessKey = "s" }, "AccessKeyID", "set both, or neither"},
		{"key with spaces", func(c *Config) { c.AccessKeyID, c.SecretAccessKey = " AKIA", "s" }, "AccessKeyID", "spaces"},

		{"unknown storage class", func(c *Config) { c.StorageClass = "standard" }, "StorageClass", "not an S3 storage class"},
		{"GLACIER", func(c *Config) { c.StorageClass = "GLACIER" }, "StorageClass", "cannot be read until S3 restores them"},
		{"DEEP_ARCHIVE", func(c *Config) { c.StorageClass = "DEEP_ARCHIVE" }, "StorageClass", "lifecycle rule"},

		{"unknown SSE", func(c *Config) { c.SSE = "kms" }, "SSE", `use "" (the bucket's default), "AES256"`},
		{"KMS key without aws:kms", func(c *Config) { c.SSE = "AES256"; c.SSEKMSKeyID = "k" }, "SSEKMSKeyID", `set SSE to "aws:kms"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := valid
			c.change(&cfg)
			err := cfg.Validate()
			if c.setting == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, c.setting, ce.Setting)
			assert.Contains(t, err.Error(), "S3 setting "+c.setting+": ")
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	err := Config{Bucket: "A", StorageClass: "X", SSE: "Y"}.Validate()
	require.Error(t, err)
	joined, ok := err.(interface{ Unwrap() []error }) //nolint:errorlint // errors.Join's documented shape
	require.True(t, ok)
	var settings []string
	for _, e := range joined.Unwrap() {
		var ce *ConfigError
		require.True(t, errors.As(e, &ce))
		settings = append(settings, ce.Setting)
	}
	assert.Equal(t, []string{"Bucket", "StorageClass", "SSE"}, settings)
}

func TestConfigNeverShowsSecrets(t *testing.T) {
	cfg := Config{Bucket: "b", Endpoint: "https://user:endpoint-password@s3.example.com", AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(f, cfg)
		assert.NotContains(t, out, cfg.SecretAccessKey, f)
		assert.NotContains(t, out, "endpoint-password", f)
		assert.Contains(t, out, "AKIAEXAMPLE", f)
	}
	err := cfg.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "contains credentials")
	assert.NotContains(t, err.Error(), "endpoint-password")
}
