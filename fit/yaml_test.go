package fit

import (
	"context"
	"math"
	"strings"
	"testing"
)

// chatOverhead is what the load generator's one-turn chat adds to its
// question's tokens, as the gateway counts them.
func TestChatOverhead(t *testing.T) {
	t.Parallel()
	db := simulate(t, `
name: overhead
duration: 1m
clock: virtual
gateway:
  products: [{name: p}]
  subscriptions: [{id: s, key: k, product: p}]
personas:
  - {name: one, subscription: s, rate: 10/min, prompt_tokens: 100, completion_tokens: 10}
  - {name: two, subscription: s, rate: 10/min, prompt_tokens: 2000, completion_tokens: 10, stream: true}
`)
	var lo, hi int64
	row := db.SQL().QueryRow(`SELECT min(prompt_tokens - CASE persona WHEN 'one' THEN 100 ELSE 2000 END),
		max(prompt_tokens - CASE persona WHEN 'one' THEN 100 ELSE 2000 END) FROM records WHERE outcome = 'ok'`)
	if err := row.Scan(&lo, &hi); err != nil {
		t.Fatal(err)
	}
	if lo != chatOverhead || hi != chatOverhead {
		t.Errorf("prompt tokens exceed the question by %d to %d, want chatOverhead = %d", lo, hi, chatOverhead)
	}
}

// A limit keyed by client IP is not passed off as a per-subscription one.
func TestFitOtherKey(t *testing.T) {
	t.Parallel()
	db := simulate(t, `
name: per-ip
duration: 2m
clock: virtual
gateway:
  products:
    - {name: office, token_limits: [{counter_key: ip, tokens_per_minute: 5000}]}
    - {name: standard, tokens_per_minute: 8000}
  subscriptions:
    - {id: office-sub, key: k1, product: office}
    - {id: app-sub, key: k2, product: standard}
personas:
  - {name: office, subscription: office-sub, rate: 10/min, prompt_tokens: 300, completion_tokens: 100}
  - {name: app, subscription: app-sub, rate: 10/min, prompt_tokens: 300, completion_tokens: 100}
`)
	tw, err := Fit(context.Background(), db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := tw.WriteYAML(&b, "per-ip"); err != nil {
		t.Fatal(err)
	}
	y := b.String()
	if !strings.Contains(y, "tokens_per_minute: 5000   # the largest limit_tpm recorded; it was keyed by client IP or user") ||
		!strings.Contains(y, "tokens_per_minute: 8000   # the largest limit_tpm recorded for its requests") {
		t.Errorf("products:\n%s", y)
	}
}

func TestBurstiness(t *testing.T) {
	t.Parallel()
	flat := shape(nil, nil)
	peaked := make([]float64, 24)
	for i := range peaked {
		peaked[i] = 0.5
	}
	peaked[0], peaked[1] = 6.5, 6.5 // mean 1, peak 6.5: p = 1/6.5
	tests := []struct {
		cv2   float64
		hours []float64
		want  float64
	}{
		{1, flat, 1},      // Poisson stays Poisson
		{4, flat, 0.25},   // dispersion 4: k = 1/4
		{0.01, flat, 20},  // regular: clamped
		{500, flat, 0.05}, // very bursty: clamped
		{1, peaked, 1},    // thinning keeps a Poisson process Poisson
		{2, peaked, 0.13}, // d0 = (2 − (1 − p)) / p = 7.5: k = 0.13
	}
	for _, tc := range tests {
		if got := burstiness(tc.cv2, tc.hours); got != tc.want {
			t.Errorf("burstiness(%v, peak %v) = %v, want %v", tc.cv2, tc.hours[0], got, tc.want)
		}
	}
	// Counts per hour over days with more of some hours than others: the
	// curve is the mean rate per hour, scaled to mean 1.
	counts := make([]float64, 24)
	reps := make([]float64, 24)
	for i := range counts {
		counts[i], reps[i] = 10, 1
	}
	counts[3], reps[3] = 20, 2 // hour 3 twice as often, same rate
	counts[5] = 40             // hour 5 four times the rate
	h := shape(counts, reps)
	if h[3] != h[0] || math.Abs(h[5]/h[0]-4) > 0.01 {
		t.Errorf("shape = %v; want hour 3 as hour 0 and hour 5 four times it", h)
	}
}
