// Package storetest is the conformance suite every store.Store must pass.
// It is written once and run over each implementation:
//
//	func TestConformance(t *testing.T) { storetest.Run(t, newStore) }
package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway/policy"
	"github.com/aiload/aiload/gateway/store"
)

// T0 is the suite's start time: Wednesday 2026-11-25 12:00:00 UTC.
var T0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// step is one operation on a store and what it must answer.
type step struct {
	at     time.Duration // since T0
	checks []store.Check
	// settle, when set, settles the reservation made at settleAt with actual
	// tokens instead of reserving.
	settle   bool
	settleAt time.Duration
	actual   int64

	allowed   bool
	denied    int
	retry     time.Duration
	remaining []int64
}

func tpm(key string, limit, need, reserve int64) store.Check {
	return store.Check{Key: key, Kind: store.Window, Limit: limit, Need: need, Reserve: reserve}
}

func quota(key string, limit, need, reserve int64, p policy.QuotaPeriod) store.Check {
	return store.Check{Key: key, Kind: store.Period, Limit: limit, Period: p, Need: need, Reserve: reserve}
}

// calls is a call counter: a sliding window of span (rate-limit).
func calls(key string, span time.Duration, limit, need, reserve int64) store.Check {
	return store.Check{Key: key, Kind: store.Window, Span: span, Limit: limit, Need: need, Reserve: reserve}
}

// renewal is a quota of fixed periods of every from start (quota-by-key).
func renewal(key string, every time.Duration, start time.Time, limit, need, reserve int64) store.Check {
	return store.Check{Key: key, Kind: store.Period, Renewal: policy.Renewal{Every: every, Start: start}, Limit: limit, Need: need, Reserve: reserve}
}

func cs(c ...store.Check) []store.Check { return c }

var cases = []struct {
	name  string
	steps []step
}{
	{
		// APIM estimate-off: a request passes while used < limit, the one that
		// crosses the limit still passes, the next is refused until the first
		// charge leaves the 60 s window.
		name: "apim over-admission then block until the window frees",
		steps: []step{
			{at: 0, checks: cs(tpm("a", 1000, 1, 0)), allowed: true, denied: -1, remaining: []int64{1000}},
			{at: time.Second, settle: true, settleAt: 0, checks: cs(tpm("a", 1000, 1, 0)), actual: 600, remaining: []int64{400}},
			{at: 10 * time.Second, checks: cs(tpm("a", 1000, 1, 0)), allowed: true, denied: -1, remaining: []int64{400}},
			{at: 11 * time.Second, settle: true, settleAt: 10 * time.Second, checks: cs(tpm("a", 1000, 1, 0)), actual: 700, remaining: []int64{0}},
			{at: 20 * time.Second, checks: cs(tpm("a", 1000, 1, 0)), denied: 0, retry: 41 * time.Second, remaining: []int64{0}},
			{at: 61 * time.Second, checks: cs(tpm("a", 1000, 1, 0)), allowed: true, denied: -1, remaining: []int64{300}},
		},
	},
	{
		// Strict: prompt + max_tokens is reserved at admission, so a second
		// request that would not fit is refused before any usage is known.
		name: "strict reservation refuses what would not fit, settle refunds",
		steps: []step{
			{at: 0, checks: cs(tpm("s", 1000, 600, 600)), allowed: true, denied: -1, remaining: []int64{400}},
			{at: time.Second, checks: cs(tpm("s", 1000, 600, 600)), denied: 0, retry: 59 * time.Second, remaining: []int64{400}},
			{at: 2 * time.Second, settle: true, settleAt: 0, checks: cs(tpm("s", 1000, 600, 600)), actual: 250, remaining: []int64{750}},
			{at: 3 * time.Second, checks: cs(tpm("s", 1000, 600, 600)), allowed: true, denied: -1, remaining: []int64{150}},
		},
	},
	{
		// A settled reservation keeps its admission time: it expires one
		// window after it was reserved, not after it was settled.
		name: "settled charge expires from the reservation time",
		steps: []step{
			{at: 0, checks: cs(tpm("e", 100, 100, 100)), allowed: true, denied: -1, remaining: []int64{0}},
			{at: 30 * time.Second, settle: true, settleAt: 0, checks: cs(tpm("e", 100, 100, 100)), actual: 90, remaining: []int64{10}},
			{at: 59 * time.Second, checks: cs(tpm("e", 100, 20, 20)), denied: 0, retry: time.Second, remaining: []int64{10}},
			{at: 60 * time.Second, checks: cs(tpm("e", 100, 20, 20)), allowed: true, denied: -1, remaining: []int64{80}},
		},
	},
	{
		// Settling with 0 releases a reservation (request never served).
		name: "settle zero releases",
		steps: []step{
			{at: 0, checks: cs(tpm("r", 100, 80, 80), quota("r", 500, 80, 80, policy.Daily)), allowed: true, denied: -1, remaining: []int64{20, 420}},
			{at: time.Second, settle: true, settleAt: 0, checks: cs(tpm("r", 100, 80, 80), quota("r", 500, 80, 80, policy.Daily)), actual: 0, remaining: []int64{100, 500}},
		},
	},
	{
		// token-quota: fixed window from the UTC time truncated to the unit;
		// a refusal retries at the end of the period; the next period starts empty.
		name: "hourly quota resets at the top of the hour",
		steps: []step{
			{at: 0, checks: cs(quota("q", 1000, 1, 0, policy.Hourly)), allowed: true, denied: -1, remaining: []int64{1000}},
			{at: time.Minute, settle: true, settleAt: 0, checks: cs(quota("q", 1000, 1, 0, policy.Hourly)), actual: 1000, remaining: []int64{0}},
			{at: 20 * time.Minute, checks: cs(quota("q", 1000, 1, 0, policy.Hourly)), denied: 0, retry: 40 * time.Minute, remaining: []int64{0}},
			{at: 60 * time.Minute, checks: cs(quota("q", 1000, 1, 0, policy.Hourly)), allowed: true, denied: -1, remaining: []int64{1000}},
		},
	},
	{
		// Quota and TPM both exhausted: the quota decides (403 before 429).
		name: "quota refusal wins over tpm refusal",
		steps: []step{
			{at: 0, checks: cs(tpm("b", 100, 100, 100), quota("b", 100, 100, 100, policy.Daily)), allowed: true, denied: -1, remaining: []int64{0, 0}},
			{at: time.Second, checks: cs(tpm("b", 100, 1, 0), quota("b", 100, 1, 0, policy.Daily)), denied: 1, retry: 12*time.Hour - time.Second, remaining: []int64{0, 0}},
		},
	},
	{
		// All or nothing: when one check refuses, the others are not charged.
		name: "refusal charges nothing",
		steps: []step{
			{at: 0, checks: cs(tpm("x", 100, 100, 100)), allowed: true, denied: -1, remaining: []int64{0}},
			{at: time.Second, checks: cs(tpm("y", 100, 50, 50), tpm("x", 100, 50, 50)), denied: 1, retry: 59 * time.Second, remaining: []int64{100, 0}},
			{at: 2 * time.Second, checks: cs(tpm("y", 100, 100, 100)), allowed: true, denied: -1, remaining: []int64{0}},
		},
	},
	{
		// One counter per key value: other keys are untouched.
		name: "keys are independent",
		steps: []step{
			{at: 0, checks: cs(tpm("k1", 100, 100, 100)), allowed: true, denied: -1, remaining: []int64{0}},
			{at: 0, checks: cs(tpm("k2", 100, 100, 100)), allowed: true, denied: -1, remaining: []int64{0}},
			{at: 0, checks: cs(quota("k1", 100, 100, 100, policy.Monthly)), allowed: true, denied: -1, remaining: []int64{0}},
		},
	},
	{
		// rate-limit renewal-period="90": a call leaves the window 90 s after
		// it was made, not 60.
		name: "call window of 90 seconds",
		steps: []step{
			{at: 0, checks: cs(calls("c90", 90*time.Second, 2, 1, 1)), allowed: true, denied: -1, remaining: []int64{1}},
			{at: 10 * time.Second, checks: cs(calls("c90", 90*time.Second, 2, 1, 1)), allowed: true, denied: -1, remaining: []int64{0}},
			{at: 70 * time.Second, checks: cs(calls("c90", 90*time.Second, 2, 1, 1)), denied: 0, retry: 20 * time.Second, remaining: []int64{0}},
			{at: 90 * time.Second, checks: cs(calls("c90", 90*time.Second, 2, 1, 1)), allowed: true, denied: -1, remaining: []int64{0}},
		},
	},
	{
		// Counting after the answer (increment-condition): admission needs
		// no room (used <= limit passes), the charge comes with Settle.
		name: "calls charged after the answer",
		steps: []step{
			{at: 0, checks: cs(calls("ca", 30*time.Second, 1, 0, 0)), allowed: true, denied: -1, remaining: []int64{1}},
			{at: time.Second, settle: true, checks: cs(calls("ca", 30*time.Second, 1, 0, 0)), actual: 1, remaining: []int64{0}},
			{at: 2 * time.Second, checks: cs(calls("ca", 30*time.Second, 1, 0, 0)), allowed: true, denied: -1, remaining: []int64{0}},
			{at: 3 * time.Second, settle: true, checks: cs(calls("ca", 30*time.Second, 1, 0, 0)), actual: 1, remaining: []int64{0}},
			{at: 4 * time.Second, checks: cs(calls("ca", 30*time.Second, 1, 0, 0)), denied: 0, retry: 27 * time.Second, remaining: []int64{0}},
		},
	},
	{
		// quota-by-key renewal-period="600" from year 1: the period holding
		// 12:04 ends at 12:10; the next starts empty.
		name: "renewal periods from first-period-start",
		steps: []step{
			{at: 4 * time.Minute, checks: cs(renewal("r6", 600*time.Second, policy.DefaultRenewalStart, 2, 2, 2)), allowed: true, denied: -1, remaining: []int64{0}},
			{at: 5 * time.Minute, checks: cs(renewal("r6", 600*time.Second, policy.DefaultRenewalStart, 2, 1, 1)), denied: 0, retry: 5 * time.Minute, remaining: []int64{0}},
			{at: 10 * time.Minute, checks: cs(renewal("r6", 600*time.Second, policy.DefaultRenewalStart, 2, 1, 1)), allowed: true, denied: -1, remaining: []int64{1}},
			// Another start is another counter of the same key.
			{at: 10 * time.Minute, checks: cs(renewal("r6", 600*time.Second, T0.Add(time.Second), 2, 2, 2)), allowed: true, denied: -1, remaining: []int64{0}},
		},
	},
	{
		// renewal-period="0": a lifetime quota never renews.
		name: "lifetime quota",
		steps: []step{
			{at: 0, checks: cs(renewal("life", 0, policy.DefaultRenewalStart, 1, 1, 1)), allowed: true, denied: -1, remaining: []int64{0}},
			{at: 400 * 24 * time.Hour, checks: cs(renewal("life", 0, policy.DefaultRenewalStart, 1, 1, 1)), denied: 0, retry: policy.Lifetime.Sub(T0.Add(400 * 24 * time.Hour)), remaining: []int64{0}},
		},
	},
	{
		// A request that needs more than the whole limit can never pass.
		name: "need above the limit is refused for a full window",
		steps: []step{
			{at: 0, checks: cs(tpm("big", 100, 101, 101)), denied: 0, retry: time.Minute, remaining: []int64{100}},
		},
	},
}

// Run runs the conformance suite against stores made by newStore (a fresh,
// empty store per case).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			for i, st := range tc.steps {
				runStep(t, s, i, st)
			}
		})
	}
	t.Run("strict never over-admits under concurrency", func(t *testing.T) { concurrent(t, newStore(t)) })
	t.Run("quota periods", func(t *testing.T) { periods(t, newStore(t)) })
}

func runStep(t *testing.T, s store.Store, i int, st step) {
	t.Helper()
	ctx := context.Background()
	now := T0.Add(st.at)
	if st.settle {
		rem, err := s.Settle(ctx, now, T0.Add(st.settleAt), st.checks, st.actual)
		if err != nil {
			t.Fatalf("step %d: Settle: %v", i, err)
		}
		if !equal(rem, st.remaining) {
			t.Fatalf("step %d at %v: Settle(actual=%d) remaining %v, want %v", i, st.at, st.actual, rem, st.remaining)
		}
		return
	}
	v, err := s.Reserve(ctx, now, st.checks)
	if err != nil {
		t.Fatalf("step %d: Reserve: %v", i, err)
	}
	if v.Allowed != st.allowed || v.Denied != st.denied || v.RetryAfter != st.retry || !equal(v.Remaining, st.remaining) {
		t.Fatalf("step %d at %v: Reserve(%+v) = %+v, want allowed=%v denied=%d retry=%v remaining=%v",
			i, st.at, st.checks, v, st.allowed, st.denied, st.retry, st.remaining)
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// concurrent sends 50 strict reservations of 100 tokens at once against a
// limit of 1000: exactly 10 pass.
func concurrent(t *testing.T, s store.Store) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	passed := 0
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := s.Reserve(context.Background(), T0, cs(tpm("c", 1000, 100, 100)))
			if err != nil {
				t.Errorf("Reserve: %v", err)
				return
			}
			if v.Allowed {
				mu.Lock()
				passed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if passed != 10 {
		t.Fatalf("%d of 50 concurrent reservations of 100 passed a limit of 1000, want 10", passed)
	}
}

// periods checks each period's boundary: spend the quota just before the
// boundary, refused until it, allowed at it.
func periods(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, tc := range []struct {
		p        policy.QuotaPeriod
		boundary time.Time // next period start after T0 (Wed 2026-11-25 12:00)
	}{
		{policy.Hourly, time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)},
		{policy.Daily, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)},
		{policy.Weekly, time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)}, // Monday
		{policy.Monthly, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		{policy.Yearly, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		c := cs(quota("p-"+string(tc.p), 10, 10, 10, tc.p))
		before := tc.boundary.Add(-time.Second)
		if v, _ := s.Reserve(ctx, T0, c); !v.Allowed {
			t.Fatalf("%s: first reservation refused: %+v", tc.p, v)
		}
		if v, _ := s.Reserve(ctx, before, c); v.Allowed || v.RetryAfter != time.Second {
			t.Fatalf("%s: at %v got %+v, want refused with 1s to wait", tc.p, before, v)
		}
		if v, _ := s.Reserve(ctx, tc.boundary, c); !v.Allowed {
			t.Fatalf("%s: at the boundary %v got %+v, want allowed", tc.p, tc.boundary, v)
		}
	}
}
