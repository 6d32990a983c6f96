package plugin

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/settings"
)

func TestDueSlot(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	cfg := settings.Default()
	cfg.BackupSchedule, cfg.BackupTimeZone = "30 2 * * *", "Europe/Berlin"
	at := func(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, berlin) }
	tests := []struct {
		name      string
		last, now time.Time
		want      time.Time
	}{
		{"first run, yesterday's slot is due", time.Time{}, at(26, 12, 0), at(26, 2, 30)},
		{"slot already run", at(26, 2, 30), at(26, 12, 0), time.Time{}},
		{"next slot reached", at(26, 2, 30), at(27, 2, 30), at(27, 2, 30)},
		{"down for two days: only the newest slot runs", at(24, 2, 30), at(27, 9, 0), at(27, 2, 30)},
		{"before the slot", at(26, 2, 30), at(27, 2, 29), time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sched, loc, err := cfg.Schedule()
			require.NoError(t, err)
			got := dueSlot(sched, loc, tt.last, tt.now)
			assert.True(t, tt.want.Equal(got), "want %s, got %s", tt.want, got)
		})
	}
	sched, loc, err := settings.Default().Schedule()
	require.NoError(t, err)
	got := dueSlot(sched, loc, time.Time{}, time.Now())
	assert.True(t, got.IsZero(), "no schedule, no slot")
}
