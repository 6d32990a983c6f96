package pgrepl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattermost/mattermost/server/public/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

func TestParseDSN(t *testing.T) {
	tests := []struct {
		name, dsn      string
		label, addr    string
		connectTimeout time.Duration
		appName        string
	}{
		{"mattermost URL", "postgres://mmuser:s3cret@db.example.com:5433/mattermost?sslmode=disable&connect_timeout=10&binary_parameters=yes",
			"mmuser@db.example.com:5433/mattermost", "db.example.com:5433", 5 * time.Second, appName},
		{"key=value", "host=10.0.0.5 port=5432 user=mm password='s3cret' dbname=mm application_name=mine connect_timeout=2",
			"mm@10.0.0.5:5432/mm", "10.0.0.5:5432", 2 * time.Second, "mine"},
		{"default port", "postgres://mm:s3cret@replica/mm", "mm@replica:5432/mm", "replica:5432", 5 * time.Second, appName},
		{"ipv6", "postgres://mm:s3cret@[::1]:5432/mm", "mm@[::1]:5432/mm", "[::1]:5432", 5 * time.Second, appName},
		{"unix socket", "host=/var/run/postgresql user=mm password=s3cret dbname=mm", "mm@/var/run/postgresql:5432/mm", "/var/run/postgresql:5432", 5 * time.Second, appName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := parseDSN(tt.dsn, 5*time.Second)
			require.NoError(t, err)
			assert.Equal(t, tt.label, s.label)
			assert.Equal(t, tt.addr, s.addr)
			assert.Equal(t, tt.connectTimeout, s.cfg.ConnectTimeout)
			assert.Equal(t, tt.appName, s.cfg.RuntimeParams["application_name"])
			assert.NotContains(t, s.cfg.RuntimeParams, "binary_parameters", "lib/pq's parameter is not for the server")
			assert.Equal(t, "xxxxx in message", s.dsn.Scrub("s3cret in message"))
			assert.NotContains(t, s.errorf(errors.New("boom s3cret"), "connect to %s", s.label).Error(), "s3cret")
		})
	}

	// pgxpool's keys in Mattermost's DataSource once reached the server as run-time parameters.
	s, err := parseDSN("postgres://mm:s3cret@db/mm?pool_max_conns=10&keepalives=1", 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"application_name": appName}, s.cfg.RuntimeParams)

	for _, bad := range []string{"postgres://mm:s3cret@host:notaport/db", "host=h password='s3cret"} {
		_, err := parseDSN(bad, time.Second)
		require.Error(t, err, bad)
		assert.NotContains(t, err.Error(), "s3cret")
	}
}

func TestParseLSN(t *testing.T) {
	tests := []struct {
		in   string
		want lsn
		ok   bool
	}{
		{"0/0", 0, true},
		{"16/B374D848", 0x16<<32 | 0xB374D848, true},
		{"FFFFFFFF/FFFFFFFF", 1<<64 - 1, true},
		{"16B374D848", 0, false},
		{"G/0", 0, false},
		{"1/100000000", 0, false},
	}
	for _, tt := range tests {
		got, err := parseLSN(tt.in)
		if !tt.ok {
			assert.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
	_, ok := optLSN(nil)
	assert.False(t, ok, "NULL")
}

func TestSeverity(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want probe.State
	}{
		{"refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, probe.Critical},
		{"no route", fmt.Errorf("connect: %w", syscall.EHOSTUNREACH), probe.Critical},
		{"unknown host", &net.DNSError{Name: "db", IsNotFound: true}, probe.Critical},
		{"timeout", fmt.Errorf("connect: %w", context.DeadlineExceeded), probe.Unknown},
		{"password", &pgconn.PgError{Code: "28P01"}, probe.Unknown},
		{"other", errors.New("tls: bad certificate"), probe.Unknown},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, severity(tt.err), tt.name)
	}
}

func TestWalReceiverName(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		name string
		st   replicaState
		want string
	}{
		{"conninfo", replicaState{conninfo: str("user=rep password=******** application_name=dr_east host=10.0.0.1"), clusterName: "c"}, "dr_east"},
		{"quoted", replicaState{conninfo: str("application_name='dr east' host=h")}, "dr east"},
		{"cluster_name", replicaState{conninfo: str("host=h"), clusterName: "main"}, "main"},
		{"default", replicaState{}, "walreceiver"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, walReceiverName(tt.st), tt.name)
	}
}

func TestFromSQLSettings(t *testing.T) {
	var cfg model.Config
	cfg.SetDefaults()
	cfg.SqlSettings.DataSource = model.NewPointer("postgres://mm:pw@db/mm")
	cfg.SqlSettings.DataSourceReplicas = []string{"postgres://mm:pw@r1/mm", "postgres://mm:pw@r2/mm"}
	o := FromSQLSettings(&cfg.SqlSettings)
	assert.Equal(t, "postgres://mm:pw@db/mm", o.PrimaryDSN)
	assert.Equal(t, cfg.SqlSettings.DataSourceReplicas, o.ReplicaDSNs)

	cfg.SqlSettings.DriverName = model.NewPointer("mysql")
	assert.Empty(t, FromSQLSettings(&cfg.SqlSettings).PrimaryDSN, "MySQL does not stream this way")
	assert.Empty(t, FromSQLSettings(nil).PrimaryDSN)
}
