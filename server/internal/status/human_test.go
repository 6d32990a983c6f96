package status

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestHuman(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0ms"},
		{800 * time.Millisecond, "800ms"},
		{time.Second, "1s"},
		{2500 * time.Millisecond, "2.5s"},
		{9960 * time.Millisecond, "10s"},
		{45 * time.Second, "45s"},
		{59700 * time.Millisecond, "1m"},
		{14*time.Minute + 7*time.Second, "14m"},
		{59*time.Minute + 50*time.Second, "1h"},
		{3*time.Hour + 5*time.Minute, "3h5m"},
		{47 * time.Hour, "47h"},
		{50 * time.Hour, "2d2h"},
		{72 * time.Hour, "3d"},
		{-90 * time.Second, "-2m"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Human(tt.in), "%v", tt.in)
	}
}
