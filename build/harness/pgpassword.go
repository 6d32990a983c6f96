package harness

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// PasswordRole creates a login role that owns database db (created empty) and may only
// connect over TCP with its password (scram-sha-256), as a production server's role does: the
// cluster's other roles keep trust authentication. It returns a URL without the password.
func (pg *Postgres) PasswordRole(ctx context.Context, role, password, db string) (string, error) {
	admin, err := sql.Open("pgx", pg.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer admin.Close()
	for _, q := range []string{
		"SET password_encryption = 'scram-sha-256'",
		"CREATE ROLE " + pgx.Identifier{role}.Sanitize() + " LOGIN PASSWORD '" + strings.ReplaceAll(password, "'", "''") + "'",
		"CREATE DATABASE " + pgx.Identifier{db}.Sanitize() + " OWNER " + pgx.Identifier{role}.Sanitize(),
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			return "", fmt.Errorf("password role %s: %w", role, err)
		}
	}
	// pg_hba.conf is read top down: this line, first, makes the role's TCP logins need the password.
	hba := filepath.Join(pg.Dir, "pg_hba.conf")
	old, err := os.ReadFile(hba)
	if err != nil {
		return "", err
	}
	line := fmt.Sprintf("host all %s 127.0.0.1/32 scram-sha-256\n", role)
	if err := os.WriteFile(hba, append([]byte(line), old...), 0o600); err != nil {
		return "", err
	}
	if _, err := admin.ExecContext(ctx, "SELECT pg_reload_conf()"); err != nil {
		return "", err
	}
	url := fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", role, pg.Port, db)
	return url, pg.waitPasswordNeeded(ctx, url)
}

// waitPasswordNeeded waits until the postmaster has reloaded pg_hba.conf (it does so
// asynchronously): a login without the password is then refused.
func (pg *Postgres) waitPasswordNeeded(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return err
	}
	cfg.Password = ""
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return nil //nolint:nilerr // the refused login is what is awaited
		}
		_ = conn.Close(ctx)
		if time.Now().After(deadline) {
			return errors.New("pg_hba.conf reloaded, yet a login without the password still succeeds")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
