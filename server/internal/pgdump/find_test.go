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
	onHost(t)
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
	onHost(t)
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
	onHost(t)
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
	onHost(t)
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

// In a container, apt-get in the running container is not the fix (it is gone at the next
// restart): the message says to add the client to the image, and which setting to set.
func TestFindPgDumpMissingInContainer(t *testing.T) {
	tests := []struct {
		name  string
		marks []string
		env   map[string]string
		want  bool
	}{
		{"a Docker container", []string{"dockerenv"}, nil, true},
		{"a Kubernetes pod", nil, map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, true},
		{"a plain host", nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			onHost(t)
			containerMarks = []string{filepath.Join(dir, "dockerenv"), filepath.Join(dir, "containerenv")}
			for _, m := range tt.marks {
				require.NoError(t, os.WriteFile(filepath.Join(dir, m), nil, 0o600))
			}
			getenv = func(k string) string { return tt.env[k] }
			require.Equal(t, tt.want, InContainer())

			_, _, err := FindPgDump("/nonexistent/bin/pg_dump")
			require.ErrorIs(t, err, ErrPgDumpNotFound)
			if tt.want {
				assert.Contains(t, err.Error(), "add postgresql-client-N to the image")
				assert.Contains(t, err.Error(), "init container")
				assert.Contains(t, err.Error(), "BackupPgDumpPath")
				assert.NotContains(t, err.Error(), "on Debian/Ubuntu `apt-get install", "not the host's fix")
			} else {
				assert.Contains(t, err.Error(), "on Debian/Ubuntu `apt-get install postgresql-client-N`")
				assert.NotContains(t, err.Error(), "image")
			}
		})
	}
}

// onHost makes the tests see a plain host, also when they run in a container (CI may).
func onHost(t *testing.T) {
	oldMarks, oldGetenv := containerMarks, getenv
	t.Cleanup(func() { containerMarks, getenv = oldMarks, oldGetenv })
	containerMarks = []string{filepath.Join(t.TempDir(), "no-such-mark")}
	getenv = func(string) string { return "" }
}
