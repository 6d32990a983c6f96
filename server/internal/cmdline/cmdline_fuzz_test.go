package cmdline

import (
	"errors"
	"slices"
	"testing"
	"time"
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

func FuzzParseDuration(f *testing.F) {
	for _, seed := range []string{
		"30m", "24h", "7d", "1d12h", "1.5w", ".5h", "+1s", "-1h", "0", "0s",
		"1.2.3h", "99999999999999999999h", "2562047h47m16.854775807s",
		"1.00000000000000000000000001w", "µs", "3μs", "", "d", "1e3h",
		"9223372036854775807ns", "9223372036854775808ns", "0.9999999999999999999h",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		d, err := ParseDuration(input)
		if err == nil && d <= 0 {
			t.Fatalf("ParseDuration(%q) = %v without error, want a positive duration", input, d)
		}
		// Wherever the standard library accepts a positive duration, we must
		// agree. It computes fractions in floating point, so allow 1ns.
		want, stdErr := time.ParseDuration(input)
		if stdErr != nil || want <= 0 {
			return
		}
		if err != nil {
			t.Fatalf("ParseDuration(%q) = %v, but time.ParseDuration accepts it as %v", input, err, want)
		}
		if diff := d - want; diff < -1 || diff > 1 {
			t.Fatalf("ParseDuration(%q) = %v, time.ParseDuration = %v", input, d, want)
		}
	})
}
