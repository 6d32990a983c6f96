package pgdump

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pgdsn"
)

func TestWALFileName(t *testing.T) {
	cases := []struct {
		tli  uint32
		lsn  string
		size int64
		prev bool
		want string
	}{
		{1, "0/2000028", 16 << 20, false, "000000010000000000000002"},
		{1, "0/2000100", 16 << 20, true, "000000010000000000000002"},
		{1, "0/3000000", 16 << 20, true, "000000010000000000000002"}, // an end at a boundary needs only the segment before
		{1, "0/3000000", 16 << 20, false, "000000010000000000000003"},
		{2, "16/B374D848", 16 << 20, false, "0000000200000016000000B3"},
		{3, "1/FF000000", 1 << 30, false, "000000030000000100000003"},  // 4 segments per "log"
		{10, "A/12345678", 1 << 20, false, "0000000A0000000A00000123"}, // 4096 segments per "log"
	}
	for _, c := range cases {
		lsn, err := ParseLSN(c.lsn)
		require.NoError(t, err)
		got, err := WALFileName(c.tli, lsn, c.size, c.prev)
		require.NoError(t, err)
		assert.Equal(t, c.want, got, "%+v", c)
	}
	_, err := WALFileName(1, 5, 3<<20, false)
	assert.Error(t, err, "not a power of two")
	for _, bad := range []string{"", "0", "0/", "x/1", "1/100000000"} {
		_, err := ParseLSN(bad)
		assert.Error(t, err, bad)
	}
}

// TestBaseBackupFailed classifies pg_basebackup 15's messages (as it printed them against
// PostgreSQL 15 while this was written) and says what to change.
func TestBaseBackupFailed(t *testing.T) {
	ds, err := pgdsn.Parse("postgres://mm:Sup3r-secret@db.internal:5432/mattermost")
	require.NoError(t, err)
	exit := &exec.ExitError{}
	cases := []struct {
		stderr string
		is     error
		says   []string
	}{
		{`pg_basebackup: error: connection to server at "10.0.0.5", port 5432 failed: FATAL:  must be superuser or replication role to start walsender`,
			ErrNoReplicationRole, []string{`ALTER ROLE "mm" REPLICATION;`}},
		{`pg_basebackup: error: connection to server at "10.0.0.5", port 5432 failed: FATAL:  permission denied to start WAL sender`,
			ErrNoReplicationRole, []string{`ALTER ROLE "mm" REPLICATION;`}},
		{`pg_basebackup: error: connection to server at "10.0.0.5", port 5432 failed: FATAL:  no pg_hba.conf entry for replication connection from host "10.0.0.9", user "mm", no encryption`,
			ErrNoReplicationHBA, []string{"`host replication mm 10.0.0.9/32 scram-sha-256`", "pg_reload_conf()"}},
		{`pg_basebackup: error: connection to server at "db", port 5432 failed: FATAL:  no pg_hba.conf entry for replication connection from host "fd00::9", user "Mm", SSL encryption`,
			ErrNoReplicationHBA, []string{"`hostssl replication \"Mm\" fd00::9/128 scram-sha-256`"}},
		{`pg_basebackup: error: connection to server on socket "/run/postgresql/.s.PGSQL.5432" failed: FATAL:  no pg_hba.conf entry for replication connection from host "[local]", user "mm", no encryption`,
			ErrNoReplicationHBA, []string{"`local replication mm scram-sha-256`"}},
		{`pg_basebackup: error: connection to server at "10.0.0.5", port 5432 failed: FATAL:  number of requested standby connections exceeds max_wal_senders (currently 4)`,
			ErrNoWALSender, []string{"ALTER SYSTEM SET max_wal_senders = 6;", "restart PostgreSQL"}},
		{`pg_basebackup: error: connection to server at "10.0.0.5", port 5432 failed: FATAL:  number of requested standby connections exceeds max_wal_senders (currently 0)`,
			ErrNoWALSender, []string{"ALTER SYSTEM SET max_wal_senders = 10;"}},
		{`pg_basebackup: error: can only write single tablespace to stdout, database has 2`,
			ErrTablespaces, []string{"SET TABLESPACE pg_default"}},
		{`pg_basebackup: error: could not initiate base backup: ERROR:  WAL level not sufficient for making an online backup`,
			ErrWALLevel, []string{"ALTER SYSTEM SET wal_level = replica;"}},
	}
	for _, c := range cases {
		err := baseBackupFailed(ds, "/usr/lib/postgresql/15/bin/pg_basebackup", "mm", exit, c.stderr)
		require.ErrorIs(t, err, c.is, c.stderr)
		for _, s := range c.says {
			assert.Contains(t, err.Error(), s)
		}
		assert.Contains(t, err.Error(), strings.TrimPrefix(c.stderr, "pg_basebackup: "), "pg_basebackup's own words are kept")
	}
	err = baseBackupFailed(ds, "/usr/bin/pg_basebackup", "mm", exit, `pg_basebackup: error: could not connect: password=Sup3r-secret rejected`)
	for _, is := range []error{ErrNoReplicationRole, ErrNoReplicationHBA, ErrNoWALSender, ErrTablespaces, ErrWALLevel} {
		assert.False(t, errors.Is(err, is))
	}
	assert.NotContains(t, err.Error(), "Sup3r-secret")
	assert.ErrorIs(t, err, exit)
}

func TestTarInfo(t *testing.T) {
	var ti tarInfo
	require.NoError(t, ti.parseLabel("START WAL LOCATION: 0/9000028 (file 000000020000000000000009)\nCHECKPOINT LOCATION: 0/9000060\nSTART TIMELINE: 2\n"))
	require.NoError(t, ti.parseManifest(strings.NewReader(`{ "PostgreSQL-Backup-Manifest-Version": 1,
"Files": [
{ "Path": "backup_label", "Size": 227, "Last-Modified": "2026-12-06 14:10:21 GMT", "Checksum-Algorithm": "CRC32C", "Checksum": "5c4b1bd1" }
],
"WAL-Ranges": [
{ "Timeline": 2, "Start-LSN": "0/9000028", "End-LSN": "0/A000000" },
{ "Timeline": 3, "Start-LSN": "0/A000000", "End-LSN": "0/A000100" }
],
"Manifest-Checksum": "00"}`)))
	res := &BaseResult{WALSegmentSize: 16 << 20}
	require.NoError(t, res.fill(&ti))
	assert.Equal(t, BaseResult{WALSegmentSize: 16 << 20, Timeline: 2, StartLSN: "0/9000028", EndLSN: "0/A000100",
		StartWAL: "000000020000000000000009", EndWAL: "00000003000000000000000A"}, *res)

	res = &BaseResult{WALSegmentSize: 1 << 30}
	assert.ErrorContains(t, res.fill(&ti), "names the start segment", "a segment size that does not match backup_label")
	assert.ErrorContains(t, (&BaseResult{}).fill(&tarInfo{}), "no backup_label")
	assert.ErrorContains(t, (&BaseResult{}).fill(&tarInfo{label: true}), "no backup_manifest")
}
