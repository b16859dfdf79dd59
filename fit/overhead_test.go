package fit

import (
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
