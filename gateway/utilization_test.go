package gateway_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/gateway/policy/policytest"
)

// TestUtilizationPassesThrough: a PTU mock reports its bucket's level in
// azure-openai-deployment-utilization as Azure does ("20.9%"), on answers
// and on its 429s; the gateway passes the header to the caller and keeps
// the figure in the record's utilization_pct. A PAYG backend sends none,
// and its records carry none.
func TestUtilizationPassesThrough(t *testing.T) {
	t.Parallel()
	clock := policytest.NewFakeClock(t0)
	_, ptuURL := serveMock(t, mockllm.Config{PTUTPM: 1000, MinFraction: 1, Clock: clock})
	_, paygURL := serveMock(t, mockllm.Config{MinFraction: 1})
	e := startClock(t, clock, `
backends:
  - {name: ptu-1, tier: ptu, priority: 1, deployments: [gpt-4o-mini]}
  - {name: payg-1, tier: payg, priority: 2, deployments: [other]}
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, "", map[string]string{"ptu-1": ptuURL, "payg-1": paygURL})

	// each answer leaves prompt + 200 completion tokens in the 1000-token bucket
	var level, prompt int64
	for i := range 4 {
		a := post(t, e.url, chatPath, "k1", chatBody(200), nil)
		r := e.sink.last(t)
		prompt = r.PromptTokens
		level += prompt + 200
		want := fmt.Sprintf("%.1f%%", float64(level)/10)
		if a.status != 200 || a.header.Get(gateway.UtilizationHeader) != want {
			t.Fatalf("request %d: status %d, %s %q, want 200 with %q", i, a.status, gateway.UtilizationHeader, a.header.Get(gateway.UtilizationHeader), want)
		}
		if r.UtilizationPct == nil || fmt.Sprintf("%.1f%%", *r.UtilizationPct) != want {
			t.Fatalf("request %d: record utilization_pct %v, want %s", i, r.UtilizationPct, want)
		}
	}
	// the fifth does not fit: the 429 still says how full the deployment is
	a := post(t, e.url, chatPath, "k1", chatBody(200), nil)
	if want := fmt.Sprintf("%.1f%%", float64(level)/10); a.status != 429 || a.header.Get(gateway.UtilizationHeader) != want {
		t.Fatalf("over capacity: status %d, %s %q, want 429 with %q", a.status, gateway.UtilizationHeader, a.header.Get(gateway.UtilizationHeader), want)
	}
	// half a minute drains 500 tokens: a stream's headers say so
	clock.Advance(30 * time.Second)
	a = post(t, e.url, chatPath, "k1", `{"model":"gpt-4o-mini","stream":true,"max_tokens":40,"messages":[{"role":"user","content":"hello there"}]}`, nil)
	r := e.sink.last(t)
	got := a.header.Get(gateway.UtilizationHeader)
	want := fmt.Sprintf("%.1f%%", float64(level-500+prompt+40)/10)
	if a.status != 200 || got != want || r.UtilizationPct == nil || fmt.Sprintf("%.1f%%", *r.UtilizationPct) != want {
		t.Fatalf("stream after 30 s: status %d, header %q, record %v; want %s", a.status, got, r.UtilizationPct, want)
	}

	a = post(t, e.url, chatPath, "k1", `{"model":"other","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}`, nil)
	if r := e.sink.last(t); a.status != 200 || r.Backend != "payg-1" || a.header.Get(gateway.UtilizationHeader) != "" || r.UtilizationPct != nil {
		t.Fatalf("payg: status %d from %s, header %q, record %v; want no utilization", a.status, r.Backend, a.header.Get(gateway.UtilizationHeader), r.UtilizationPct)
	}
}
