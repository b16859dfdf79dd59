package loadgen

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as "90s", "2m" or "1h" in scenarios.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalText parses a Go duration string; a bare 0 is accepted.
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "0" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q (want e.g. 90s, 2m, 1h)", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes d as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Rate is events per second, written "30/min", "2/s", "100/h" or a bare
// number (per second) in scenarios.
type Rate float64

// PerSecond returns the rate in events per second.
func (r Rate) PerSecond() float64 { return float64(r) }

// UnmarshalText parses "N/unit" where unit is s, sec, second, m, min,
// minute, h, hour; a bare number is per second.
func (r *Rate) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	num, unit, hasUnit := strings.Cut(s, "/")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil {
		return fmt.Errorf("invalid rate %q (want e.g. 30/min, 2/s)", s)
	}
	per := 1.0
	if hasUnit {
		switch strings.TrimSpace(unit) {
		case "s", "sec", "second":
		case "m", "min", "minute":
			per = 60
		case "h", "hour":
			per = 3600
		default:
			return fmt.Errorf("invalid rate unit %q in %q (want s, min or h)", unit, s)
		}
	}
	*r = Rate(v / per)
	return nil
}

// String writes r in the unit that reads best: per second, per minute or
// per hour, whichever gives a whole number ("-5/min" rather than
// "-0.0833/s"), else per second.
func (r Rate) String() string {
	v := float64(r)
	for _, u := range []struct {
		per  float64
		name string
	}{{1, "s"}, {60, "min"}, {3600, "h"}} {
		n := v * u.per
		if math.Abs(n-math.Round(n)) < 1e-9*max(1, math.Abs(n)) {
			return strconv.FormatFloat(math.Round(n), 'f', -1, 64) + "/" + u.name
		}
	}
	return strconv.FormatFloat(v, 'g', 4, 64) + "/s"
}

// MarshalText writes r per second.
func (r Rate) MarshalText() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(r), 'g', -1, 64) + "/s"), nil
}
