package dashboard

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/muesli/termenv"

	"github.com/aiload/aiload/record"
)

// rec builds a record received at t0+at that took latency ms.
func rec(at time.Duration, sub, team string, outcome record.Outcome, prompt, completion int64, latency float64) *record.Record {
	status := map[record.Outcome]int{record.OutcomeOK: 200, record.OutcomeThrottled: 429, record.OutcomeBackendError: 502}[outcome]
	return &record.Record{
		TS: t0.Add(at), SubscriptionID: sub, Team: team, Product: "standard", Model: "gpt-4o-mini",
		Backend: "mock", BackendTier: "payg", Persona: team + "-users", ClientIP: "127.0.0.1",
		PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion,
		Status: status, Outcome: outcome, LimitTPM: 10000, RetryAfterMS: 7000, LatencyMS: latency, Attempt: 1,
	}
}

// TestTallyWindows checks the per-subscription figures against numbers
// worked out by hand: TPM used and 429s count only the last 60 s.
func TestTallyWindows(t *testing.T) {
	t.Parallel()
	tl := NewTally(miniPrice)
	tl.AddSubscription("idle-sub", "idle", "standard", 60000)
	for _, r := range []*record.Record{
		rec(0, "a-sub", "a", record.OutcomeOK, 1000, 500, 100),                   // at 0.1 s, falls out of the window by t=61 s
		rec(30*time.Second, "a-sub", "a", record.OutcomeOK, 2000, 1000, 200),     // inside
		rec(31*time.Second, "a-sub", "a", record.OutcomeThrottled, 3000, 300, 1), // 429: no tokens charged
		rec(59*time.Second, "a-sub", "a", record.OutcomeOK, 400, 100, 300),       // inside
		rec(60*time.Second, "b-sub", "b", record.OutcomeBackendError, 0, 0, 50),  // error
	} {
		if err := tl.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	s := tl.Snapshot(t0.Add(61 * time.Second))
	if len(s.Teams) != 3 {
		t.Fatalf("rows %+v, want a, b and idle", s.Teams)
	}
	a, b, idle := s.Teams[0], s.Teams[1], s.Teams[2]
	// gpt-4o-mini: $0.15 in, $0.60 out per million.
	wantCost := (3400*0.15 + 1600*0.60) / 1e6
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"a TPM used (last 60 s: 3000 + 500)", float64(a.TPMUsed), 3500},
		{"a limit", float64(a.TPMLimit), 10000},
		{"a 429s last minute", float64(a.Throttled1m), 1},
		{"a 429s total", float64(a.ThrottledTotal), 1},
		{"a tokens (ok only)", float64(a.Tokens), 5000},
		{"a p50 ms (of 100, 200, 300)", math.Round(a.P50MS), 200},
		{"a p99 ms", math.Round(a.P99MS), 300},
		{"a cost", a.CostUSD, wantCost},
		{"b errors", float64(b.Errors), 1},
		{"idle requests", float64(idle.Requests), 0},
		{"idle limit", float64(idle.TPMLimit), 60000},
		{"total requests", float64(s.Totals.Requests), 5},
		{"total ok", float64(s.Totals.OK), 3},
		{"total 429", float64(s.Totals.Throttled), 1},
		{"total errors", float64(s.Totals.Errors), 1},
		{"total tokens", float64(s.Totals.Tokens), 5000},
		{"total cost", s.Totals.CostUSD, wantCost},
		{"request rate over 5 s (2 at 59 s and 60 s)", s.RequestRate, 2.0 / 5},
		{"token rate over 5 s", s.TokenRate, 500.0 / 5},
		{"backend share", s.Backends[0].Share, 1},
		{"backend TPM", float64(s.Backends[0].TPM), 3500},
	} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !a.CostKnown || !s.Totals.CostKnown {
		t.Errorf("cost of gpt-4o-mini should be known")
	}
	// Two minutes later the windows are empty, the totals are not.
	later := tl.Snapshot(t0.Add(3 * time.Minute))
	if got := later.Teams[0]; got.TPMUsed != 0 || got.Throttled1m != 0 || got.ThrottledTotal != 1 {
		t.Errorf("after 3 min: TPM used %d, 429s 1m %d, total %d; want 0, 0, 1", got.TPMUsed, got.Throttled1m, got.ThrottledTotal)
	}
}

// TestTallyEvents: 429s and errors become events, newest first, equal
// ones within a second merged.
func TestTallyEvents(t *testing.T) {
	t.Parallel()
	tl := NewTally(nil)
	tl.Write(rec(1*time.Second, "a-sub", "a", record.OutcomeThrottled, 10, 10, 1))
	tl.Write(rec(1*time.Second+200*time.Millisecond, "a-sub", "a", record.OutcomeThrottled, 10, 10, 1))
	tl.Write(rec(2*time.Second, "b-sub", "b", record.OutcomeBackendError, 0, 0, 5))
	tl.Write(rec(3*time.Second, "a-sub", "a", record.OutcomeOK, 10, 10, 5))
	tl.AddEvent(Event{At: t0.Add(4 * time.Second), Kind: EventBreaker, Who: "ptu-1", Text: "ptu-1 breaker open"})
	s := tl.Snapshot(t0.Add(5 * time.Second))
	want := []struct {
		kind  EventKind
		text  string
		count int
	}{
		{EventBreaker, "ptu-1 breaker open", 1},
		{EventError, "502 backend_error b-sub via mock", 1},
		{EventThrottled, "429 a-sub over 10,000 TPM, retry after 7s", 2},
	}
	if len(s.Events) != len(want) {
		t.Fatalf("events %+v, want %d", s.Events, len(want))
	}
	for i, w := range want {
		if e := s.Events[i]; e.Kind != w.kind || e.Text != w.text || e.Count != w.count {
			t.Errorf("event %d = %+v, want %v %q ×%d", i, e, w.kind, w.text, w.count)
		}
	}
	if s.Totals.CostKnown {
		t.Errorf("cost known without prices")
	}
}

// TestTallyNATIPs: a persona's distinct client IPs, and those with a 429
// in the last minute.
func TestTallyNATIPs(t *testing.T) {
	t.Parallel()
	tl := NewTally(nil)
	for i, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		r := rec(time.Duration(i)*time.Second, "a-sub", "a", record.OutcomeOK, 1, 1, 1)
		r.ClientIP = ip
		tl.Write(r)
	}
	r := rec(10*time.Second, "a-sub", "a", record.OutcomeThrottled, 1, 1, 1)
	r.ClientIP = "127.0.0.3"
	tl.Write(r)
	p := tl.Snapshot(t0.Add(20 * time.Second)).Personas[0]
	if p.NATIPs != 3 || p.NATIPsThrottled != 1 {
		t.Errorf("NAT IPs %d, throttled %d; want 3, 1", p.NATIPs, p.NATIPsThrottled)
	}
	if p = tl.Snapshot(t0.Add(80 * time.Second)).Personas[0]; p.NATIPsThrottled != 0 {
		t.Errorf("NAT IPs throttled a minute later: %d, want 0", p.NATIPsThrottled)
	}
}

// miniPrice prices every model as gpt-4o-mini ($0.15 in, $0.075 cached, $0.60 out per million).
func miniPrice(r *record.Record) (float64, bool) {
	return Price{Input: 0.15, CachedInput: 0.075, Output: 0.60}.Cost(r.PromptTokens, r.CachedTokens, r.CompletionTokens), true
}

// TestPriceCost checks the cost formula.
func TestPriceCost(t *testing.T) {
	t.Parallel()
	p := Price{Input: 2.50, CachedInput: 1.25, Output: 10}
	for _, c := range []struct {
		prompt, cached, completion int64
		want                       float64
	}{
		{1e6, 0, 1e6, 12.5},             // 1M prompt + 1M completion: $2.50 + $10
		{1e6, 5e5, 0, 1.25 + 0.625},     // half of the prompt cached at half price
		{100, 500, 0, 100 * 1.25 / 1e6}, // cached beyond the prompt counts as the whole prompt
	} {
		if got := p.Cost(c.prompt, c.cached, c.completion); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Cost(%d, %d, %d) = %v, want %v", c.prompt, c.cached, c.completion, got, c.want)
		}
	}
}

// TestTallyPerKeyLimit: with a limit kept per client IP, the subscription's
// row shows its busiest counter against the per-key limit, not the sum.
func TestTallyPerKeyLimit(t *testing.T) {
	t.Parallel()
	tl := NewTally(nil)
	for i, c := range []struct {
		ip     string
		tokens int64
	}{{"127.0.0.2", 1000}, {"127.0.0.3", 4000}, {"127.0.0.2", 500}, {"127.0.0.4", 2000}} {
		r := rec(time.Duration(i)*time.Second, "office-sub", "ops", record.OutcomeOK, c.tokens, 0, 10)
		r.CounterKey, r.LimitTPM, r.ClientIP = c.ip, 5000, c.ip
		tl.Write(r)
	}
	r := rec(5*time.Second, "office-sub", "ops", record.OutcomeThrottled, 100, 100, 1)
	r.CounterKey, r.LimitTPM = "127.0.0.3", 5000
	tl.Write(r)
	s := tl.Snapshot(t0.Add(10 * time.Second))
	row := s.Teams[0]
	if row.TPMUsed != 4000 || row.TPMLimit != 5000 || row.CounterKey != "127.0.0.3" || row.Keys != 3 {
		t.Errorf("row %+v; want 4000/5000 on key 127.0.0.3 of 3", row)
	}
	if e := s.Events[0]; e.Text != "429 office-sub key 127.0.0.3 over 5,000 TPM, retry after 7s" {
		t.Errorf("event %q", e.Text)
	}
	m := feed(t, pinned(termenv.Ascii, 120, 24, nil), snapshotMsg(s))
	if v := m.View(); !strings.Contains(v, "4,000/5,000 80% busiest of 3 keys") {
		t.Errorf("overview:\n%s", v)
	}
}

// TestTallyEventsKeepRareKinds: a storm of 429s over many seconds keeps
// the breaker trip from before it, and 429s of two keys alternating within
// a second merge per key.
func TestTallyEventsKeepRareKinds(t *testing.T) {
	t.Parallel()
	tl := NewTally(nil)
	tl.AddEvent(Event{At: t0, Kind: EventBreaker, Who: "ptu", Text: "ptu breaker open"})
	for i := range 3 * maxEvents {
		for _, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.2"} {
			r := rec(time.Duration(i+1)*time.Second, "s", "a", record.OutcomeThrottled, 1, 1, 1)
			r.CounterKey = ip
			tl.Write(r)
		}
	}
	evs := tl.Snapshot(t0.Add(time.Hour)).Events
	if len(evs) != maxEvents+1 {
		t.Fatalf("%d events, want %d 429s and the breaker trip", len(evs), maxEvents+1)
	}
	if last := evs[len(evs)-1]; last.Kind != EventBreaker {
		t.Errorf("oldest event %+v, want the breaker trip", last)
	}
	if e := evs[0]; e.Who != "s key 127.0.0.2" || e.Count != 2 {
		t.Errorf("newest event %+v, want key 127.0.0.2 ×2", e)
	}
}
