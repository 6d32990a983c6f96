// Package bytesize writes sizes the one way every message of the plugin and drctl shows them:
// binary units (KiB, MiB, GiB, like df -h and du -h) with one decimal, so that two sizes in
// one table compare at a glance and a small backup never reads "0 MB".
package bytesize

import "fmt"

// Format returns n bytes as "512 B", "1.5 KiB", "20.0 MiB", "3.2 GiB".
func Format(n int64) string {
	if n > -1024 && n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, exp := float64(n), -1
	// Up a unit while the value would print as 1024.0 or more.
	for (v >= 1023.95 || v <= -1023.95) && exp < 5 {
		v /= 1024
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[exp])
}
