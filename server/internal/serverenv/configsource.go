package serverenv

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"
)

// ConfigSource supplies what a backup keeps of the configuration: the effective config (what
// the server runs with, environment overrides included, secrets included: a restore needs
// them) and every file kept beside it (SAML certificates and keys, config.json as written).
type ConfigSource struct {
	Server *Server
	// Config returns the unsanitized effective config (plugin API GetUnsanitizedConfig).
	Config func() *model.Config
	// OpenDB opens a database by URL, for database-stored config.
	OpenDB func(dsn string) (*sql.DB, error)
}

// Effective returns the effective config as indented JSON.
func (c *ConfigSource) Effective(context.Context) ([]byte, error) {
	b, err := json.MarshalIndent(c.Config(), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode the effective config: %w", err)
	}
	return b, nil
}

// Files calls fn for each file of the config folder (relative slash paths, sorted), or for
// each row of ConfigurationFiles when config lives in the database.
func (c *ConfigSource) Files(ctx context.Context, fn func(name string, size int64, r io.Reader) error) error {
	if c.Server.ConfigDSN != "" {
		return c.dbFiles(ctx, fn)
	}
	dir := c.Server.ConfigDir()
	// Opened as a root, so a link placed in the folder cannot lead the walk outside it.
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("read config folder %s: %w", dir, err)
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("read config folder %s: %w", dir, err)
		}
		if !d.Type().IsRegular() {
			return nil // folders are walked; links and devices are not config files
		}
		f, err := root.Open(p)
		if err != nil {
			return fmt.Errorf("read config file %s: %w", filepath.Join(dir, p), err)
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			return err
		}
		return fn(p, info.Size(), f)
	})
}

func (c *ConfigSource) dbFiles(ctx context.Context, fn func(name string, size int64, r io.Reader) error) error {
	db, err := c.OpenDB(c.Server.ConfigDSN)
	if err != nil {
		return fmt.Errorf("open the config database: %w", err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT Name, Data FROM ConfigurationFiles ORDER BY Name`)
	if err != nil {
		return fmt.Errorf("read ConfigurationFiles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var data []byte
		if err := rows.Scan(&name, &data); err != nil {
			return err
		}
		if err := fn(name, int64(len(data)), strings.NewReader(string(data))); err != nil {
			return err
		}
	}
	return rows.Err()
}
