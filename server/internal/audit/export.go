package audit

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"io"
	"sort"
	"strconv"
	"strings"
)

// ExportJSONL writes the records matching f to w, oldest first, one JSON
// object per line, in the same form as they are stored (so the hash chain
// can be re-checked from the export). Records are read and written a page
// at a time; the trail is never held in memory. Records appended after the
// export started are not included.
func (t *Trail) ExportJSONL(w io.Writer, f Filter) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	if err := t.export(f, func(r *Record) error { return enc.Encode(r) }); err != nil {
		return err
	}
	return bw.Flush()
}

// CSVHeader is the header row of ExportCSV.
var CSVHeader = []string{
	"seq", "time", "actor_id", "actor", "node", "action", "target", "outcome",
	"reason", "details", "prev_hash", "hash",
}

// ExportCSV writes the records matching f to w as CSV (RFC 4180, as written
// by encoding/csv): CSVHeader, then one row per record, oldest first. Time
// is in CanonicalTimeLayout. Details are flattened to k=v;k=v with keys
// sorted, and '\', ';' and '=' inside keys and values escaped with a
// backslash. Text cells starting with '=', '+', '-', '@', tab or carriage
// return get a leading "'" so spreadsheets do not run them as formulas; use
// ExportJSONL for a faithful, verifiable copy.
func (t *Trail) ExportCSV(w io.Writer, f Filter) error {
	bw := bufio.NewWriter(w)
	cw := csv.NewWriter(bw)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	row := make([]string, len(CSVHeader))
	err := t.export(f, func(r *Record) error {
		row[0] = strconv.FormatUint(r.Seq, 10)
		row[1] = r.Time.UTC().Format(CanonicalTimeLayout)
		row[2] = cell(r.ActorID)
		row[3] = cell(r.Actor)
		row[4] = cell(r.Node)
		row[5] = cell(r.Action)
		row[6] = cell(r.Target)
		row[7] = cell(string(r.Outcome))
		row[8] = cell(r.Reason)
		row[9] = cell(FlattenDetails(r.Details))
		row[10] = r.PrevHash
		row[11] = r.Hash
		return cw.Write(row)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// FlattenDetails renders details as k=v;k=v, keys sorted, with '\', ';' and
// '=' escaped by a backslash.
func FlattenDetails(d map[string]string) string {
	if len(d) == 0 {
		return ""
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(detailEscaper.Replace(k))
		b.WriteByte('=')
		b.WriteString(detailEscaper.Replace(d[k]))
	}
	return b.String()
}

var detailEscaper = strings.NewReplacer(`\`, `\\`, `;`, `\;`, `=`, `\=`)

// cell defuses spreadsheet formula injection.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// export calls emit for each record matching f, oldest first, reading a
// page at a time. With f.Limit > 0 it emits the newest f.Limit matches (the
// same records Query would return for that limit, without its MaxLimit cap).
func (t *Trail) export(f Filter, emit func(*Record) error) error {
	lo, hi, err := t.bounds(&f, true)
	if err != nil || hi < lo {
		return err
	}
	limit := max(f.Limit, 0)
	if limit > 0 {
		// Walk back to the limit-th newest match; start the export there.
		count := 0
		err := t.scanBackward(lo, hi, func(seq uint64, r *Record) bool {
			if t.beforeSince(&f, r) {
				return true
			}
			if f.match(r) {
				count++
				if count == limit {
					lo = seq
					return true
				}
			}
			return false
		})
		if err != nil {
			return err
		}
	}
	written := 0
	return t.scanForward(lo, hi, func(r *Record) (bool, error) {
		if t.afterUntil(&f, r) {
			return true, nil
		}
		if !f.match(r) {
			return false, nil
		}
		if err := emit(r); err != nil {
			return true, err
		}
		written++
		return limit > 0 && written >= limit, nil
	})
}
