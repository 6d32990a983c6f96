package walarchive

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseFile(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
		want File
	}{
		{"000000010000000000000003", true, File{Name: "000000010000000000000003", Timeline: 1, Segment: true}},
		{"0000000200000001000000FF.partial", true, File{Name: "0000000200000001000000FF", Timeline: 2, Segment: true, Partial: true}},
		{"00000002.history", true, File{Name: "00000002.history", Timeline: 2}},
		{"00000002.history.partial", false, File{}},
		{"000000000000000000000003", false, File{}}, // timeline 0 does not exist
		{"000000010000000000000003.00000028.backup", false, File{}},
		{"00000001000000000000000a", false, File{}}, // PostgreSQL writes upper case
		{"../00000001000000000000000A", false, File{}},
		{"RECOVERYHISTORY", false, File{}},
	}
	for _, c := range cases {
		got, ok := ParseFile(c.name)
		require.Equal(t, c.ok, ok, c.name)
		require.Equal(t, c.want, got, c.name)
	}
}

func TestSegmentNamesAndLSNs(t *testing.T) {
	const mb16 = 16 << 20
	lsn, err := ParseLSN("16/B374D848")
	require.NoError(t, err)
	require.Equal(t, "16/B374D848", FormatLSN(lsn))
	// pg_walfile_name('16/B374D848') on timeline 1 with 16 MiB segments.
	require.Equal(t, "0000000100000016000000B3", SegmentOf(1, lsn, mb16))
	f, ok := ParseFile("0000000100000016000000B3")
	require.True(t, ok)
	require.Equal(t, lsn/mb16, f.SegmentNo(mb16))
	require.Equal(t, "0000000100000016000000B3", SegmentName(1, f.SegmentNo(mb16), mb16))
	// 1 GiB segments: four per 4 GiB "log id".
	require.Equal(t, "000000030000000500000002", SegmentOf(3, 5<<32|0x80000000, 1<<30))
	for _, bad := range []string{"", "16", "16/", "/1", "G/1", "1/100000000"} {
		_, err := ParseLSN(bad)
		require.Error(t, err, bad)
	}
	require.True(t, validSegmentSize(mb16))
	require.False(t, validSegmentSize(mb16+1))
	require.False(t, validSegmentSize(512<<10))
}

func TestCheckSegment(t *testing.T) {
	const size = 1 << 20
	f, _ := ParseFile("000000020000000000000005")
	seg := func(tli uint32, addr uint64, n int) []byte {
		b := make([]byte, n)
		binary.LittleEndian.PutUint16(b, 0xD110)
		binary.LittleEndian.PutUint32(b[4:], tli)
		binary.LittleEndian.PutUint64(b[8:], addr)
		return b
	}
	require.NoError(t, checkSegment(f, seg(2, 5*size, size), size))
	require.NoError(t, checkSegment(f, seg(1, 5*size, size), size), "the first segment of a timeline starts with its parent's WAL")
	require.ErrorContains(t, checkSegment(f, seg(2, 6*size, size), size), "not that segment")
	require.ErrorContains(t, checkSegment(f, seg(3, 5*size, size), size), "not that segment")
	require.ErrorContains(t, checkSegment(f, seg(2, 5*size, size-1), size), "damaged")
}

func TestCovers(t *testing.T) {
	const size = 16 << 20
	a := &Archive{System: &System{WALSegmentSize: size}, Timelines: []*Timeline{
		{ID: 1, First: 3, Last: 9, Segments: 6, Gaps: [][2]uint64{{6, 6}}, Partial: SegmentName(1, 10, size)},
	}}
	require.NoError(t, a.Covers(1, 3, 5, false))
	require.NoError(t, a.Covers(1, 7, 9, false))
	require.NoError(t, a.Covers(1, 7, 10, true))
	require.ErrorContains(t, a.Covers(1, 7, 10, false), "ends at")
	require.ErrorContains(t, a.Covers(1, 5, 7, false), "misses 000000010000000000000006")
	require.ErrorContains(t, a.Covers(1, 2, 4, false), "starts at")
	require.ErrorContains(t, a.Covers(2, 2, 4, false), "no WAL of timeline 2")
}
