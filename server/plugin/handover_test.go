package plugin

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/mattermost/mattermost-plugin-disaster-recovery/server/internal/failover"
)

// What a planted runbook says reaches the ops channel inert: no code span breaks out, nobody
// is mentioned, nothing is long.
func TestRefusalMarkdownDefusesStoredText(t *testing.T) {
	run := &failover.Run{ID: "x`y", Kind: failover.KindFailover, From: "@all", To: strings.Repeat("r", 500), Actor: "evil\n@channel", State: failover.RunForPlugin, CreatedAt: time.Now()}
	md := refusalMarkdown("s3", failover.Outcome{Run: run, Refused: "it moves to @channel `x`"})
	for _, bad := range []string{"x`y", "evil\n", " @channel", "`x`", strings.Repeat("r", 100)} {
		assert.NotContains(t, md, bad)
	}
	assert.Contains(t, md, "`@all`", "inside a code span a mention is inert")
	assert.Contains(t, md, "was not adopted")
	assert.Contains(t, md, "Why not:** it moves to @\u200bchannel 'x'")
}

func TestPlain(t *testing.T) {
	for in, want := range map[string]string{"": "(empty)", "us-west-2": "`us-west-2`", "a`b": "`ab`", "a\x00b": "`ab`"} {
		assert.Equal(t, want, plain(in), in)
	}
}
