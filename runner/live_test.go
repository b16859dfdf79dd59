package runner

import (
	"math"
	"testing"
	"time"

	"github.com/aiload/aiload/loadgen"
	"github.com/aiload/aiload/pricing"
	"github.com/aiload/aiload/record"
	"github.com/aiload/aiload/reports/dashboard"
	"github.com/aiload/aiload/reports/dashboard/gatewayview"
	"github.com/aiload/aiload/scenario"
)

// TestListPrice values records at the default pricing file's list prices.
func TestListPrice(t *testing.T) {
	t.Parallel()
	price := gatewayview.ListPrice(pricing.Default())
	m, ok := pricing.Default().Lookup("gpt-4o-mini")
	if !ok {
		t.Skip("default pricing has no gpt-4o-mini")
	}
	// A dated deployment name resolves to its model's price.
	got, ok := price(&record.Record{Model: "gpt-4o-mini-2024-07-18", PromptTokens: 1e6, CompletionTokens: 1e6})
	if want := m.Input + m.Output; !ok || math.Abs(got-want) > 1e-9 {
		t.Errorf("1M in + 1M out of gpt-4o-mini = $%v (%v), want $%v", got, ok, want)
	}
	if _, ok := price(&record.Record{Model: "no-such-model"}); ok {
		t.Errorf("an unknown model has a price")
	}
}

// TestMergeLoad maps the load generator's snapshot into the dashboard's:
// callers' totals, pipelines, batch jobs, NAT IPs, and for an external
// target (no records) the subscription rows and rates.
func TestMergeLoad(t *testing.T) {
	t.Parallel()
	sc := &scenario.Scenario{Personas: []loadgen.Persona{{Name: "office", Kind: loadgen.KindNAT, EgressIPs: 4}, {Name: "nightly", Kind: loadgen.KindBatch, Requests: 50}}}
	ls := &loadgen.Snapshot{
		Total: loadgen.Stats{Sent: 30, OK: 25, Throttled: 5, Retries: 3, GaveUp: 1, InFlight: 2, PromptTokens: 900, CompletionTokens: 100},
		Personas: []loadgen.Stats{
			{Name: "office", Kind: loadgen.KindNAT, Sent: 10, OK: 8, Throttled: 2},
			{Name: "agents", Kind: loadgen.KindAgent, Sent: 12, Pipelines: &loadgen.PipelineStats{Completed: 4, Broken: 1}},
			{Name: "nightly", Kind: loadgen.KindBatch, Sent: 8, OK: 60, GaveUp: 5, Jobs: &loadgen.JobStats{Started: 3, Completed: 1, Failed: 1}},
		},
		Subscriptions: []loadgen.Stats{{Name: "sub-a", Team: "a", Sent: 30, Throttled: 5, PromptTokens: 900, CompletionTokens: 100}},
		Intervals:     []loadgen.Interval{{SentPerSec: 2, TokensPerMin: 600}, {SentPerSec: 1, TokensPerMin: 1200}},
	}
	s := dashboard.Snapshot{Personas: []dashboard.PersonaRow{{Persona: "office", NATIPsThrottled: 3}}}
	mergeLoad(&s, ls, sc, map[string]int64{"sub-a": 700})
	if c := s.Client; c == nil || c.Sent != 30 || c.GaveUp != 1 || c.InFlight != 2 {
		t.Errorf("client totals %+v", s.Client)
	}
	want := []dashboard.PersonaRow{
		{Persona: "office", Kind: "nat", BehindNAT: true, Requests: 10, OK: 8, Throttled: 2, NATIPs: 4, NATIPsThrottled: 3},
		{Persona: "agents", Kind: "agent", RunsPipelines: true, Requests: 12, PipelinesDone: 4, PipelinesBroken: 1},
		{Persona: "nightly", Kind: "batch", Requests: 8, OK: 60, BatchDone: 2, BatchTotal: 3, BatchFailed: 1, ItemsDone: 65, ItemsTotal: 150},
	}
	for i, w := range want {
		if s.Personas[i] != w {
			t.Errorf("persona %d = %+v, want %+v", i, s.Personas[i], w)
		}
	}
	if s.RequestRate != 3 || s.TokenRate != 30 {
		t.Errorf("rates %v req/s, %v tok/s; want 3 and 30 (1800 tokens/min)", s.RequestRate, s.TokenRate)
	}
	if len(s.Teams) != 1 || s.Teams[0].TPMUsed != 700 || s.Teams[0].ThrottledTotal != 5 || s.Teams[0].Tokens != 1000 {
		t.Errorf("subscription rows %+v", s.Teams)
	}
}

// TestSubWindow derives tokens per minute from cumulative counts.
func TestSubWindow(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var w subWindow
	for i := range 91 { // 1,000 tokens a second for 90 s
		w.add(t0.Add(time.Duration(i)*time.Second), []loadgen.Stats{{Name: "s", PromptTokens: int64(i) * 1000}})
	}
	// 90 s in: the last minute holds 60 s of tokens.
	if got := w.used(t0.Add(90 * time.Second))["s"]; got != 60000 {
		t.Errorf("used over the last minute = %d, want 60000", got)
	}
}

// TestLivePricing: the dashboard's cost uses the scenario's pricing over
// the built-in prices, as the run's report does.
func TestLivePricing(t *testing.T) {
	t.Parallel()
	sc := &scenario.Scenario{Pricing: map[string]any{"models": map[string]any{"gpt-4o-mini": map[string]any{"input": 1.0, "output": 2.0}}}}
	got, ok := gatewayview.ListPrice(livePricing(sc))(&record.Record{Model: "gpt-4o-mini", PromptTokens: 1e6, CompletionTokens: 1e6})
	if !ok || math.Abs(got-3) > 1e-9 {
		t.Errorf("1M in + 1M out at $1/$2 = $%v (%v), want $3", got, ok)
	}
}
