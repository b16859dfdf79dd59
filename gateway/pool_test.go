package gateway_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/gateway/policy/policytest"
	"github.com/aiload/aiload/record"
)

// counterValue returns the value of a gateway counter with one series.
func counterValue(t *testing.T, e *env, name string) float64 {
	t.Helper()
	mfs, err := e.gw.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

func serveMock(t *testing.T, c mockllm.Config) (*mockllm.Server, string) {
	t.Helper()
	m := mockllm.New(c)
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	return m, srv.URL
}

// TestPoolConformance covers the backend pool (API Management backends.md):
// priority groups, weights, circuit breaker per backend, PTU first and PAYG
// as spill-over, retry on another backend.
func TestPoolConformance(t *testing.T) {
	t.Parallel()
	runBehaviours(t, []behaviour{
		// "uses backends in lower priority groups only when all backends in
		// higher priority groups are unavailable because circuit breaker
		// rules are tripped"; a PTU 429 trips its breaker and <retry> sends
		// the request again, to PAYG; after trip_duration traffic returns
		// to PTU.
		{"ptu spills over to payg and comes back", spillOver},
		// Without <retry> the PTU's 429 is the caller's answer; the breaker
		// counts it, so the next request goes to PAYG.
		{"no retry: the backend's 429 reaches the caller", noRetry},
		// Retries pick from the pool again: once every breaker is open the
		// answer is 503, with every attempt in the record.
		{"retries end at an empty pool", retryEmptyPool},
		// A pool of one backend: <retry> tries the same backend again.
		{"retry on a single backend", retrySameBackend},
		// acceptRetryAfter: the breaker stays open for the backend's Retry-After.
		{"breaker accepts retry-after", acceptRetryAfter},
		// "within a group, distribute requests ... according to assigned weights"
		{"weights within a priority group", weights},
		// A 5xx or a reset connection is retried on the next backend.
		{"retry on another backend after a fault", retryAfterFault},
		// failure percentage within an interval trips the breaker.
		{"failure percentage", failurePercentage},
		// A backend that does not answer within its timeout: 504 timeout, or
		// the next backend.
		{"backend timeout", backendTimeout},
	})
}

func spillOver(t *testing.T) {
	clock := policytest.NewFakeClock(t0)
	ptu, ptuURL := serveMock(t, mockllm.Config{PTUTPM: 1000, MinFraction: 1, Clock: clock})
	_, paygURL := serveMock(t, mockllm.Config{MinFraction: 1})
	e := startClock(t, clock, `
backends:
  - {name: ptu-1, tier: ptu, priority: 1, circuit_breaker: {failure_count: 1, interval: 10s, status_ranges: ["429"], trip_duration: 30s}}
  - {name: payg-1, tier: payg, priority: 2}
retry: {status_codes: ["429"], count: 1, first_fast_retry: true}
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, "", map[string]string{"ptu-1": ptuURL, "payg-1": paygURL})
	// Each request charges the PTU bucket ~9 prompt + 200 max_tokens.
	want := []struct {
		advance time.Duration
		backend string
	}{
		{0, "ptu-1"}, {0, "ptu-1"}, {0, "ptu-1"}, {0, "ptu-1"}, // 4 × ~209 fit in 1000
		{0, "payg-1"},               // PTU answers 429: breaker trips, retried on PAYG
		{time.Second, "payg-1"},     // PTU is out for 30 s
		{30 * time.Second, "ptu-1"}, // breaker reset, bucket drained: back to PTU
	}
	for i, w := range want {
		e.clock.Advance(w.advance)
		a := post(t, e.url, chatPath, "k1", chatBody(200), nil)
		r := e.sink.last(t)
		if a.status != 200 || r.Backend != w.backend || r.BackendTier != map[string]string{"ptu-1": "ptu", "payg-1": "payg"}[w.backend] {
			t.Fatalf("request %d: status %d backend %s/%s, want 200 from %s", i, a.status, r.Backend, r.BackendTier, w.backend)
		}
		if got := attempts(r); i == 4 && got != "ptu-1:429 payg-1:200" || i != 4 && got != w.backend+":200" {
			t.Fatalf("request %d: backend_attempts %s", i, got)
		}
	}
	if ptu.Throttled() != 1 {
		t.Fatalf("PTU answered %d 429s, want 1", ptu.Throttled())
	}
	if got := counterValue(t, e, "aiload_gateway_circuit_trips_total"); got != 1 {
		t.Fatalf("circuit trips metric %v, want 1", got)
	}
}

// attempts renders a record's backend attempts as "name:status ...".
func attempts(r record.Record) string {
	var parts []string
	for _, a := range r.BackendAttempts {
		parts = append(parts, fmt.Sprintf("%s:%d", a.Backend, a.Status))
	}
	return strings.Join(parts, " ")
}

func noRetry(t *testing.T) {
	ptu, spare := newSpy(t, 50), newSpy(t, 50)
	ptu.status.Store(429)
	ptu.retryMS.Store(2000)
	e := start(t, `
backends:
  - {name: ptu-1, url: `+ptu.srv.URL+`, tier: ptu, circuit_breaker: {failure_count: 1, status_ranges: ["429"], trip_duration: 10s}}
  - {name: payg-1, url: `+spare.srv.URL+`, priority: 2}
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, "", nil)
	a := post(t, e.url, chatPath, "k1", chatBody(5), nil)
	r := e.sink.last(t)
	if a.status != 429 || r.Outcome != record.OutcomeBackendThrottled || r.Backend != "ptu-1" || attempts(r) != "ptu-1:429" ||
		a.header.Get("retry-after-ms") != "2000" || !strings.Contains(string(a.body), "backend says no") || spare.hits.Load() != 0 {
		t.Fatalf("status %d outcome %s backend %s attempts %q retry-after-ms %q body %s, PAYG hits %d; want the PTU's own 429 and PAYG untouched",
			a.status, r.Outcome, r.Backend, attempts(r), a.header.Get("retry-after-ms"), a.body, spare.hits.Load())
	}
	if a := post(t, e.url, chatPath, "k1", chatBody(5), nil); a.status != 200 || attempts(e.sink.last(t)) != "payg-1:200" {
		t.Fatalf("after the trip: %d via %s, want 200 from payg-1", a.status, attempts(e.sink.last(t)))
	}
}

func retryEmptyPool(t *testing.T) {
	a1, a2 := newSpy(t, 50), newSpy(t, 50)
	a1.status.Store(429)
	a2.status.Store(429)
	e := start(t, `
backends:
  - {name: ptu-1, url: `+a1.srv.URL+`, circuit_breaker: {failure_count: 1, status_ranges: ["429"], trip_duration: 10s}}
  - {name: payg-1, url: `+a2.srv.URL+`, priority: 2, circuit_breaker: {failure_count: 1, status_ranges: ["429"], trip_duration: 10s}}
retry: {status_codes: ["429"], count: 5}
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, "", nil)
	a := post(t, e.url, chatPath, "k1", chatBody(5), nil)
	r := e.sink.last(t)
	if a.status != 503 || r.Outcome != record.OutcomeCircuitOpen || r.Backend != "" || attempts(r) != "ptu-1:429 payg-1:429" {
		t.Fatalf("status %d outcome %s backend %q attempts %q; want 503 circuit_open after ptu-1:429 payg-1:429", a.status, r.Outcome, r.Backend, attempts(r))
	}
}

func retrySameBackend(t *testing.T) {
	be := newSpy(t, 50)
	be.status.Store(500)
	e := start(t, `
backends: [{name: only, url: `+be.srv.URL+`}]
retry: {status_codes: ["500-599"], count: 2}
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, "", nil)
	a := post(t, e.url, chatPath, "k1", chatBody(5), nil)
	if r := e.sink.last(t); a.status != 500 || be.hits.Load() != 3 || attempts(r) != "only:500 only:500 only:500" {
		t.Fatalf("status %d, %d hits, attempts %q; want the third 500 after 3 attempts", a.status, be.hits.Load(), attempts(r))
	}
}

func acceptRetryAfter(t *testing.T) {
	be := newSpy(t, 50)
	be.status.Store(429)
	be.retryMS.Store(90_000) // 90 s
	spare := newSpy(t, 50)
	e := start(t, `
backends:
  - {name: a, url: `+be.srv.URL+`, circuit_breaker: {failure_count: 1, trip_duration: 10s, accept_retry_after: true}}
  - {name: b, url: `+spare.srv.URL+`, priority: 2}
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, "", nil)
	post(t, e.url, chatPath, "k1", chatBody(5), nil) // a: 429 → trips for 90 s; served by b
	be.status.Store(200)
	for _, step := range []struct {
		advance time.Duration
		backend string
	}{{30 * time.Second, "b"}, {59 * time.Second, "b"}, {time.Second, "a"}} {
		e.clock.Advance(step.advance)
		post(t, e.url, chatPath, "k1", chatBody(5), nil)
		if r := e.sink.last(t); r.Backend != step.backend {
			t.Fatalf("after %v more: served by %s, want %s", step.advance, r.Backend, step.backend)
		}
	}
}

func weights(t *testing.T) {
	heavy, light := newSpy(t, 20), newSpy(t, 20)
	e := start(t, `
backends:
  - {name: heavy, url: `+heavy.srv.URL+`, weight: 3}
  - {name: light, url: `+light.srv.URL+`, weight: 1}
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, "", nil)
	for range 40 {
		post(t, e.url, chatPath, "k1", chatBody(5), nil)
	}
	if heavy.hits.Load() != 30 || light.hits.Load() != 10 {
		t.Fatalf("weights 3:1 over 40 requests gave %d:%d, want 30:10", heavy.hits.Load(), light.hits.Load())
	}
}

func retryAfterFault(t *testing.T) {
	_, resetURL := serveMock(t, mockllm.Config{ResetRate: 1})
	_, errURL := serveMock(t, mockllm.Config{ErrorRate: 1})
	_, okURL := serveMock(t, mockllm.Config{})
	e := start(t, `
backends:
  - {name: resets, url: `+resetURL+`, circuit_breaker: {failure_count: 1}}
  - {name: errors, url: `+errURL+`, priority: 2, circuit_breaker: {failure_count: 1}}
  - {name: good, url: `+okURL+`, priority: 3}
retry: {count: 2}
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, "", nil)
	a := post(t, e.url, chatPath, "k1", chatBody(5), nil)
	if r := e.sink.last(t); a.status != 200 || r.Backend != "good" || r.Outcome != record.OutcomeOK || attempts(r) != "resets:0 errors:500 good:200" {
		t.Fatalf("status %d backend %s outcome %s attempts %q, want 200 from good after a reset and a 500", a.status, r.Backend, r.Outcome, attempts(r))
	}
}

func failurePercentage(t *testing.T) {
	be := newSpy(t, 20)
	e := start(t, `
backends:
  - {name: a, url: `+be.srv.URL+`, circuit_breaker: {failure_percentage: 50, min_requests: 4, interval: 1m, trip_duration: 1m}}
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, "", nil)
	for i, s := range []struct {
		backend, want int
	}{{200, 200}, {200, 200}, {500, 500}, {500, 500}, {200, 503}} { // 2 of 4 failed = 50 %: tripped
		be.status.Store(int64(s.backend))
		if a := post(t, e.url, chatPath, "k1", chatBody(5), nil); a.status != s.want {
			t.Fatalf("request %d: got %d, want %d", i, a.status, s.want)
		}
	}
}

func backendTimeout(t *testing.T) {
	_, hangURL := serveMock(t, mockllm.Config{TimeoutRate: 1})
	_, okURL := serveMock(t, mockllm.Config{})
	e := start(t, `
backends:
  - {name: hangs, url: `+hangURL+`, timeout: 100ms}
products: [{name: p, token_limits: [{tokens_per_minute: 1000, mode: strict}]}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, "", nil)
	a := post(t, e.url, chatPath, "k1", chatBody(5), nil)
	if r := e.sink.last(t); a.status != 504 || r.Outcome != record.OutcomeTimeout || a.errorCode(t) != "backend_timeout" || r.RemainingTokens != 1000 {
		t.Fatalf("status %d outcome %s remaining %d; want 504 timeout with the reservation released", a.status, r.Outcome, r.RemainingTokens)
	}
	e2 := start(t, `
backends:
  - {name: hangs, url: `+hangURL+`, timeout: 100ms, circuit_breaker: {failure_count: 1}}
  - {name: good, url: `+okURL+`, priority: 2}
retry: {count: 1}
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, "", nil)
	if a := post(t, e2.url, chatPath, "k1", chatBody(5), nil); a.status != 200 || e2.sink.last(t).Backend != "good" {
		t.Fatalf("with a second backend: %d from %s, want 200 from good", a.status, e2.sink.last(t).Backend)
	}
}
