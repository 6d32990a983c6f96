// Package duration parses the human-friendly durations of settings and command flags
// ("30m", "7d", "1.5w"): everything time.ParseDuration accepts, plus days and weeks.
package duration

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"time"
)

// durationHint is appended to every duration error so the user sees what a
// valid value looks like without having to open the help.
const durationHint = "use a number and a unit such as 30m, 24h, 7d or 1d12h (units: s, m, h, d, w)"

// durationUnits extends time.ParseDuration's units with days and weeks, which
// is how people talk about backup retention. A day is always 24h here:
// durations are elapsed time, not calendar arithmetic.
var durationUnits = map[string]uint64{
	"ns": uint64(time.Nanosecond),
	"us": uint64(time.Microsecond),
	"µs": uint64(time.Microsecond), // U+00B5 micro sign
	"μs": uint64(time.Microsecond), // U+03BC Greek mu
	"ms": uint64(time.Millisecond),
	"s":  uint64(time.Second),
	"m":  uint64(time.Minute),
	"h":  uint64(time.Hour),
	"d":  uint64(24 * time.Hour),
	"w":  uint64(7 * 24 * time.Hour),
}

var errDurationOverflow = errors.New("too large")

// Parse parses a positive duration such as "30m", "24h", "7d",
// "1d12h" or "1.5w". It accepts everything time.ParseDuration accepts plus
// the units d (24h) and w (7d). Zero and negative durations are rejected
// because every caller uses durations as a window or a retention period.
func Parse(s string) (time.Duration, error) {
	d, err := parseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: %w; %s", s, err, durationHint)
	}
	return d, nil
}

func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("empty")
	}
	switch s[0] {
	case '-':
		return 0, errors.New("must be positive")
	case '+':
		s = s[1:]
	}
	var total uint64
	for s != "" {
		whole, rest, intDigits, err := leadingInt(s)
		if err != nil {
			return 0, err
		}
		s = rest
		var frac uint64
		scale, fracDigits := uint64(1), 0
		if s != "" && s[0] == '.' {
			frac, scale, fracDigits, s = leadingFraction(s[1:])
		}
		if intDigits+fracDigits == 0 {
			return 0, errors.New("expected a number")
		}
		unitEnd := strings.IndexFunc(s, func(r rune) bool { return r == '.' || ('0' <= r && r <= '9') })
		if unitEnd < 0 {
			unitEnd = len(s)
		}
		name := s[:unitEnd]
		s = s[unitEnd:]
		if name == "" {
			return 0, errors.New("missing unit")
		}
		unit, ok := durationUnits[name]
		if !ok {
			return 0, fmt.Errorf("unknown unit %q", name)
		}
		if whole > math.MaxInt64/unit {
			return 0, errDurationOverflow
		}
		v := whole * unit
		if scale > 1 {
			// frac/scale < 1, so the quotient is below unit and fits in 64
			// bits; 128-bit arithmetic keeps it exact without overflow.
			hi, lo := bits.Mul64(frac, unit)
			q, _ := bits.Div64(hi, lo, scale)
			v += q
		}
		if v > math.MaxInt64-total {
			return 0, errDurationOverflow
		}
		total += v
	}
	if total == 0 {
		return 0, errors.New("must be greater than zero")
	}
	return time.Duration(total), nil
}

// leadingInt consumes the decimal digits at the start of s. The count may be
// zero because a number may start with "." (".5h").
func leadingInt(s string) (n uint64, rest string, digits int, err error) {
	for ; digits < len(s) && '0' <= s[digits] && s[digits] <= '9'; digits++ {
		d := uint64(s[digits] - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, "", 0, errDurationOverflow
		}
		n = n*10 + d
	}
	return n, s[digits:], digits, nil
}

// leadingFraction consumes the digits after a decimal point, returning them
// as an integer and the power of ten to divide by. Digits beyond what a
// uint64 holds are dropped: they are far below a nanosecond.
func leadingFraction(s string) (frac, scale uint64, digits int, rest string) {
	scale = 1
	for ; digits < len(s) && '0' <= s[digits] && s[digits] <= '9'; digits++ {
		if scale > math.MaxUint64/100 {
			continue
		}
		frac = frac*10 + uint64(s[digits]-'0')
		scale *= 10
	}
	return frac, scale, digits, s[digits:]
}
