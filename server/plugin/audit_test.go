package plugin

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/mattermost/mattermost/server/public/pluginapi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/audit"
	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/slashcmd"
)

// unescapedPipes counts the '|' that end a cell: those not escaped by a backslash.
func unescapedPipes(line string) int {
	n := 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++ // the next character is escaped
		case '|':
			n++
		}
	}
	return n
}

// unescape reverses CommonMark backslash escapes (of ASCII punctuation).
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", s[i+1]) >= 0 {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// splitRow splits a table row at its unescaped pipes.
func splitRow(line string) []string {
	var cells []string
	start := 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '|':
			cells = append(cells, strings.TrimSpace(line[start:i]))
			start = i + 1
		}
	}
	return cells[1:] // before the first pipe there is nothing
}

func TestAuditTableEscapesCells(t *testing.T) {
	targets := []string{
		"GET /api/v1/x|y | z",
		"line one\nline two\r\n| 9 | forged | row |",
		"`code` **bold** _em_ ~~gone~~ [click](http://evil.example/) <b>html</b> &amp; @channel $x^2$",
		`back\slash \| already escaped`,
		strings.Repeat("é|", 120), // long, multi-byte, cut in the middle of nothing
	}
	trail := audit.New(&pluginapi.MemoryStore{}, "node-1")
	for i, target := range targets {
		_, err := trail.Append(audit.Entry{ActorID: "u1", Actor: "eve|*admin*", Action: "auth.refused", Target: target, Outcome: audit.OutcomeRefused,
			Reason: "reason " + string(rune('a'+i)) + " |\n"})
		require.NoError(t, err)
	}
	p := &Plugin{trail: trail}
	tree := slashcmd.New(Trigger)
	p.auditCommands(tree)
	resp, err := tree.Execute(context.Background(), "/dr audit --limit 10", slashcmd.Caller{UserID: "admin"})
	require.NoError(t, err)

	var rows []string
	for _, line := range strings.Split(resp.Text, "\n") {
		if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| # |") {
			rows = append(rows, line)
		}
	}
	require.Len(t, rows, len(targets), "one table row per record, none forged or split:\n%s", resp.Text)
	for i, row := range rows {
		require.Equal(t, 8, unescapedPipes(row), "seven cells: %s", row)
		cells := splitRow(row)
		require.Len(t, cells, 7)
		assert.Equal(t, "eve|*admin*", unescape(cells[2]), "actor shown as its text")
		target := targets[len(targets)-1-i] // newest first
		want := strings.TrimSpace(strings.Map(func(r rune) rune {
			if unicode.IsControl(r) {
				return ' '
			}
			return r
		}, target))
		got := unescape(cells[4])
		if strings.HasSuffix(got, "…") {
			got = strings.TrimSuffix(got, "…")
			assert.LessOrEqual(t, len(got), maxCell)
			assert.True(t, strings.HasPrefix(want, got), "a prefix of the target: %q", got)
		} else {
			assert.Equal(t, want, got)
		}
		assert.NotContains(t, cells[4], "://", "a URL would be linked")
		for j := 0; j < len(cells[4]); j++ {
			if cells[4][j] == '\\' {
				j++
				continue
			}
			assert.NotContains(t, "`*_~[]<>|@&$", string(cells[4][j]), "unescaped Markdown at %d: %s", j, cells[4])
		}
	}
}

func TestThrottle(t *testing.T) {
	var calls atomic.Int32
	th := newThrottle(100*time.Millisecond, func() { calls.Add(1) })
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 125 {
				th.trigger()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), calls.Load(), "the first trigger runs at once, the rest wait")
	assert.Eventually(t, func() bool { return calls.Load() == 2 }, time.Second, 5*time.Millisecond, "the burst is flushed at the end of the interval")
	time.Sleep(150 * time.Millisecond)
	assert.Equal(t, int32(2), calls.Load(), "nothing more without triggers")
	th.trigger()
	assert.Equal(t, int32(3), calls.Load(), "after a quiet interval, at once again")
}

func TestAnonRefusalsAreCountedNotRepeated(t *testing.T) {
	var mu sync.Mutex
	var lines [][]any
	l := newAnonRefusals(func(_ string, kv ...any) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, kv)
	})
	l.log = newThrottle(100*time.Millisecond, l.flush)
	for i := range 1000 {
		l.note("GET /api/v1/"+strings.Repeat("x", i), "not logged in")
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(lines) }
	require.Equal(t, 1, count())
	require.Eventually(t, func() bool { return count() == 2 }, time.Second, 5*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []any{"refused", 1, "last", "GET /api/v1/", "reason", "not logged in"}, lines[0])
	assert.Equal(t, "refused", lines[1][0])
	assert.Equal(t, 999, lines[1][1], "the rest are counted in one line")
	assert.LessOrEqual(t, len(lines[1][3].(string)), maxLoggedPath+len("…"))
}
