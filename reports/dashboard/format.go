package dashboard

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// count formats n with thousands separators below ten million and in
// millions (one decimal) above: 12,345 / 12.3M.
func count(n int64) string {
	if n >= 10_000_000 || n <= -10_000_000 {
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + "M"
	}
	s := strconv.FormatInt(max(n, -n), 10)
	var b strings.Builder
	if n < 0 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// rate formats a per-second rate: one decimal below 100, whole above.
func rate(v float64) string {
	if v < 100 {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return count(int64(math.Round(v)))
}

// clock formats a duration as m:ss, or h:mm:ss from an hour.
func clock(d time.Duration) string {
	s := int64(max(d, 0) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// usd formats dollars: four decimals below $10, two above; "–" when unknown.
func usd(v float64, known bool) string {
	switch {
	case !known:
		return "–"
	case v < 10:
		return "$" + strconv.FormatFloat(v, 'f', 4, 64)
	default:
		return "$" + strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// millis formats a latency in whole milliseconds; "–" when 0 (none yet).
func millis(v float64) string {
	if v <= 0 {
		return "–"
	}
	return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
}

// percent formats a 0..1 share as a whole percentage.
func percent(f float64) string {
	return strconv.FormatFloat(math.Round(f*100), 'f', 0, 64) + "%"
}

// sparkLevels are the eight block heights of a sparkline.
var sparkLevels = [...]rune{'▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'}

// sparkline draws the last width values, scaled to their maximum, padded
// on the left with spaces when there are fewer values than width.
func sparkline(values []float64, width int) string {
	if width <= 0 {
		return ""
	}
	if len(values) > width {
		values = values[len(values)-width:]
	}
	top := 0.0
	for _, v := range values {
		top = max(top, v)
	}
	var b strings.Builder
	b.WriteString(strings.Repeat(" ", width-len(values)))
	for _, v := range values {
		i := 0
		if top > 0 {
			i = int(math.Round(v / top * float64(len(sparkLevels)-1)))
		}
		b.WriteRune(sparkLevels[min(max(i, 0), len(sparkLevels)-1)])
	}
	return b.String()
}

// blocks draws a bar of width cells filled to frac (0..1, clipped).
func blocks(frac float64, width int) (filled, empty string) {
	if width <= 0 {
		return "", ""
	}
	n := int(math.Round(min(max(frac, 0), 1) * float64(width)))
	if frac > 0 && n == 0 {
		n = 1 // anything at all shows
	}
	return strings.Repeat("█", n), strings.Repeat("░", width-n)
}
