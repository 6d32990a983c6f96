package plugin

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/pitrdrill"
)

// TestPITRDrillReport: the post names what was restored, the busy tables, each table that
// came back wrong with its numbers, and why the WAL was not switched.
func TestPITRDrillReport(t *testing.T) {
	r := &pitrdrill.Result{
		RestorePoint: "dr-drill-abc", LSN: "0/3003978", BaseBackup: "20261206T212550Z-a10d", BaseFinished: time.Date(2026, 12, 6, 21, 25, 51, 0, time.UTC),
		FirstWAL: "000000010000000000000002", LastWAL: "000000010000000000000004", WALFiles: 3, WALBytes: 48 << 20, PGVersion: "15",
		Tables: make([]pitrdrill.Table, 5), Rows: 1234,
		Busy:       []pitrdrill.Table{{Name: "public.posts", Before: 10, After: 12, Restored: 11}},
		Mismatches: []pitrdrill.Table{{Name: "public.channels", Before: 30, After: 30, Restored: 29}, {Name: "public.users", Missing: "in the restored cluster"}},
		SwitchNote: `the database user "mmuser" may not run pg_switch_wal: the drill waited for the archive's partial copy of 000000010000000000000004 instead`,
		Recovery:   1500 * time.Millisecond,
	}
	got := pitrDrillReport("local", r)
	for _, want := range []string{
		"- Restored at destination **local**: base backup `20261206T212550Z-a10d` (finished 2026-12-06T21:25:51Z) and 3 WAL files (48.0 MiB), 000000010000000000000002 to 000000010000000000000004, into a scratch cluster (PostgreSQL 15), up to restore point `dr-drill-abc` (0/3003978).\n",
		"- 5 tables, 1234 rows restored; 2 as on the primary at the restore point; 1 written during the drill, each within its counts before and after the restore point (`public.posts`).\n",
		"  - :x: public.channels: 29 rows restored, the primary had 30\n",
		"  - :x: public.users: missing in the restored cluster\n",
		"- Note: the database user \"mmuser\" may not run pg_switch_wal",
		"recovery 1.5s.",
	} {
		assert.Contains(t, got, want)
	}
	assert.Equal(t, 1, strings.Count(got, "Times:"))
}
