package duration

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDuration(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		input string
		want  time.Duration
	}{
		{"30m", 30 * time.Minute},
		{"24h", 24 * time.Hour},
		{"1h30m", 90 * time.Minute},
		{"7d", 7 * day},
		{"1d12h", 36 * time.Hour},
		{"2w", 14 * day},
		{"1w2d3h4m5s", 7*day + 2*day + 3*time.Hour + 4*time.Minute + 5*time.Second},
		{"1.5d", 36 * time.Hour},
		{".5h", 30 * time.Minute},
		{"0.1d", 144 * time.Minute},
		{"1.d", day},
		{"+2h", 2 * time.Hour},
		{" 7d ", 7 * day},
		{"500ms", 500 * time.Millisecond},
		{"3us", 3 * time.Microsecond},
		{"3µs", 3 * time.Microsecond},
		{"3μs", 3 * time.Microsecond},
		{"1ns", time.Nanosecond},
		{"0h1m", time.Minute},
		{"2562047h47m16.854775807s", time.Duration(1<<63 - 1)},
		{"1.0000000000000000000000001h", time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			got, err := Parse(tt.input)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseDurationMatchesStdlib(t *testing.T) {
	// Everything time.ParseDuration accepts as positive must mean the same.
	for _, s := range []string{"1h", "1.5h", "1h2m3s4ms5us6ns", "0.000000001s", "12.345678901s", "100000h"} {
		want, err := time.ParseDuration(s)
		require.NoError(t, err)
		got, err := Parse(s)
		require.NoError(t, err, s)
		assert.Equal(t, want, got, s)
	}
}

func TestParseDurationErrors(t *testing.T) {
	tests := []struct {
		input   string
		wantErr string
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"0", "missing unit"},
		{"0s", "must be greater than zero"},
		{"0d0h", "must be greater than zero"},
		{"-1h", "must be positive"},
		{"-0s", "must be positive"},
		{"7", "missing unit"},
		{"1d12", "missing unit"},
		{"7x", `unknown unit "x"`},
		{"7D", `unknown unit "D"`},
		{"1 d", `unknown unit " d"`},
		{"d", "expected a number"},
		{".h", "expected a number"},
		{"1.2.3h", "missing unit"},
		{"107000d", "too large"},
		{"99999999999999999999h", "too large"},
		{"2562047h47m16.854775808s", "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.input, func(t *testing.T) {
			_, err := Parse(tt.input)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			// Every message should teach the accepted format.
			assert.Contains(t, err.Error(), "30m, 24h, 7d")
		})
	}
}
