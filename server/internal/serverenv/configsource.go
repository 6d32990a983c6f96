package serverenv

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/backup"
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

// A backup keeps in its manifest what the folder walk leaves out.
var _ backup.WarningConfigSource = (*ConfigSource)(nil)

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
	return c.FilesWarning(ctx, fn, nil)
}

// FilesWarning is Files, telling warn about links it leaves out. A folder is read as the
// server reads it (configFolder): links that stay inside it are followed and read under
// their own names, Kubernetes' ..data folders are skipped, links leading outside are not read.
func (c *ConfigSource) FilesWarning(ctx context.Context, fn func(name string, size int64, r io.Reader) error, warn func(msg string)) error {
	if c.Server.ConfigDSN != "" {
		return c.dbFiles(ctx, fn)
	}
	return configFolder{dir: c.Server.ConfigDir()}.files(ctx, fn, warn)
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
