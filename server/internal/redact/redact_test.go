package redact

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSecrets(t *testing.T) {
	cases := []struct {
		name, msg, mask string
		secrets         []string
		want            string
	}{
		{"plain", "login s3cret failed", Mask, []string{"s3cret"}, "login xxxxx failed"},
		{"encoded forms", "a p@ss:w/rd% b p%40ss%3Aw%2Frd%25 c p%40ss%3Aw%2Frd%25 d", Mask, []string{"p@ss:w/rd%"},
			"a xxxxx b xxxxx c xxxxx d"},
		{"query-encoded space", "password=a+b+c", "***", []string{"a b c"}, "password=***"},
		{"empty secret ignored", "nothing to hide", Mask, []string{""}, "nothing to hide"},
		{"several", "k1 and k2", "[redacted]", []string{"k1", "k2"}, "[redacted] and [redacted]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Secrets(tc.msg, tc.mask, tc.secrets...))
		})
	}
}

func TestError(t *testing.T) {
	assert.NoError(t, Error(nil, Mask, "x"))

	clean := errors.New("no secret here")
	assert.Same(t, clean, Error(clean, Mask, "s3cret"), "nothing to hide: the error itself")

	cause := fmt.Errorf("dial s3cret: %w", context.DeadlineExceeded)
	err := Error(cause, "***", "s3cret")
	assert.Equal(t, "dial ***: context deadline exceeded", err.Error())
	assert.ErrorIs(t, err, context.DeadlineExceeded, "still unwraps")

	err = Wrap(cause, "outer s3cret: "+cause.Error(), Mask, "s3cret")
	assert.Equal(t, "outer xxxxx: dial xxxxx: context deadline exceeded", err.Error())
	assert.Same(t, cause, errors.Unwrap(err))
}

func TestURL(t *testing.T) {
	cases := []struct{ in, user, want string }{
		{"https://admin:s3cret@host:9200/x?y=1", "REDACTED", "https://REDACTED@host:9200/x?y=1"},
		{"https://admin:s3cret@host", "", "https://host"},
		{"https://host/path", "REDACTED", "https://host/path"},
	}
	for _, tc := range cases {
		got, err := URL(tc.in, tc.user)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got)
	}
	_, err := URL("http://u:s3cret@[bad", "x")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret")
}

func TestShownURL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"https://admin:s3cret@host:9200", "https://REDACTED@host:9200"},
		{"https://host:9200", "https://host:9200"},
		{"http://u:s3cret@[bad", "[invalid URL]"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, ShownURL(tc.in), tc.in)
	}
}
