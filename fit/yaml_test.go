package fit

import (
	"context"
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
