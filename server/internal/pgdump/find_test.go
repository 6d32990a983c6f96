package pgdump

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePgDumpVersion(t *testing.T) {
	cases := []struct {
		out     string
		version string
		major   int
	}{
		{"pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)\n", "15.14", 15},
		{"pg_dump (PostgreSQL) 17.2\n", "17.2", 17},
		{"pg_dump (PostgreSQL) 18beta1\n", "18beta1", 18},
		{"pg_dump (PostgreSQL) 9.6.24\n", "9.6.24", 9},
	}
	for _, tc := range cases {
		v, m, err := parsePgDumpVersion(tc.out)
		require.NoError(t, err, tc.out)
		assert.Equal(t, tc.version, v)
		assert.Equal(t, tc.major, m)
	}
	_, _, err := parsePgDumpVersion("bash: pg_dump: command not found")
	assert.Error(t, err)
}

func TestCheckCompatible(t *testing.T) {
	cases := []struct {
		pgDump, server int
		want           string // "" for compatible
	}{
		{15, 15, ""},
		{16, 15, ""},
		{17, 13, ""},
		{14, 15, "postgresql-client-15"},
		{13, 17, "postgresql-client-17"},
		{0, 15, "cannot compare"},
		{15, 0, "cannot compare"},
	}
	for _, tc := range cases {
		err := CheckCompatible(tc.pgDump, tc.server)
		if tc.want == "" {
			assert.NoError(t, err, "%d vs %d", tc.pgDump, tc.server)
			continue
		}
		require.Error(t, err, "%d vs %d", tc.pgDump, tc.server)
		assert.Contains(t, err.Error(), tc.want)
	}
	err := CheckCompatible(14, 15)
	assert.ErrorIs(t, err, ErrPgDumpTooOld)
	assert.Contains(t, err.Error(), "apt-get install postgresql-client-15")
	assert.Contains(t, err.Error(), "PGDG")
	assert.Contains(t, err.Error(), "PgDumpPath")
}

// hidePgDump makes the search find nothing: PATH is an empty folder and the
// Debian folders are looked for somewhere empty.
func hidePgDump(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	old := pgDumpGlob
	pgDumpGlob = filepath.Join(t.TempDir(), "*", "bin", "pg_dump")
	t.Cleanup(func() { pgDumpGlob = old })
}

func TestFindPgDumpMissing(t *testing.T) {
	_, _, err := FindPgDump("/nonexistent/bin/pg_dump")
	require.ErrorIs(t, err, ErrPgDumpNotFound)
	assert.Contains(t, err.Error(), `PgDumpPath "/nonexistent/bin/pg_dump"`)
	assert.Contains(t, err.Error(), "postgresql-client-N")
	assert.Contains(t, err.Error(), "PGDG")

	_, _, err = FindPgDump("pg_dump_nonexistent")
	require.ErrorIs(t, err, ErrPgDumpNotFound)

	hidePgDump(t)
	_, _, err = FindPgDump("")
	require.ErrorIs(t, err, ErrPgDumpNotFound)
	assert.Contains(t, err.Error(), "looked in PATH and")
	assert.Contains(t, err.Error(), "postgresql-client-N")
}

func TestFindPgDump(t *testing.T) {
	requirePG(t)
	path, major, err := FindPgDump("")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, major, 15)
	t.Logf("found %s (major %d)", path, major)

	// A folder holding pg_dump, and a program name looked up in PATH.
	p, m, err := FindPgDump(filepath.Dir(path))
	require.NoError(t, err)
	assert.Equal(t, path, p)
	assert.Equal(t, major, m)
	t.Setenv("PATH", filepath.Dir(path))
	p, _, err = FindPgDump("pg_dump")
	require.NoError(t, err)
	assert.Equal(t, path, p)

	// Something that is not a pg_dump.
	_, _, err = FindPgDump("/bin/true")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a working pg_dump")
}

// fakePgDump writes a shell script that answers --version with version and
// otherwise runs body.
func fakePgDump(t *testing.T, version, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pg_dump")
	script := "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'pg_dump (PostgreSQL) " + version + "'; exit 0; fi\n" + body + "\n"
	require.NoError(t, os.WriteFile(p, []byte(script), 0o755))
	return p
}

func TestDumpPgDumpMissing(t *testing.T) {
	requirePG(t)
	_, url := createDB(t, "missing")
	for _, tc := range []struct {
		name     string
		explicit string
	}{
		{"PgDumpPath pointing nowhere", "/nonexistent/pg_dump"},
		{"nothing in PATH", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.explicit == "" {
				hidePgDump(t)
			}
			_, err := Dump(context.Background(), discard{}, Options{DataSource: url, PgDumpPath: tc.explicit})
			require.ErrorIs(t, err, ErrPgDumpNotFound)
			assert.Contains(t, err.Error(), "apt-get install postgresql-client-15", "names the package for the server's version")
			assert.Contains(t, err.Error(), "PGDG")
			assert.Contains(t, err.Error(), "PgDumpPath")
			t.Log(err)
		})
	}
}

func TestDumpPgDumpTooOld(t *testing.T) {
	requirePG(t)
	_, url := createDB(t, "tooold")
	old := fakePgDump(t, "14.9", "exit 3")
	_, err := Dump(context.Background(), discard{}, Options{DataSource: url, PgDumpPath: old})
	require.ErrorIs(t, err, ErrPgDumpTooOld)
	assert.Contains(t, err.Error(), old)
	assert.Contains(t, err.Error(), "pg_dump 14 cannot dump a PostgreSQL 15 server")
	assert.Contains(t, err.Error(), "postgresql-client-15")
	t.Log(err)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
