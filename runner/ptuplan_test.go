package runner

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/pricing"
	"github.com/aiload/aiload/record"
	"github.com/aiload/aiload/scenario"
)

// ptuScenario is a 6-hour workload on gpt-4o-mini behind a PTU backend
// (ptu_tpm = PTUs × 1,000 input-equivalent tokens, output weighted 4 as
// Azure weighs it; completions always use max_tokens) that spills to a
// PAYG backend. The pricing makes one PTU serve 1,000 input TPM: a fully
// used PTU serves 43.8 M input-equivalent tokens a month, 109.50 at PAYG
// prices (2.50 / 10.00 per 1M).
const ptuScenario = `
name: ptu-plan
duration: 6h
seed: 11
model: gpt-4o-mini
mock: {first_token_delay: 50ms, per_token_delay: 1ms, min_fraction: 1}
gateway:
  products: [{name: open, tokens_per_minute: 100000000}]
  subscriptions: [{id: s1, key: sk-ptu-0001, product: open, team: t1}]
  backends:
%s    - {name: payg, tier: payg, priority: 2, mock: {}}
  retry: {status_codes: ["429"], count: 1, first_fast_retry: true}
personas:
%s
pricing:
  models:
    gpt-4o-mini:
      input: 2.50
      output: 10.00
      ptu: {input_tpm_per_ptu: 1000, output_ratio: 4, min_ptu: %d, increment: %d, hourly: 1, monthly_reservation: %g, yearly_reservation: %g}
%s`

// spillBreaker trips the PTU backend on its 429 for the Retry-After it
// sent, so that the gateway's <retry> spills the request to PAYG.
const spillBreaker = `{failure_count: 1, status_ranges: ["429"], accept_retry_after: true}`

// ptuWorkload is one workload of the brute-force test.
type ptuWorkload struct {
	personas       string
	min, increment int
	billing        string
	monthly        float64 // monthly reservation, per PTU-month
	yearly         float64 // yearly reservation, per PTU-month
}

// scenario renders the workload with n PTUs (none for 0).
func (w ptuWorkload) scenario(t *testing.T, n int) *scenario.Scenario {
	t.Helper()
	backend, deployment := "", ""
	if n > 0 {
		backend = fmt.Sprintf("    - {name: ptu, tier: ptu, priority: 1, mock: {ptu_tpm: %d, ptu_output_ratio: 4}, circuit_breaker: %s}\n", n*1000, spillBreaker)
		deployment = fmt.Sprintf("  ptu_deployments: [{name: ptu, model: gpt-4o-mini, ptu: %d, billing: %s, backends: [ptu]}]\n", n, w.billing)
	}
	src := fmt.Sprintf(ptuScenario, backend, w.personas, w.min, w.increment, w.monthly, w.yearly, deployment)
	sc, err := scenario.Parse("ptu.yaml", []byte(src))
	if err != nil {
		t.Fatalf("scenario with %d PTU: %v", n, err)
	}
	sc.Clock = scenario.ClockVirtual
	return sc
}

// ptuRun is one rerun of a workload with a PTU count.
type ptuRun struct {
	db      *analytics.DB
	monthly float64 // the chargeback's bill scaled to a 730-hour month
	spill   float64 // share of served input-equivalent tokens not on PTU
}

// rerun runs the workload on the virtual clock with n PTUs, ingests the
// records and prices them with the chargeback over the run's six hours.
func (w ptuWorkload) rerun(t *testing.T, n int) ptuRun {
	t.Helper()
	ctx := context.Background()
	sc := w.scenario(t, n)
	dir := t.TempDir()
	log := filepath.Join(dir, "tokens.jsonl")
	out, err := record.Create(log, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := Simulate(ctx, sc, out, fmt.Sprintf("ptu-%d", n), nil)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("%d PTU: %v", n, err)
	}
	db, err := analytics.Open(ctx, filepath.Join(dir, "aiload.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.IngestJSONL(ctx, log); err != nil {
		t.Fatal(err)
	}
	prices, _, err := scenarioPricing(sc.Pricing)
	if err != nil {
		t.Fatal(err)
	}
	period := analytics.Period{Start: sim.Start, End: sim.Start.Add(sc.Duration.D())}
	bill, err := analytics.Chargeback(ctx, db, prices, period, analytics.Allocation{})
	if err != nil {
		t.Fatal(err)
	}
	r := ptuRun{db: db, monthly: float64(bill.TotalCents) / 100 * 730 / period.Hours()}
	var ptu, spill float64
	for _, l := range bill.Lines {
		switch {
		case l.Tier == analytics.TierPTU && l.CostType == pricing.PTUShare && !l.Idle:
			ptu += float64(l.Tokens)
		case l.Tier != analytics.TierPTU && l.CostType == pricing.PAYGOutput:
			spill += 4 * float64(l.Tokens)
		case l.Tier != analytics.TierPTU:
			spill += float64(l.Tokens)
		}
	}
	r.spill = spill / (ptu + spill)
	return r
}

// TestPTUPlanBruteForce reruns two workloads on the virtual clock with
// every PTU count the plan considers (0, min, min + increment, …), prices
// each rerun's records with the chargeback under the deployment's billing,
// and checks that the plan recommended from the records costs within 2% of
// the cheapest rerun, and that the plan's spill estimate for the
// recommended count is what its rerun shows.
//
//   - bursts: a batch job of 150 requests every 40 minutes and a little
//     chat, on a monthly reservation at 100 per PTU-month: a PTU pays only
//     above 91% utilization, which bursts never reach, so pay-as-you-go is
//     the cheapest.
//   - steady: Poisson chat at about 10,000 input-equivalent tokens a
//     minute, on a yearly reservation at 60 per PTU-month: reserved
//     capacity pays from 55% utilization.
func TestPTUPlanBruteForce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		w        ptuWorkload
		wantPAYG bool // the brute-forced cheapest is 0 PTU
	}{
		{"bursts", ptuWorkload{min: 5, increment: 5, billing: "monthly_reservation", monthly: 100, yearly: 90, personas: `
  - {name: batch, kind: batch, team: t1, subscription: s1, requests: 150, concurrency: 10, at: 1m, every: 40m, prompt_tokens: 300, completion_tokens: 50}
  - {name: chat, kind: chat, team: t1, subscription: s1, count: 2, rate: 1/min, prompt_tokens: 200, completion_tokens: 50}`}, true},
		{"steady", ptuWorkload{min: 1, increment: 1, billing: "yearly_reservation", monthly: 150, yearly: 60, personas: `
  - {name: chat, kind: chat, team: t1, subscription: s1, count: 10, rate: 2/min, prompt_tokens: 300, completion_tokens: 50}`}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := tc.w.rerun(t, tc.w.min)
			prices, _, err := scenarioPricing(tc.w.scenario(t, tc.w.min).Pricing)
			if err != nil {
				t.Fatal(err)
			}
			plans, err := analytics.PTUPlan(context.Background(), base.db, prices, analytics.PTUPlanOptions{})
			if err != nil || len(plans) != 1 {
				t.Fatalf("PTUPlan: %d plans, %v", len(plans), err)
			}
			plan := plans[0]
			if string(plan.Billing) != tc.w.billing {
				t.Errorf("plan priced %s, want the deployment's %s", plan.Billing, tc.w.billing)
			}
			runs := make([]ptuRun, len(plan.Candidates))
			var wg sync.WaitGroup
			sem := make(chan struct{}, 2)
			for i, c := range plan.Candidates {
				wg.Go(func() {
					sem <- struct{}{}
					defer func() { <-sem }()
					runs[i] = tc.w.rerun(t, c.PTU)
				})
			}
			wg.Wait()
			best := 0
			var table []string
			for i, c := range plan.Candidates {
				if runs[i].monthly < runs[best].monthly {
					best = i
				}
				table = append(table, fmt.Sprintf("%3d PTU: plan %9.2f spill %5.1f%% | rerun %9.2f spill %5.1f%%",
					c.PTU, c.MonthlyCost, 100*(1-c.PTUShare), runs[i].monthly, 100*runs[i].spill))
			}
			t.Logf("monthly cost by PTU count:\n%s", strings.Join(table, "\n"))
			rec := plan.Candidates[plan.Recommended]
			got, cheapest := runs[plan.Recommended].monthly, runs[best].monthly
			if got > cheapest*1.02 {
				t.Errorf("recommended %d PTU costs %.2f a month on its rerun, the cheapest rerun (%d PTU) %.2f: %+.1f%%, want within 2%%",
					rec.PTU, got, plan.Candidates[best].PTU, cheapest, 100*(got-cheapest)/cheapest)
			}
			if (plan.Candidates[best].PTU == 0) != tc.wantPAYG {
				t.Errorf("the cheapest rerun has %d PTU; this workload is meant to have pay-as-you-go cheapest: %v", plan.Candidates[best].PTU, tc.wantPAYG)
			}
			if d := got - rec.MonthlyCost; d > 0.02*got || d < -0.02*got {
				t.Errorf("recommended %d PTU: the plan says %.2f a month, its rerun %.2f", rec.PTU, rec.MonthlyCost, got)
			}
		})
	}
}
