package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"filippo.io/age"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/local"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/storage/s3"
)

// s3Flags are the S3 connection flags shared by the commands. Credentials come from the
// flags or the standard AWS environment and profile chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, an
// instance role…).
type s3Flags struct {
	endpoint, region, accessKey, secretKey string
	pathStyle                              bool
}

func (f *s3Flags) register(fs *flag.FlagSet, prefix, what string) {
	fs.StringVar(&f.endpoint, prefix+"endpoint", "", "S3 endpoint URL of "+what+" (empty: AWS)")
	fs.StringVar(&f.region, prefix+"region", "", "S3 region of "+what+" (empty: from the AWS environment)")
	fs.BoolVar(&f.pathStyle, prefix+"path-style", false, "path-style S3 addressing for "+what+" (MinIO)")
	fs.StringVar(&f.accessKey, prefix+"access-key-id", "", "S3 access key of "+what+" (empty: the AWS credential chain)")
	fs.StringVar(&f.secretKey, prefix+"secret-access-key", "", "S3 secret key of "+what+" (prefer AWS_SECRET_ACCESS_KEY in the environment: an argument shows in the process list)")
}

// parseS3URL splits s3://bucket/prefix.
func parseS3URL(u string) (bucket, prefix string, ok bool) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok {
		return "", "", false
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	return bucket, strings.Trim(prefix, "/"), bucket != ""
}

func (f *s3Flags) config(bucket, prefix string) s3.Config {
	return s3.Config{Bucket: bucket, Prefix: prefix, Region: f.region, Endpoint: f.endpoint, PathStyle: f.pathStyle,
		AccessKeyID: f.accessKey, SecretAccessKey: f.secretKey}
}

// openStore opens --from: a folder or s3://bucket/prefix.
func openStore(ctx context.Context, from string, f *s3Flags) (storage.Store, error) {
	if from == "" {
		return nil, usageErr("--from is required: a backup folder (/var/backups/mattermost) or s3://bucket/prefix")
	}
	if bucket, prefix, ok := parseS3URL(from); ok {
		st, err := s3.New(ctx, f.config(bucket, prefix))
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", from, err)
		}
		return st, nil
	}
	if strings.Contains(from, "://") {
		return nil, usageErr("--from %q: use a folder or s3://bucket/prefix", from)
	}
	fi, err := os.Stat(from)
	if err != nil {
		return nil, fmt.Errorf("--from %s: %w", from, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("--from %s is not a folder", from)
	}
	st, err := local.New(from)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", from, err)
	}
	return st, nil
}

// loadIdentities reads the identity file (or DR_AGE_IDENTITY_FILE, DR_AGE_IDENTITY).
func loadIdentities(path string) ([]age.Identity, error) {
	ids, _, err := format.LoadIdentities(path)
	return ids, err
}

// loadTrustKey reads --trust-key: the public key itself or a file holding it (zero when empty).
func loadTrustKey(arg string) (format.PublicKey, error) {
	if strings.TrimSpace(arg) == "" {
		return format.PublicKey{}, nil
	}
	k, err := format.LoadPublicKey(arg)
	if err != nil {
		return format.PublicKey{}, usageErr("--trust-key: %v (give the public key `/dr version` shows)", err)
	}
	return k, nil
}

const trustKeyHelp = "public key (\"ssh-ed25519 AAAA…\", as `/dr version` shows it) or a file holding it: only backups this key signed are trusted"
