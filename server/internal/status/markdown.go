package status

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/probe"
)

// MarkdownOptions say how much of a report a post shows.
type MarkdownOptions struct {
	// Verbose shows every component's tables in full; otherwise healthy and not-configured
	// components get one line each and long lists are cut.
	Verbose bool
	// MaxRows caps each table and the list of reasons when not verbose (0: DefaultMaxRows).
	MaxRows int
}

// DefaultMaxRows keeps a non-verbose post short enough to read on a phone.
const DefaultMaxRows = 15

// Markdown renders a report as a Mattermost post: the verdict and its reasons first, then one
// section per component, worst component first. It uses no emoji, so it reads the same in
// every client, in e-mail notifications and when copied into a ticket.
func Markdown(rep Report, opts MarkdownOptions) string {
	limit := opts.MaxRows
	if limit <= 0 {
		limit = DefaultMaxRows
	}
	if opts.Verbose {
		limit = 0
	}
	var b strings.Builder

	fmt.Fprintf(&b, "**%s**", Title(rep.Verdict))
	if !rep.CheckedAt.IsZero() {
		fmt.Fprintf(&b, " (checked %s UTC in %s", rep.CheckedAt.UTC().Format("2006-01-02 15:04:05"), Human(rep.Duration))
		if rep.Cached {
			b.WriteString(", cached")
		}
		b.WriteString(")")
	}
	b.WriteString("\n")
	hidden := writeReasons(&b, rep.Reasons, limit)

	var quiet, unconfigured []string
	for _, g := range groupByComponent(rep.Results) {
		switch {
		case g.state == probe.NotConfigured && !opts.Verbose:
			unconfigured = append(unconfigured, notSetUpLines(g)...)
		case g.state == probe.Healthy && !opts.Verbose:
			quiet = append(quiet, fmt.Sprintf("- **%s** healthy: %s", escapeInline(g.component), escapeInline(groupSummary(g))))
		default:
			hidden = writeComponent(&b, g, limit) || hidden
		}
	}
	if len(quiet) > 0 {
		b.WriteString("\n")
		b.WriteString(strings.Join(quiet, "\n"))
		b.WriteString("\n")
	}
	if len(unconfigured) > 0 {
		// Apart from the checks, so that "not set up" never reads like "broken"; what it costs
		// in a disaster is said, since that is the admin's decision to make.
		b.WriteString("\n**Not set up** (not checked, not counted in the verdict):\n")
		b.WriteString(strings.Join(unconfigured, "\n"))
		b.WriteString("\n")
	}
	if hidden || len(quiet) > 0 {
		b.WriteString("\nUse `/dr status --verbose` for every table.\n")
	}
	return b.String()
}

// notSetUpLines are one line per check of a component that is not set up, with what that means.
func notSetUpLines(g componentGroup) []string {
	var out []string
	for _, r := range g.results {
		what := strings.TrimPrefix(r.Summary, "not set up: ")
		if what == "" {
			what = "nothing to check"
		}
		out = append(out, fmt.Sprintf("- **%s**: %s", escapeInline(g.component), escapeInline(what)))
	}
	return out
}

// Title is a state as a capitalised word: "Healthy", "Not configured".
func Title(s probe.State) string {
	w := strings.ReplaceAll(string(s), "_", " ")
	if w == "" {
		return ""
	}
	return strings.ToUpper(w[:1]) + w[1:]
}

// writeReasons lists reasons, returning whether the limit cut some.
func writeReasons(b *strings.Builder, reasons []Reason, limit int) bool {
	if len(reasons) == 0 {
		return false
	}
	b.WriteString("\n")
	for i, r := range reasons {
		if limit > 0 && i == limit {
			fmt.Fprintf(b, "- ... and %d more\n", len(reasons)-limit)
			return true
		}
		fmt.Fprintf(b, "- **%s** (%s): %s", escapeInline(r.Component), stateWord(r.State), escapeInline(r.Message))
		if r.Fix != "" {
			fmt.Fprintf(b, " *Fix:* %s", escapeInline(r.Fix))
		}
		b.WriteString("\n")
	}
	return false
}

type componentGroup struct {
	component string
	state     probe.State
	results   []probe.Result
}

// groupByComponent groups results by component, worst component first, then in the order
// the components first appear; NotConfigured ones last.
func groupByComponent(results []probe.Result) []componentGroup {
	var groups []componentGroup
	index := map[string]int{}
	for _, r := range results {
		i, ok := index[r.Component]
		if !ok {
			i = len(groups)
			index[r.Component] = i
			groups = append(groups, componentGroup{component: r.Component, state: probe.NotConfigured})
		}
		groups[i].results = append(groups[i].results, r)
		groups[i].state = probe.Worst(groups[i].state, r.State)
	}
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].state.Rank() > groups[j].state.Rank() })
	return groups
}

func groupSummary(g componentGroup) string {
	if len(g.results) == 1 {
		return g.results[0].Summary
	}
	return fmt.Sprintf("%d checks", len(g.results))
}

// writeComponent writes a component's section, returning whether the limit cut a table.
func writeComponent(b *strings.Builder, g componentGroup, limit int) bool {
	fmt.Fprintf(b, "\n#### %s: %s\n", escapeInline(g.component), stateWord(g.state))
	for _, r := range g.results {
		prefix := ""
		if len(g.results) > 1 {
			prefix = "- "
		}
		fmt.Fprintf(b, "%s**%s** %s: %s\n", prefix, escapeInline(r.Name), stateWord(r.State), escapeInline(r.Summary))
	}
	if t, ok := mergedTable(g.results); ok {
		return writeTable(b, t, limit)
	}
	cut := false
	for _, r := range g.results {
		if r.Table == nil || len(r.Table.Columns) == 0 {
			continue
		}
		if len(g.results) > 1 {
			fmt.Fprintf(b, "\n%s:\n", escapeInline(r.Name))
		}
		cut = writeTable(b, *r.Table, limit) || cut
	}
	return cut
}

// mergedTable joins the tables of a component's results into one, with the check's name as
// the first column, when they all have the same columns: one table of twelve buckets reads
// better than twelve tables of one.
func mergedTable(results []probe.Result) (probe.Table, bool) {
	var withTable []probe.Result
	for _, r := range results {
		if r.Table != nil && len(r.Table.Columns) > 0 {
			withTable = append(withTable, r)
		}
	}
	if len(withTable) < 2 {
		return probe.Table{}, false
	}
	cols := withTable[0].Table.Columns
	for _, r := range withTable[1:] {
		if !slices.Equal(r.Table.Columns, cols) {
			return probe.Table{}, false
		}
	}
	t := probe.Table{Columns: append([]string{"Check"}, cols...)}
	for _, r := range withTable {
		for _, row := range r.Table.Rows {
			t.Rows = append(t.Rows, append([]string{r.Name}, row...))
		}
	}
	return t, true
}

// writeTable writes t as a Markdown table, returning whether the limit cut rows.
func writeTable(b *strings.Builder, t probe.Table, limit int) bool {
	n := len(t.Columns)
	b.WriteString("\n|")
	for _, c := range t.Columns {
		b.WriteString(" " + escapeCell(c) + " |")
	}
	b.WriteString("\n|")
	b.WriteString(strings.Repeat(" --- |", n))
	b.WriteString("\n")
	for i, row := range t.Rows {
		if limit > 0 && i == limit {
			fmt.Fprintf(b, "\n... and %d more rows\n", len(t.Rows)-limit)
			return true
		}
		b.WriteString("|")
		// Rows are padded or cut to the header, so a probe's short row cannot shift columns.
		for j := 0; j < n; j++ {
			cell := ""
			if j < len(row) {
				cell = row[j]
			}
			b.WriteString(" " + escapeCell(cell) + " |")
		}
		b.WriteString("\n")
	}
	return false
}

// stateWord is a state in a sentence; NotConfigured reads "not set up", the admin's choice,
// unlike unknown, which is a check that did not answer.
func stateWord(s probe.State) string {
	if s == probe.NotConfigured {
		return "not set up"
	}
	return strings.ReplaceAll(string(s), "_", " ")
}

// escapeCell keeps a value inside its table cell: a pipe would end it and a newline the row.
func escapeCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return escapeInline(s)
}

// escapeInline keeps a value on its line.
func escapeInline(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}
