package slashcmd

import (
	"errors"
	"slices"
	"testing"
)

func FuzzSplit(f *testing.F) {
	for _, seed := range []string{
		"",
		"backup now --only db,config",
		`--reason "IdP down"`,
		`--reason=“IdP down”`,
		`--reason=”IdP down”`,
		`‘single’ don’t`,
		`a "" b ''`,
		`a"b c"d`,
		`"say \"hi\"" \\ \  \"`,
		`"C:\backups\new"`,
		`trailing\`,
		`"unterminated`,
		`“unterminated`,
		`‘unterminated‘`,
		"\xff\xfe\"\xff\"",
		"a\u00a0b\u2003c\u0085d",
		`"\“\”"`,
		"\\\u00a0",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		tokens, err := Split(input)
		if err != nil {
			var syntaxErr *SyntaxError
			if !errors.As(err, &syntaxErr) {
				t.Fatalf("Split(%q) returned %T, want *SyntaxError", input, err)
			}
			if syntaxErr.Offset < 0 || syntaxErr.Offset >= len(input) {
				t.Fatalf("Split(%q) error offset %d out of range", input, syntaxErr.Offset)
			}
			return
		}
		joined := Join(tokens)
		again, err := Split(joined)
		if err != nil {
			t.Fatalf("Split(Join(%q)) = error %v; joined %q", tokens, err, joined)
		}
		if !slices.Equal(tokens, again) {
			t.Fatalf("Split(Join(tokens)) = %q, want %q; joined %q", again, tokens, joined)
		}
		// Each input token also round-trips when used on its own as a string.
		for _, tok := range tokens {
			single, err := Split(Quote(tok))
			if err != nil || len(single) != 1 || single[0] != tok {
				t.Fatalf("Split(Quote(%q)) = %q, %v", tok, single, err)
			}
		}
	})
}
