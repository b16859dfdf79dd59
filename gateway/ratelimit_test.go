package gateway_test

import (
	"strings"
	"testing"
)

// TestRateLimitByKey: three calls a minute per x-user-id: the fourth gets
// 429 with Retry-After and the headers say what is left; another user has
// its own counter; the other product is not limited.
func TestRateLimitByKey(t *testing.T) {
	t.Parallel()
	spy := newSpy(t, 10)
	e := start(t, `products: [{name: std}, {name: gold}]
subscriptions: [{id: s1, key: k1, product: std, team: a}, {id: s2, key: k2, product: gold, team: b}]
rate_limits:
  - {product: std, counter_key: "header:x-user-id", calls: 3, remaining_calls_header_name: x-calls-left, total_calls_header_name: x-calls-total}
`, spy.srv.URL, nil)
	ana := map[string]string{"x-user-id": "ana"}
	for i, left := range []string{"2", "1", "0"} {
		a := post(t, e.url, chatPath, "k1", chatBody(5), ana)
		if a.status != 200 || a.header.Get("x-calls-left") != left || a.header.Get("x-calls-total") != "3" {
			t.Fatalf("call %d: status %d x-calls-left %q x-calls-total %q; want 200, %s, 3", i+1, a.status, a.header.Get("x-calls-left"), a.header.Get("x-calls-total"), left)
		}
	}
	a := post(t, e.url, chatPath, "k1", chatBody(5), ana)
	if a.status != 429 || a.header.Get("Retry-After") == "" || !strings.Contains(string(a.body), "Rate limit is exceeded. Try again in ") {
		t.Fatalf("fourth call: status %d Retry-After %q body %s", a.status, a.header.Get("Retry-After"), a.body)
	}
	if a := post(t, e.url, chatPath, "k1", chatBody(5), map[string]string{"x-user-id": "bo"}); a.status != 200 {
		t.Fatalf("another user: status %d", a.status)
	}
	for i := 0; i < 4; i++ {
		if a := post(t, e.url, chatPath, "k2", chatBody(5), ana); a.status != 200 {
			t.Fatalf("gold call %d: status %d, want 200 (the limit is std's)", i+1, a.status)
		}
	}
	if got := spy.hits.Load(); got != 8 {
		t.Errorf("backend hits %d, want 8 (the refused call never reached it)", got)
	}
}
