package status

import (
	"fmt"
	"strconv"
	"time"
)

// Human formats a duration the way the bot's posts show it: "800ms", "2.5s", "45s", "14m",
// "3h5m", "2d4h". Precision drops as durations grow, because "back to healthy after
// 14m" reads better than "after 14m7.31s".
func Human(d time.Duration) string {
	if d < 0 {
		return "-" + Human(-d)
	}
	// Each step rounds to its own precision first, so 59.7s reads "1m", not "60s".
	if d < time.Second {
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	if r := d.Round(100 * time.Millisecond); r < 10*time.Second {
		return strconv.FormatFloat(r.Seconds(), 'f', -1, 64) + "s"
	}
	if r := d.Round(time.Second); r < time.Minute {
		return strconv.FormatInt(int64(r/time.Second), 10) + "s"
	}
	if r := d.Round(time.Minute); r < time.Hour {
		return strconv.FormatInt(int64(r/time.Minute), 10) + "m"
	}
	if r := d.Round(time.Minute); r < 48*time.Hour {
		h, m := int64(r/time.Hour), int64(r%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
	r := d.Round(time.Hour)
	days, h := int64(r/(24*time.Hour)), int64(r%(24*time.Hour)/time.Hour)
	if h == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%dh", days, h)
}
