package slashcmd

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []string
	}{
		{"empty", "", nil},
		{"only whitespace", " \t\n ", nil},
		{"plain words", "backup now", []string{"backup", "now"}},
		{"runs of whitespace", "  a \t b\n\nc  ", []string{"a", "b", "c"}},
		{"unicode whitespace", "a\u00a0b\u2003c\u3000d", []string{"a", "b", "c", "d"}},
		{"double quotes", `--reason "IdP down"`, []string{"--reason", "IdP down"}},
		{"single quotes", `--reason 'IdP down'`, []string{"--reason", "IdP down"}},
		{"typographic double", `--reason “IdP down”`, []string{"--reason", "IdP down"}},
		{"typographic double after equals", `--reason=“IdP down”`, []string{"--reason=IdP down"}},
		{"closing curly as opener", `--reason=”IdP down”`, []string{"--reason=IdP down"}},
		{"typographic single", `‘IdP down’`, []string{"IdP down"}},
		{"apostrophe is literal", `don’t panic`, []string{"don’t", "panic"}},
		{"apostrophe inside curly double", `“don’t panic”`, []string{"don’t panic"}},
		{"empty double quoted token", `a "" b`, []string{"a", "", "b"}},
		{"empty single quoted token", `''`, []string{""}},
		{"empty curly token", `“”`, []string{""}},
		{"quotes join adjacent text", `a"b c"d`, []string{"ab cd"}},
		{"other quotes literal in double", `"it's 'fine'"`, []string{"it's 'fine'"}},
		{"double literal in single", `'say "hi"'`, []string{`say "hi"`}},
		{"backslash literal in single", `'a\b\'`, []string{`a\b\`}},
		{"escaped quote in double", `"say \"hi\""`, []string{`say "hi"`}},
		{"escaped backslash in double", `"a\\b"`, []string{`a\b`}},
		{"other backslash kept in double", `"C:\backups\new"`, []string{`C:\backups\new`}},
		{"escaped curly in curly", `“a\”b”`, []string{`a”b`}},
		{"escaped space outside", `a\ b c`, []string{"a b", "c"}},
		{"escaped quote outside", `\"a`, []string{`"a`}},
		{"escaped backslash outside", `a\\b`, []string{`a\b`}},
		{"other backslash kept outside", `domain\user`, []string{`domain\user`}},
		{"trailing backslash", `a\`, []string{`a\`}},
		{"mentions", "@alice @Bob", []string{"@alice", "@Bob"}},
		{"invalid utf8 kept", "a\xffb c", []string{"a\xffb", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Split(tt.input)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSplitErrors(t *testing.T) {
	tests := []struct {
		name       string
		input      string
		wantOffset int
		wantMsg    string
	}{
		{"unterminated double", `backup now "oops`, 11,
			`unterminated quote starting at character 12: close it with "`},
		{"unterminated single", `'oops`, 0,
			`unterminated quote starting at character 1: close it with '`},
		{"unterminated curly", `a “oops`, 2,
			`unterminated quote starting at character 3: close it with ”`},
		{"character not byte position", `“a” “b`, 8,
			`unterminated quote starting at character 5: close it with ”`},
		{"escaped closer does not close", `"a\"`, 0,
			`unterminated quote starting at character 1: close it with "`},
		{"single curly needs right single", `‘a‘`, 0,
			`unterminated quote starting at character 1: close it with ’`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Split(tt.input)
			assert.Nil(t, got)
			var syntaxErr *SyntaxError
			require.True(t, errors.As(err, &syntaxErr), "want *SyntaxError, got %T (%v)", err, err)
			assert.Equal(t, tt.wantOffset, syntaxErr.Offset)
			assert.Equal(t, tt.wantMsg, syntaxErr.Error())
		})
	}
}

func TestQuote(t *testing.T) {
	tests := []struct {
		token string
		want  string
	}{
		{"backup", "backup"},
		{"--only=db,config", "--only=db,config"},
		{"@alice", "@alice"},
		{"don’t", "don’t"},
		{"", `""`},
		{"IdP down", `"IdP down"`},
		{`say "hi"`, `"say \"hi\""`},
		{`C:\backups`, `"C:\\backups"`},
		{"it's", `"it's"`},
		{"“curly”", `"“curly”"`},
		{"‘single’", `"‘single’"`},
		{"tab\there", "\"tab\there\""},
		{"nbsp\u00a0here", "\"nbsp\u00a0here\""},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			got := Quote(tt.token)
			assert.Equal(t, tt.want, got)
			back, err := Split(got)
			require.NoError(t, err)
			assert.Equal(t, []string{tt.token}, back)
		})
	}
}

func TestJoinRoundTrip(t *testing.T) {
	tests := [][]string{
		nil,
		{""},
		{"", ""},
		{"backup", "now", "--only", "db,config"},
		{"--reason", "IdP down", "@alice"},
		{`\`, `\\`, `"`, `'`, "“", "”", "‘", "’"},
		{"a\\ b", "trailing\\", " lead", "trail "},
		{"\xff\xfe", "ok\xc3"},
	}
	for _, tokens := range tests {
		joined := Join(tokens)
		got, err := Split(joined)
		require.NoError(t, err, "joined: %q", joined)
		assert.Equal(t, len(tokens), len(got), "joined: %q", joined)
		for i := range tokens {
			assert.Equal(t, tokens[i], got[i], "joined: %q", joined)
		}
	}
}
