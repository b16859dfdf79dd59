package policy

import (
	"testing"
	"time"
)

// TestRenewalBounds: periods counted from first-period-start, including
// API Management's default of year 1, whose renewals fall on multiples of
// the period since then.
func TestRenewalBounds(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name     string
		r        Renewal
		now      string
		from, to string
	}{
		// 600 s from year 1: the period holding 00:41:36 ends at 00:50:00
		// (504 s later).
		{"ten minutes from year 1", Renewal{Every: 600 * time.Second, Start: DefaultRenewalStart}, "2022-02-20T00:41:36Z", "2022-02-20T00:40:00Z", "2022-02-20T00:50:00Z"},
		// 3000 s from year 1 at 02:53:16: 26 min 44 s left.
		{"fifty minutes from year 1", Renewal{Every: 3000 * time.Second, Start: DefaultRenewalStart}, "2022-01-21T02:53:16Z", "2022-01-21T02:30:00Z", "2022-01-21T03:20:00Z"},
		// An hour from a start at 12:30: periods run from half past.
		{"hour from half past", Renewal{Every: time.Hour, Start: at("2026-01-01T12:30:00Z")}, "2026-03-04T08:10:00Z", "2026-03-04T07:30:00Z", "2026-03-04T08:30:00Z"},
		// The instant a period ends belongs to the next one.
		{"boundary", Renewal{Every: time.Hour, Start: at("2026-01-01T00:00:00Z")}, "2026-01-01T05:00:00Z", "2026-01-01T05:00:00Z", "2026-01-01T06:00:00Z"},
		// Before the start, periods extend backwards.
		{"before start", Renewal{Every: time.Hour, Start: at("2026-01-01T00:00:00Z")}, "2025-12-31T23:59:59Z", "2025-12-31T23:00:00Z", "2026-01-01T00:00:00Z"},
		// renewal-period 0: one period that never ends.
		{"lifetime", Renewal{Start: DefaultRenewalStart}, "2026-01-01T05:00:00Z", "0001-01-01T00:00:00Z", "2200-01-01T00:00:00Z"},
	}
	for _, c := range cases {
		from, to := c.r.Bounds(at(c.now).Add(300 * time.Millisecond))
		if !from.Equal(at(c.from)) || !to.Equal(at(c.to)) {
			t.Errorf("%s: Bounds(%s) = [%s, %s), want [%s, %s)", c.name, c.now, from.Format(time.RFC3339), to.Format(time.RFC3339), c.from, c.to)
		}
	}
	if err := (Renewal{Every: 1500 * time.Millisecond}).Validate(); err == nil {
		t.Error("Validate accepted 1.5 s, want whole seconds")
	}
}
