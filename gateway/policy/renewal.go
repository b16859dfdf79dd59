package policy

import (
	"fmt"
	"time"
)

// Renewal is the fixed window of a call or bandwidth quota (API
// Management's quota and quota-by-key): periods of Every from Start, so the
// period holding now starts at Start + k·Every. Every 0 is one period that
// never ends (renewal-period="0": a lifetime quota).
type Renewal struct {
	Every time.Duration
	Start time.Time
}

// Lifetime is the end of a Renewal that never renews: far enough away that
// no quota reaches it, near enough that a microsecond count of it is exact
// in a float64 (a Redis script's number).
var Lifetime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)

// DefaultRenewalStart is where quota periods are counted from when the
// policy gives no first-period-start: 0001-01-01T00:00:00Z, as in API
// Management (a 600 s period then renews at 00:00, 00:10, 00:20 … UTC).
var DefaultRenewalStart = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)

// Validate rejects a period that is negative or not whole seconds.
func (r Renewal) Validate() error {
	if r.Every < 0 || r.Every%time.Second != 0 {
		return fmt.Errorf("must be whole seconds >= 0 (0: never renews), got %s", r.Every)
	}
	return nil
}

// Bounds returns the period [start, end) holding now; periods extend
// before Start too (floor division). Arithmetic is in whole seconds from Start, so a Start in year 1 is
// exact (a time.Duration spans only 292 years).
func (r Renewal) Bounds(now time.Time) (start, end time.Time) {
	if r.Every <= 0 {
		return r.Start, Lifetime
	}
	every := int64(r.Every / time.Second)
	elapsed := now.Unix() - r.Start.Unix()
	k := elapsed / every
	if elapsed%every < 0 {
		k-- // floor, not truncation, before Start
	}
	start = time.Unix(r.Start.Unix()+k*every, 0).UTC()
	return start, start.Add(r.Every)
}
