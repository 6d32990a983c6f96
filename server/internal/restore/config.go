package restore

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdsn"
)

// maxConfigEntry bounds one entry of config.tar read into memory (config.json, a certificate),
// maxConfigTotal all of them: the config is held in memory before it is written.
const (
	maxConfigEntry = 64 << 20
	maxConfigTotal = 128 << 20
)

// config restores the effective configuration and the config files.
func (r *restorer) config(ctx context.Context) error {
	obj := r.m.Object(format.ComponentConfig)
	if obj == nil {
		return fmt.Errorf("backup %s has no config", r.m.ID)
	}
	plain, err := format.OpenObject(ctx, r.o.From, obj.Key, r.o.Identities)
	if err != nil {
		return err
	}
	defer plain.Close()
	var effective []byte
	files := map[string][]byte{}
	tr := tar.NewReader(&boundedReader{r: plain, limit: obj.PlainSize, record: "the manifest records for the config"})
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", obj.Key, err)
		}
		if h.Size > maxConfigEntry {
			return fmt.Errorf("%s: entry %s is %d bytes, more than a config file can be", obj.Key, h.Name, h.Size)
		}
		if total += h.Size; total > maxConfigTotal {
			return fmt.Errorf("%s: its entries hold more than the %d MiB a config folder can hold (a forged or damaged object): nothing of the config was written", obj.Key, maxConfigTotal>>20)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return fmt.Errorf("read %s from %s: %w", h.Name, obj.Key, err)
		}
		switch {
		case h.Name == format.EffectiveConfigName:
			effective = b
		case strings.HasPrefix(h.Name, format.ConfigFilesDir):
			name := strings.TrimPrefix(h.Name, format.ConfigFilesDir)
			if !safeRelPath(name) {
				return fmt.Errorf("%s: unsafe config file name %q", obj.Key, name)
			}
			files[name] = b
		}
	}
	if effective == nil {
		return fmt.Errorf("%s holds no %s", obj.Key, format.EffectiveConfigName)
	}
	cfg, err := r.rewriteConfig(effective)
	if err != nil {
		return err
	}
	if r.o.ConfigDir != "" {
		if err := r.configToDir(cfg, files); err != nil {
			return err
		}
	}
	if r.o.ConfigToDatabase {
		if err := r.configToDatabase(ctx, cfg, files); err != nil {
			return err
		}
	}
	return nil
}

// rewriteConfig points the restored config at the new database and file store, unless
// KeepConfigPaths: the backup's config names the old server's.
func (r *restorer) rewriteConfig(effective []byte) ([]byte, error) {
	var cfg map[string]any
	if err := json.Unmarshal(effective, &cfg); err != nil {
		return nil, fmt.Errorf("the backup's config is not valid JSON: %w", err)
	}
	if r.o.KeepConfigPaths {
		return json.MarshalIndent(cfg, "", "    ")
	}
	section := func(name string) map[string]any {
		s, _ := cfg[name].(map[string]any)
		if s == nil {
			s = map[string]any{}
			cfg[name] = s
		}
		return s
	}
	if r.o.DatabaseURL != "" {
		sql := section("SqlSettings")
		sql["DataSource"] = r.o.DatabaseURL
		sql["DataSourceReplicas"] = []string{}
		sql["DataSourceSearchReplicas"] = []string{}
		r.printf("config: SqlSettings.DataSource set to %s (replicas cleared)", pgdsn.Redact(r.o.DatabaseURL))
	}
	fs := section("FileSettings")
	switch {
	case r.o.FilesToS3 != nil:
		s3 := r.o.FilesToS3
		fs["DriverName"] = "amazons3"
		fs["AmazonS3Bucket"] = s3.Bucket
		fs["AmazonS3PathPrefix"] = s3.Prefix
		if s3.Region != "" {
			fs["AmazonS3Region"] = s3.Region
		}
		if s3.Endpoint != "" {
			if u, err := url.Parse(s3.Endpoint); err == nil && u.Host != "" {
				fs["AmazonS3Endpoint"] = u.Host
				fs["AmazonS3SSL"] = u.Scheme == "https"
			}
		}
		r.printf("config: FileSettings now use the S3 bucket %s (prefix %q); check the S3 credentials in the config", s3.Bucket, s3.Prefix)
	case r.o.DataDir != "":
		abs, err := filepath.Abs(r.o.DataDir)
		if err != nil {
			return nil, err
		}
		fs["DriverName"] = "local"
		fs["Directory"] = abs + string(filepath.Separator)
		r.printf("config: FileSettings.Directory set to %s", abs)
	}
	return json.MarshalIndent(cfg, "", "    ")
}

func safeRelPath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, `\`) {
		return false
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}

// configToDir writes config.json and the config files. What is already there is kept aside
// (name.before-restore-<time>), never overwritten: a new server's package ships a config.json.
func (r *restorer) configToDir(cfg []byte, files map[string][]byte) error {
	root, err := openDir(r.o.ConfigDir, "config folder")
	if err != nil {
		return err
	}
	defer root.Close()
	stamp := time.Now().UTC().Format("20060102T150405Z")
	write := func(name string, b []byte) error {
		rel := filepath.FromSlash(name)
		if err := root.MkdirAll(filepath.Dir(rel), 0o750); err != nil {
			return fmt.Errorf("write %s in %s: %w", name, r.o.ConfigDir, err)
		}
		if fi, err := root.Lstat(rel); err == nil {
			same := false
			if fi.Mode().IsRegular() { // a link is kept aside, never read through
				old, err := root.ReadFile(rel)
				same = err == nil && bytes.Equal(old, b)
			}
			if !same {
				aside := rel + ".before-restore-" + stamp
				if err := root.Rename(rel, aside); err != nil {
					return fmt.Errorf("keep the existing %s aside in %s: %w", name, r.o.ConfigDir, err)
				}
				r.printf("config: the existing %s is kept as %s", filepath.Join(r.o.ConfigDir, rel), filepath.Base(aside))
			}
		}
		if err := writeFileIn(root, rel, rel+".tmp", b); err != nil {
			return fmt.Errorf("write %s in %s: %w", name, r.o.ConfigDir, err)
		}
		return nil
	}
	if err := write("config.json", append(cfg, '\n')); err != nil {
		return err
	}
	written := 0
	for name, b := range files {
		if name == "config.json" {
			continue // the effective config (rewritten) wins over the file as it was
		}
		if err := write(name, b); err != nil {
			return err
		}
		written++
	}
	r.printf("config: config.json and %d other config files written to %s", written, r.o.ConfigDir)
	return nil
}

// configToDatabase makes the restored config the active row of the Configurations table and
// stores the config files in ConfigurationFiles, as Mattermost's database config store does.
func (r *restorer) configToDatabase(ctx context.Context, cfg []byte, files map[string][]byte) error {
	conn, err := pgdsn.Connect(ctx, r.o.DatabaseURL, "")
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	now := time.Now().UnixMilli()
	if _, err := tx.Exec(ctx, `UPDATE Configurations SET Active = NULL WHERE Active`); err != nil {
		return fmt.Errorf("the target database has no Configurations table (restore the database first): %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO Configurations (Id, Value, CreateAt, Active) VALUES ($1, $2, $3, true)`, model.NewId(), string(cfg), now); err != nil {
		return fmt.Errorf("store the config in Configurations: %w", err)
	}
	for name, b := range files {
		_, err := tx.Exec(ctx, `INSERT INTO ConfigurationFiles (Name, Data, CreateAt, UpdateAt) VALUES ($1, $2, $3, $3)
			ON CONFLICT (Name) DO UPDATE SET Data = EXCLUDED.Data, UpdateAt = EXCLUDED.UpdateAt`, name, string(b), now)
		if err != nil {
			return fmt.Errorf("store config file %s in ConfigurationFiles: %w", name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	r.printf("config: stored in the database's Configurations table (active) with %d config files", len(files))
	return nil
}
