package policy

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestCheckUsageOverAdmission(t *testing.T) {
	t.Parallel()
	// APIM with estimation off: a request passes while used < limit, even
	// when its own usage then crosses the limit; the next one is blocked.
	w := NewSlidingWindow(TPMWindow)
	steps := []struct {
		at        time.Duration
		charge    int64 // usage reported after the request, when allowed
		allowed   bool
		remaining int64
		retry     time.Duration
	}{
		{0, 600, true, 1000, 0},                           // empty window
		{10 * time.Second, 600, true, 400, 0},             // 600 < 1000: passes, window now 1200
		{20 * time.Second, 0, false, 0, 40 * time.Second}, // full until the first charge expires at 60s
		{60 * time.Second, 100, true, 400, 0},             // first charge expired: 600 left in window
	}
	for i, s := range steps {
		now := t0.Add(s.at)
		d := CheckUsage(w, now, 1000)
		if d.Allowed != s.allowed || d.Remaining != s.remaining || d.RetryAfter != s.retry {
			t.Fatalf("step %d at %v: got %+v, want allowed=%v remaining=%d retry=%v", i, s.at, d, s.allowed, s.remaining, s.retry)
		}
		if d.Allowed {
			w.Add(now, s.charge)
		}
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   time.Duration
		want int64
	}{
		{0, 1},                       // never advertise 0
		{1500 * time.Millisecond, 2}, // rounded up
		{40 * time.Second, 40},
	} {
		if got := RetryAfterSeconds(tc.in); got != tc.want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
