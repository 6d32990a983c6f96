package route53_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	awsfake "github.com/mattermost/mattermost-plugin-disaster-recovery/build/fakes/aws"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/clients/route53"
)

func newClient(t *testing.T, f *awsfake.Server, key string) *route53.Client {
	t.Helper()
	if key == "" {
		key = awsfake.AccessKeyID
	}
	c, err := route53.New(context.Background(), route53.Options{
		AccessKeyID: key, SecretAccessKey: awsfake.SecretAccessKey, Endpoint: f.URL, MaxAttempts: 1,
	})
	require.NoError(t, err)
	return c
}

func TestUpsertAndWait(t *testing.T) {
	f := awsfake.New(t)
	f.InsyncAfter = 2
	f.PutHostedZone("Z0123456789ABC", "example.com")
	c := newClient(t, f, "")
	ctx := context.Background()

	// The zone id as Route 53 lists it, with its prefix, works too.
	id, err := c.UpsertRecord(ctx, "/hostedzone/Z0123456789ABC", "chat.example.com", "cname", 60, []string{"mm-west.example.com"})
	require.NoError(t, err)
	assert.Regexp(t, `^C[A-Z0-9]{13}$`, id)
	rs, ok := f.RecordSet("Z0123456789ABC", "chat.example.com", "CNAME")
	require.True(t, ok)
	assert.Equal(t, awsfake.RecordSet{Name: "chat.example.com.", Type: "CNAME", TTL: 60, Values: []string{"mm-west.example.com"}}, rs)

	require.NoError(t, c.WaitInsync(ctx, "/change/"+id, time.Millisecond))
	var polls int
	for _, r := range f.Requests() {
		if r.Action == "GetChange" {
			polls++
		}
		assert.Equal(t, "route53", r.Service)
		assert.Equal(t, "us-east-1", r.Region)
	}
	assert.Equal(t, 3, polls, "PENDING twice, then INSYNC")

	// An UPSERT replaces.
	_, err = c.UpsertRecord(ctx, "Z0123456789ABC", "chat.example.com.", "CNAME", 30, []string{"mm-east.example.com"})
	require.NoError(t, err)
	rs, _ = f.RecordSet("Z0123456789ABC", "chat.example.com", "CNAME")
	assert.Equal(t, []string{"mm-east.example.com"}, rs.Values)
	assert.Equal(t, int64(30), rs.TTL)
}

func TestUpsertErrors(t *testing.T) {
	cases := []struct {
		name, zone, record string
		values             []string
		ttl                int64
		key                string
		fault              *awsfake.Fault
		want               []string
	}{
		{name: "no such zone", zone: "ZNOPE", record: "chat.example.com", values: []string{"a.example.com"}, ttl: 60, want: []string{"NoSuchHostedZone", "404"}},
		{name: "name outside the zone", zone: "Z1", record: "chat.example.org", values: []string{"a.example.com"}, ttl: 60, want: []string{"not permitted in zone example.com."}},
		{name: "two CNAME values", zone: "Z1", record: "chat.example.com", values: []string{"a.example.com", "b.example.com"}, ttl: 60, want: []string{"more than one value"}},
		{name: "no values", zone: "Z1", record: "chat.example.com", ttl: 60, want: []string{"at least one value"}},
		{name: "auth", zone: "Z1", record: "chat.example.com", values: []string{"a.example.com"}, ttl: 60, key: "AKIAWRONG", want: []string{"InvalidClientTokenId", "403"}},
		{name: "denied", zone: "Z1", record: "chat.example.com", values: []string{"a.example.com"}, ttl: 60, fault: &awsfake.Fault{Kind: awsfake.FaultAccessDenied}, want: []string{"AccessDenied"}},
		{name: "5xx", zone: "Z1", record: "chat.example.com", values: []string{"a.example.com"}, ttl: 60, fault: &awsfake.Fault{Kind: awsfake.FaultServer}, want: []string{"500", "InternalFailure"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := awsfake.New(t)
			f.PutHostedZone("Z1", "example.com")
			if tc.fault != nil {
				f.Inject(*tc.fault)
			}
			c := newClient(t, f, tc.key)
			_, err := c.UpsertRecord(context.Background(), tc.zone, tc.record, "CNAME", tc.ttl, tc.values)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), awsfake.SecretAccessKey)
			_, exists := f.RecordSet("Z1", tc.record, "CNAME")
			assert.False(t, exists, "a rejected change changes nothing")
		})
	}
}

func TestWaitInsyncErrors(t *testing.T) {
	t.Run("unknown change", func(t *testing.T) {
		f := awsfake.New(t)
		err := newClient(t, f, "").WaitInsync(context.Background(), "CNOSUCHCHANGE1", time.Millisecond)
		require.ErrorContains(t, err, "NoSuchChange")
	})
	t.Run("deadline while pending", func(t *testing.T) {
		f := awsfake.New(t)
		f.InsyncAfter = 1 << 30
		f.PutHostedZone("Z1", "example.com")
		c := newClient(t, f, "")
		id, err := c.UpsertRecord(context.Background(), "Z1", "chat.example.com", "A", 60, []string{"192.0.2.10", "192.0.2.11"})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err = c.WaitInsync(ctx, id, 5*time.Millisecond)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "still PENDING")
	})
	t.Run("hang", func(t *testing.T) {
		f := awsfake.New(t)
		f.Inject(awsfake.Fault{Kind: awsfake.FaultHang, Action: "GetChange"})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := newClient(t, f, "").WaitInsync(ctx, "C1", time.Millisecond)
		require.Error(t, err)
		assert.Less(t, time.Since(start), 3*time.Second)
	})
}
