package verify

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/dbrestore"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/format"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdsn"
)

var drillNameUnsafe = regexp.MustCompile(`[^a-z0-9_]`)

// DrillDatabaseName is the default scratch database of a drill of backup id.
func DrillDatabaseName(id string) string {
	name := "dr_drill_" + drillNameUnsafe.ReplaceAllString(strings.ToLower(id), "_")
	return name[:min(len(name), 63)]
}

// drill restores the dump into a new scratch database with pg_restore, compares every table's
// row count with the manifest, and drops the database whatever happens.
func (vr *verifier) drill(ctx context.Context) (string, error) {
	d := vr.o.Drill
	if vr.o.PgRestore == "" {
		return "", &skipError{why: "no pg_restore: install the PostgreSQL client programs"}
	}
	obj := vr.m.Object(format.ComponentDatabase)
	if obj == nil {
		return "", &skipError{why: "the backup has no database dump"}
	}
	if t := vr.o.Trust; t != nil {
		if ok, why := t.Check(vr.o.Destination, vr.m); !ok {
			return "", &skipError{why: "not made by this server (" + why + "): a backup this server did not make is never restored into a database"}
		}
	}
	ids, readable := vr.identitiesFor(format.ComponentDatabase)
	if !readable {
		return "", &skipError{why: "the backup is encrypted and no identity was given: the dump cannot be restored"}
	}
	name := d.Database
	if name == "" {
		name = DrillDatabaseName(vr.m.ID)
	}
	admin, err := pgdsn.Connect(ctx, d.AdminURL, "")
	if err != nil {
		return "", fmt.Errorf("drill: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	quoted := pgx.Identifier{name}.Sanitize()
	// A drill killed half way leaves its database (and role) behind: start clean.
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+quoted+" WITH (FORCE)"); err != nil {
		return "", fmt.Errorf("drill: drop the leftover scratch database %s: %w", name, err)
	}
	restoreURL, dropRole, err := drillRole(ctx, admin, d, name)
	if err != nil {
		return "", err
	}
	defer dropRole()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+quoted+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		return "", fmt.Errorf("drill: create the scratch database %s (the drill database URL's user needs CREATEDB): %w", name, err)
	}
	defer dropScratch(ctx, admin, quoted)
	if restoreURL != d.AdminURL {
		if err := grantSchema(ctx, d.AdminURL, name, drillRoleName(name)); err != nil {
			return "", err
		}
	}

	start := time.Now()
	if err := vr.restoreDump(ctx, obj, ids, restoreURL, name); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		vr.problem("restore drill: %v", err)
		return "the dump did not restore", nil
	}
	restoreTime := time.Since(start)
	vr.mu.Lock()
	vr.v.DrillRestoreMS = restoreTime.Milliseconds()
	vr.mu.Unlock()

	conn, err := pgdsn.Connect(ctx, restoreURL, name)
	if err != nil {
		return "", fmt.Errorf("drill: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	counts, err := dbrestore.Count(ctx, conn, vr.m.TableRowCounts)
	if err != nil {
		return "", err
	}
	var rows int64
	mismatches := 0
	for _, c := range counts {
		if c.Err != nil {
			vr.problem("restore drill: table %s cannot be counted after the restore: %v", c.Name, c.Err)
			mismatches++
			continue
		}
		rows += c.Rows
		if c.Rows != c.Want {
			mismatches++
			if mismatches <= 20 {
				vr.problem("restore drill: table %s has %d rows after the restore, the manifest says %d", c.Name, c.Rows, c.Want)
			}
		}
	}
	if mismatches > 0 {
		return fmt.Sprintf("restored in %s; %d of %d tables differ", restoreTime.Round(10*time.Millisecond), mismatches, len(counts)), nil
	}
	return fmt.Sprintf("restored into %s in %s; %d tables, %d rows, every count equal to the manifest (database dropped)",
		name, restoreTime.Round(10*time.Millisecond), len(counts), rows), nil
}

// restoreDump streams the dump object into pg_restore connected to database on dsn's server.
func (vr *verifier) restoreDump(ctx context.Context, obj *format.Object, ids []age.Identity, dsn, database string) error {
	plain, err := format.OpenObject(ctx, vr.s, obj.Key, ids)
	if err != nil {
		return err
	}
	defer plain.Close()
	return dbrestore.Restore(ctx, vr.o.PgRestore, dsn, database, plain)
}

// drillRoleName is the role a drill into database name restores as.
func drillRoleName(name string) string {
	if !strings.HasPrefix(name, "dr_drill_") {
		name = "dr_drill_" + name
	}
	return name[:min(len(name), 63)]
}

// drillRole creates the role the dump is restored as: LOGIN with a random password, no other
// attribute, so that SQL carried by a dump (ALTER ROLE …, a function run by a materialized
// view) cannot change other roles or reach Mattermost's database. It returns the URL to
// restore with and a func that drops the role (after the database: defer it first).
func drillRole(ctx context.Context, admin *pgx.Conn, d *Drill, database string) (string, func(), error) {
	var canCreate bool
	var user string
	if err := admin.QueryRow(ctx, "SELECT current_user, rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user").Scan(&user, &canCreate); err != nil {
		return "", nil, fmt.Errorf("drill: read the attributes of the database user: %w", err)
	}
	if !canCreate {
		if d.DedicatedUser {
			return d.AdminURL, func() {}, nil
		}
		return "", nil, fmt.Errorf("drill: the database user %q cannot create a role for the drill (it has no CREATEROLE), and a dump is never restored as that user: "+
			"give it CREATEROLE, or set BackupDrillDatabaseURL to a user made for drills (CREATEDB, no rights on Mattermost's database)", user)
	}
	role := drillRoleName(database)
	quoted := pgx.Identifier{role}.Sanitize()
	if _, err := admin.Exec(ctx, "DROP ROLE IF EXISTS "+quoted); err != nil {
		return "", nil, fmt.Errorf("drill: drop the leftover drill role %s: %w", role, err)
	}
	password, verifier, err := scramVerifier()
	if err != nil {
		return "", nil, err
	}
	// The password goes as a SCRAM verifier, so the statement (which the server may log) does
	// not hold it.
	if _, err := admin.Exec(ctx, "CREATE ROLE "+quoted+" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT CONNECTION LIMIT 8 PASSWORD "+
		quoteLiteral(verifier)); err != nil {
		return "", nil, fmt.Errorf("drill: create the drill role %s: %w", role, err)
	}
	drop := func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_, _ = admin.Exec(dctx, "DROP ROLE IF EXISTS "+quoted)
	}
	u, err := pgdsn.AsUser(d.AdminURL, role, password)
	if err != nil {
		drop()
		return "", nil, err
	}
	return u, drop, nil
}

// grantSchema lets role create objects in the public schema of database (owned by the drill
// database URL's user, through pg_database_owner), and nothing else.
func grantSchema(ctx context.Context, adminURL, database, role string) error {
	conn, err := pgdsn.Connect(ctx, adminURL, database)
	if err != nil {
		return fmt.Errorf("drill: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "GRANT USAGE, CREATE ON SCHEMA public TO "+pgx.Identifier{role}.Sanitize()); err != nil {
		return fmt.Errorf("drill: let the drill role %s create tables in %s: %w", role, database, err)
	}
	return nil
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// scramVerifier makes a random password and its SCRAM-SHA-256 verifier as PostgreSQL stores
// it (RFC 5802, 4096 iterations).
func scramVerifier() (password, verifier string, err error) {
	var raw, salt [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", "", err
	}
	if _, err := rand.Read(salt[:]); err != nil {
		return "", "", err
	}
	password = hex.EncodeToString(raw[:])
	const iterations = 4096
	salted, err := pbkdf2.Key(sha256.New, password, salt[:], iterations, sha256.Size)
	if err != nil {
		return "", "", err
	}
	hmacOf := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(hmacOf(salted, "Client Key"))
	b64 := base64.StdEncoding.EncodeToString
	verifier = fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt[:]), b64(stored[:]), b64(hmacOf(salted, "Server Key")))
	return password, verifier, nil
}

// dropScratch drops the scratch database. The drill role's sessions end a moment after their
// clients close, and a user that is not a superuser may not end them itself (WITH (FORCE)
// fails then): it tries again for a while.
func dropScratch(ctx context.Context, admin *pgx.Conn, quoted string) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	for {
		_, err := admin.Exec(dctx, "DROP DATABASE IF EXISTS "+quoted+" WITH (FORCE)")
		if err == nil || dctx.Err() != nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}
