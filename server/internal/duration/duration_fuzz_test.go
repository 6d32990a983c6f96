package duration

import (
	"testing"
	"time"
)

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"30m", "24h", "7d", "1d12h", "1.5w", ".5h", "+1s", "-1h", "0", "0s",
		"1.2.3h", "99999999999999999999h", "2562047h47m16.854775807s",
		"1.00000000000000000000000001w", "µs", "3μs", "", "d", "1e3h",
		"9223372036854775807ns", "9223372036854775808ns", "0.9999999999999999999h",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input string) {
		d, err := Parse(input)
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
