package slashcmd

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMentions(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"none", []string{"a", "b"}, nil},
		{"in order", []string{"@bob", "x", "@alice"}, []string{"bob", "alice"}},
		{"lowercased and de-duplicated", []string{"@Alice", "@ALICE", "@alice"}, []string{"alice"}},
		{"trailing separators", []string{"@alice,", "@bob;", "@carol:"}, []string{"alice", "bob", "carol"}},
		{"dots and dashes kept", []string{"@jo.doe-2_x"}, []string{"jo.doe-2_x"}},
		{"bare at sign skipped", []string{"@", "@,"}, nil},
		{"at sign inside is not a mention", []string{"a@b"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &Invocation{Args: tt.args}
			assert.Equal(t, tt.want, inv.Mentions())
		})
	}
}

func TestAccessorMisuse(t *testing.T) {
	_, inv, err := sampleTree().Parse("/dr backup list")
	require.NoError(t, err)
	assert.PanicsWithValue(t, `command: "backup list" has no flag --nope`, func() { inv.Bool("nope") })
	assert.PanicsWithValue(t, `command: flag --limit of "backup list" is a int flag, read as string`, func() { inv.String("limit") })
	assert.PanicsWithValue(t, `command: flag --older-than of "backup list" is a duration flag, read as int`, func() { inv.Int("older-than") })
	assert.Panics(t, func() { (&Invocation{}).Has("x") })
}

func TestListIsACopy(t *testing.T) {
	_, inv, err := sampleTree().Parse("/dr backup now --only db,config")
	require.NoError(t, err)
	inv.List("only")[0] = "changed"
	assert.Equal(t, []string{"db", "config"}, inv.List("only"))
}
