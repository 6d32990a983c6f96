// Package walarchive archives PostgreSQL's write-ahead log continuously, for point-in-time
// recovery: pg_receivewal streams WAL from a replication slot into a local spool folder, and
// each segment is compressed (zstd), encrypted (age) and signed, then stored at every
// destination. The restore side (Fetch) is what PostgreSQL's restore_command runs.
//
// Layout at a destination (beside backups/ and pool/):
//
//	wal/system.json                       the cluster the archive belongs to (signed)
//	wal/<timeline>/<segment>.zst[.age]    a completed WAL segment, and its .sig sidecar
//	wal/<timeline>/<segment>.partial.zst  the segment being written, refreshed every MaxDelay
//	wal/<timeline>/<timeline>.history.zst a timeline history file
//
// <timeline> is 8 upper-case hex digits, <segment> PostgreSQL's 24-hex-digit file name.
package walarchive

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Prefix is where the archive lives at a destination.
const Prefix = "wal/"

// SystemKey names the archive's cluster.
const SystemKey = Prefix + "system.json"

const (
	partialSuffix = ".partial"
	historySuffix = ".history"
	zstSuffix     = ".zst"
	ageSuffix     = ".age"
)

var (
	segmentRE = regexp.MustCompile(`^[0-9A-F]{24}$`)
	historyRE = regexp.MustCompile(`^[0-9A-F]{8}\.history$`)
)

// File is a WAL archive file name as PostgreSQL writes and asks for it: a segment
// ("000000010000000000000003"), a timeline history file ("00000002.history"), or a segment
// being written ("….partial", pg_receivewal's name for it).
type File struct {
	Name     string // the name without ".partial"
	Timeline uint32
	Segment  bool // a WAL segment; otherwise a history file
	Partial  bool
}

// ParseFile parses name; ok is false for anything else (PostgreSQL's own temporary files,
// .backup files, names planted in the spool or the archive).
func ParseFile(name string) (f File, ok bool) {
	base, partial := strings.CutSuffix(name, partialSuffix)
	switch {
	case segmentRE.MatchString(base):
		f = File{Name: base, Segment: true, Partial: partial}
	case historyRE.MatchString(base) && !partial:
		f = File{Name: base}
	default:
		return File{}, false
	}
	tl, err := strconv.ParseUint(base[:8], 16, 32)
	if err != nil || tl == 0 {
		return File{}, false
	}
	f.Timeline = uint32(tl)
	return f, true
}

// TimelineDir is the archive folder of timeline tl.
func TimelineDir(tl uint32) string { return fmt.Sprintf("%s%08X/", Prefix, tl) }

// Key is where f is stored: encrypted objects end in ".age", like a backup's.
func (f File) Key(encrypted bool) string {
	k := TimelineDir(f.Timeline) + f.Name
	if f.Partial {
		k += partialSuffix
	}
	k += zstSuffix
	if encrypted {
		k += ageSuffix
	}
	return k
}

// SegmentNo is the segment's number in the WAL (its LSN divided by the segment size).
func (f File) SegmentNo(segSize int64) uint64 {
	hi, _ := strconv.ParseUint(f.Name[8:16], 16, 32)
	lo, _ := strconv.ParseUint(f.Name[16:24], 16, 32)
	return hi*segmentsPerXLogID(segSize) + lo
}

func segmentsPerXLogID(segSize int64) uint64 { return 0x100000000 / uint64(segSize) }

// SegmentName is PostgreSQL's XLogFileName: the file holding segment segNo of timeline tl.
func SegmentName(tl uint32, segNo uint64, segSize int64) string {
	per := segmentsPerXLogID(segSize)
	return fmt.Sprintf("%08X%08X%08X", tl, segNo/per, segNo%per)
}

// ParseLSN parses an LSN as PostgreSQL prints it ("16/B374D848").
func ParseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, fmt.Errorf("invalid LSN %q: want two hex numbers separated by a slash, such as 0/3000028", s)
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("invalid LSN %q: want two hex numbers separated by a slash, such as 0/3000028", s)
	}
	return h<<32 | l, nil
}

// FormatLSN prints an LSN as PostgreSQL does.
func FormatLSN(lsn uint64) string { return fmt.Sprintf("%X/%X", lsn>>32, uint32(lsn)) }

// SegmentOf is the name of the segment of timeline tl that holds lsn.
func SegmentOf(tl uint32, lsn uint64, segSize int64) string {
	return SegmentName(tl, lsn/uint64(segSize), segSize)
}

// validSegmentSize says whether n is a WAL segment size initdb accepts: a power of two from
// 1 MiB to 1 GiB.
func validSegmentSize(n int64) bool {
	return n >= 1<<20 && n <= 1<<30 && n&(n-1) == 0
}
