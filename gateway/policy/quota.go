package policy

import (
	"fmt"
	"strings"
	"time"
)

// QuotaPeriod is a token-quota-period: the fixed window after which a token
// quota resets.
type QuotaPeriod string

// Quota periods, as API Management spells them.
const (
	Hourly  QuotaPeriod = "Hourly"
	Daily   QuotaPeriod = "Daily"
	Weekly  QuotaPeriod = "Weekly"
	Monthly QuotaPeriod = "Monthly"
	Yearly  QuotaPeriod = "Yearly"
)

// ParseQuotaPeriod accepts a period name in any letter case.
func ParseQuotaPeriod(s string) (QuotaPeriod, error) {
	for _, p := range []QuotaPeriod{Hourly, Daily, Weekly, Monthly, Yearly} {
		if strings.EqualFold(s, string(p)) {
			return p, nil
		}
	}
	return "", fmt.Errorf("must be one of Hourly, Daily, Weekly, Monthly, Yearly, got %q", s)
}

// Bounds returns the fixed window [start, end) holding now. As in API
// Management, a period starts at the UTC time truncated to its unit: the top
// of the hour, midnight UTC, the first of the month, January 1st. Weeks start
// on Monday 00:00 UTC (ISO 8601).
func (p QuotaPeriod) Bounds(now time.Time) (start, end time.Time) {
	u := now.UTC()
	y, m, d := u.Date()
	switch p {
	case Hourly:
		start = u.Truncate(time.Hour)
		return start, start.Add(time.Hour)
	case Weekly:
		back := (int(u.Weekday()) + 6) % 7 // days since Monday
		start = time.Date(y, m, d-back, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 0, 7)
	case Monthly:
		start = time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0)
	case Yearly:
		start = time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(1, 0, 0)
	default: // Daily
		start = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 0, 1)
	}
}
