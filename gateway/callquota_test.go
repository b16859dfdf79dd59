package gateway_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/record"
)

// TestRateLimitYAMLWindowAndCondition: rate_limits with a 90 s window that
// counts only answers of 200. Backend refusals are relayed uncounted; the
// window renews on the virtual clock; the refusal is OpenAI-shaped with
// wire openai.
func TestRateLimitYAMLWindowAndCondition(t *testing.T) {
	t.Parallel()
	spy := newSpy(t, 10)
	e := start(t, `products: [{name: std}]
subscriptions: [{id: s1, key: k1, product: std, team: a}]
rate_limits:
  - {counter_key: "@(context.Subscription.Id)", calls: 2, renewal_period: 90s, count_statuses: ["200"], remaining_calls_header_name: x-calls-left}
`, spy.srv.URL, nil)
	for i := range 2 {
		if a := post(t, e.url, chatPath, "k1", chatBody(5), nil); a.status != 200 {
			t.Fatalf("call %d: status %d", i+1, a.status)
		}
		e.clock.Advance(20 * time.Second)
	}
	// At 40 s the counter holds 2 (not over 2): this call passes and makes 3.
	if a := post(t, e.url, chatPath, "k1", chatBody(5), nil); a.status != 200 || a.header.Get("x-calls-left") != "0" {
		t.Fatalf("third call: status %d x-calls-left %q, want 200 and 0", a.status, a.header.Get("x-calls-left"))
	}
	e.clock.Advance(10 * time.Second) // 50 s: the first call leaves at 90 s
	a := post(t, e.url, chatPath, "k1", chatBody(5), nil)
	if a.status != 429 || a.header.Get("Retry-After") != "40" || a.errorCode(t) != "429" || !strings.Contains(string(a.body), `"Rate limit is exceeded. Try again in 40 seconds."`) {
		t.Fatalf("fourth call: status %d Retry-After %q body %s", a.status, a.header.Get("Retry-After"), a.body)
	}
	if r := e.sink.last(t); r.Outcome != record.OutcomeThrottled || r.CounterKey != "s1" || r.RetryAfterMS != 40000 {
		t.Fatalf("record: outcome %s counter_key %q retry_after_ms %d", r.Outcome, r.CounterKey, r.RetryAfterMS)
	}
	e.clock.Advance(40 * time.Second)
	if a := post(t, e.url, chatPath, "k1", chatBody(5), nil); a.status != 200 {
		t.Fatalf("after the window: status %d", a.status)
	}
	if got := spy.hits.Load(); got != 4 {
		t.Errorf("backend hits %d, want 4", got)
	}
}

// TestQuotaYAMLLifetime: quotas with renewal_period 0s never renew: the
// third call of the product's subscription gets 403 without Retry-After,
// however long the virtual clock runs.
func TestQuotaYAMLLifetime(t *testing.T) {
	t.Parallel()
	spy := newSpy(t, 10)
	e := start(t, `products: [{name: trial}, {name: paid}]
subscriptions: [{id: s1, key: k1, product: trial, team: a}, {id: s2, key: k2, product: paid, team: b}]
quotas:
  - {product: trial, counter_key: "@(context.Subscription.Id)", calls: 2, renewal_period: 0s}
`, spy.srv.URL, nil)
	for i := range 2 {
		if a := post(t, e.url, chatPath, "k1", chatBody(5), nil); a.status != 200 {
			t.Fatalf("call %d: status %d", i+1, a.status)
		}
	}
	e.clock.Advance(400 * 24 * time.Hour)
	a := post(t, e.url, chatPath, "k1", chatBody(5), nil)
	if a.status != 403 || a.header.Get("Retry-After") != "" || a.errorCode(t) != "403" || !strings.Contains(string(a.body), `"Out of call volume quota. The quota does not renew."`) {
		t.Fatalf("third call: status %d Retry-After %q body %s", a.status, a.header.Get("Retry-After"), a.body)
	}
	if r := e.sink.last(t); r.Status != 403 || r.Outcome != record.OutcomeQuotaExceeded || r.CounterKey != "s1" {
		t.Fatalf("record: status %d outcome %s counter_key %q", r.Status, r.Outcome, r.CounterKey)
	}
	if a := post(t, e.url, chatPath, "k2", chatBody(5), nil); a.status != 200 {
		t.Fatalf("other product: status %d", a.status)
	}
}

// TestCallPolicyConfigErrors: the config's call policies are checked at
// file:line:column with their field paths.
func TestCallPolicyConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "gw.yaml")
	src := `subscriptions: [{id: s1, key: k1, team: a}]
rate_limits:
  - {calls: 5, renewal_period: 301s}
  - {calls: 5, count_statuses: ["2xx"]}
quotas:
  - {calls: 5}
  - {bandwidth: 10, renewal_period: 1.5s, api: petstore}
  - {calls: 1, renewal_period: 300s, first_period_start: 2026-01-01T00:00:00Z, from_subscription_start: true}
`
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := gateway.LoadConfig(p)
	for _, want := range []string{
		p + ":3:32: rate_limits[0].renewal_period: must be whole seconds from 1s to 300s (default 60s), got 5m1s",
		p + ":4:33: rate_limits[1].count_statuses[0]: invalid status range \"2xx\"",
		p + ":6:5: quotas[0].renewal_period: is required",
		p + ":7:37: quotas[1].renewal_period: must be whole seconds >= 0 (0: never renews), got 1.5s",
		p + ":7:48: quotas[1].api: must be openai or azure-openai, got \"petstore\"",
		p + ":8:58: quotas[2].first_period_start: give first_period_start or from_subscription_start, not both",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nwant one containing %q", err, want)
		}
	}
}
