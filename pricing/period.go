package pricing

import (
	"fmt"
	"strings"
	"time"
)

// Period is a billing period [Start, End), UTC: what a chargeback bills and
// a report covers.
type Period struct {
	Start, End time.Time
	Label      string // as given: "2026-11" or "2026-11-01..2026-11-07"
}

// ParsePeriod reads a calendar month ("2026-11"), an inclusive range of
// days ("2026-11-01..2026-11-07") or a range of RFC 3339 instants
// ("2026-11-01T08:00:00Z..2026-11-01T14:00:00Z", end excluded).
func ParsePeriod(s string) (Period, error) {
	if from, to, ok := strings.Cut(s, ".."); ok {
		if a, err := time.Parse(time.RFC3339, from); err == nil {
			b, err := time.Parse(time.RFC3339, to)
			if err != nil || !b.After(a) {
				return Period{}, fmt.Errorf("period %q: want FROM..TO in RFC 3339 with TO after FROM", s)
			}
			return Period{Start: a.UTC(), End: b.UTC(), Label: s}, nil
		}
		a, err1 := time.Parse(time.DateOnly, from)
		b, err2 := time.Parse(time.DateOnly, to)
		if err1 != nil || err2 != nil || b.Before(a) {
			return Period{}, fmt.Errorf("period %q: want YYYY-MM or YYYY-MM-DD..YYYY-MM-DD", s)
		}
		return Period{Start: a, End: b.AddDate(0, 0, 1), Label: s}, nil
	}
	m, err := time.Parse("2006-01", s)
	if err != nil {
		return Period{}, fmt.Errorf("period %q: want YYYY-MM or YYYY-MM-DD..YYYY-MM-DD", s)
	}
	return Month(m.Year(), m.Month()), nil
}

// Month is the calendar month m of year y, UTC, labelled "2026-11".
func Month(y int, m time.Month) Period {
	s := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	return Period{Start: s, End: s.AddDate(0, 1, 0), Label: s.Format("2006-01")}
}

// Hours is the period's length in hours.
func (p Period) Hours() float64 { return p.End.Sub(p.Start).Hours() }

// Minutes is the period's length in minutes.
func (p Period) Minutes() int64 { return int64(p.End.Sub(p.Start) / time.Minute) }

// WholeMonths returns the number of calendar months the period spans when
// it starts on the 1st and ends on a 1st, at midnight UTC, else 0.
func (p Period) WholeMonths() int {
	if p.Start.Day() != 1 || p.End.Day() != 1 || !p.Start.Equal(p.Start.Truncate(24*time.Hour)) {
		return 0
	}
	n := 0
	for t := p.Start; t.Before(p.End); t = t.AddDate(0, 1, 0) {
		n++
	}
	if !p.Start.AddDate(0, n, 0).Equal(p.End) {
		return 0
	}
	return n
}
