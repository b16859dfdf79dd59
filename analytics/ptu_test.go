package analytics

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/pricing"
)

// The worked example of Azure's PTU sizing guide
// (determine-ptu-requirements.md, 2026-05-21): gpt-5.2, 3,400 input TPM per
// PTU, output ratio 8, regional minimum and increment 50.
//
//	1,000 calls/min × 200 prompt = 200,000 input TPM
//	1,000 calls/min × 20 output × 8 = 160,000
//	360,000 / 3,400 = 105.88 → 150 PTU; with a 50% cache hit
//	100,000 + 160,000 = 260,000 / 3,400 = 76.47 → 100 PTU.
//
// The concept doc's example: 1,000 RPM, 100 in / 50 out → 500,000 → 147.06 → 150.
func TestCalculatorSizeWorkedExamples(t *testing.T) {
	t.Parallel()
	p := pricing.PTU{InputTPMPerPTU: 3400, OutputRatio: 8, MinPTU: 50, Increment: 50}
	tests := []struct {
		rpm, prompt, output, cache float64
		norm, raw                  float64
		ptu                        int
	}{
		{1000, 200, 20, 0, 360000, 105.88, 150},
		{1000, 200, 20, 0.5, 260000, 76.47, 100},
		{1000, 100, 50, 0, 500000, 147.06, 150},
		{10, 200, 20, 0, 3600, 1.06, 50}, // the minimum is a floor
	}
	for _, tc := range tests {
		e := CalculatorSize(tc.rpm, tc.prompt, tc.output, tc.cache, p)
		if e.NormalizedTPM != tc.norm || math.Round(e.RawPTU*100)/100 != tc.raw || e.PTU != tc.ptu {
			t.Errorf("CalculatorSize(%v RPM, %v/%v, cache %v) = %.0f TPM, %.2f raw, %d PTU; want %.0f, %.2f, %d",
				tc.rpm, tc.prompt, tc.output, tc.cache, e.NormalizedTPM, e.RawPTU, e.PTU, tc.norm, tc.raw, tc.ptu)
		}
	}
}

// ptuRecords writes records of the test model m-ptu (prompt, completion)
// at the given offsets from start into a database.
func ptuRecords(t *testing.T, start time.Time, at []time.Duration, prompt, completion int) *DB {
	t.Helper()
	db := openTestDB(t)
	path := filepath.Join(t.TempDir(), "ptu.jsonl")
	var b strings.Builder
	for i, d := range at {
		fmt.Fprintf(&b, `{"schema":1,"ts":%q,"request_id":"r%d","team":"t","model":"m-ptu","prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,"status":200,"outcome":"ok"}`+"\n",
			start.Add(d).Format(time.RFC3339Nano), i, prompt, completion, prompt+completion)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ingest(t, db, path, FormatAiload)
	return db
}

// ptuPrices prices m-ptu at 1.00 / 4.00 per 1M input / output tokens with
// 1,000 input TPM per PTU, output ratio 4, minimum and increment 1, and
// 1 per PTU-hour (730 per PTU-month), a monthly reservation at 500 and a
// yearly one at yearly per PTU-month.
func ptuPrices(t *testing.T, yearly float64, deployments string) *pricing.Pricing {
	t.Helper()
	prices, err := pricing.Parse("test", []byte(`
models:
  m-ptu:
    input: 1.00
    output: 4.00
    ptu: {input_tpm_per_ptu: 1000, output_ratio: 4, min_ptu: 1, increment: 1, hourly: 1, monthly_reservation: 500, yearly_reservation: `+
		fmt.Sprint(yearly)+"}\n"+deployments))
	if err != nil {
		t.Fatal(err)
	}
	return prices
}

// TestPTUPlanBucket checks the admission of a provisioned deployment at
// the seconds the requests come, not per calendar minute. Four requests of
// 600 prompt / 100 completion tokens (1,000 input-equivalent, 0.001 at
// PAYG prices) come at 10:00:59.0 and .5 and 10:01:00.0 and .5: 2,000 per
// calendar minute, which a per-minute model serves whole on 2 PTU. Each
// second's requests are spread over it (at .25 and .75). With C tokens of
// capacity draining C/60 per second:
//
//	1 PTU (1,000):  59.25 in (level 1,000); 59.75 991.7 + 1,000 > 1,000 out; 60.25, 60.75 out
//	2 PTU (2,000):  59.25 in; 59.75 983.3 + 1,000 in (1,983.3); 60.25 1,966.7 + 1,000 out; 60.75 out
//	3 PTU (3,000):  59.25 in; 59.75 in (1,975); 60.25 1,950 + 1,000 in (2,950); 60.75 2,925 + 1,000 out
//	4 PTU (4,000):  every request in; the busiest 60 s hold 4,000 tokens, so 4 is the last candidate
//
// Two minutes of data scale by 43,800 / 2 = 21,900 to a month, and the
// hourly default prices a PTU at 730 per month:
//
//	0 PTU: 4 spilled × 0.001 × 21,900 = 87.60 (cheapest, recommended: stay on pay-as-you-go)
//	1 PTU: 730 + 65.70 = 795.70; 2 PTU: 1,460 + 43.80 = 1,503.80
//	3 PTU: 2,190 + 21.90 = 2,211.90 (25% spilled, utilization 3,000 / 6,000 = 50%); 4 PTU: 2,920
//
// With --max-spill 30% the recommendation is 3 PTU at a premium of 2,124.30.
func TestPTUPlanBucket(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	db := ptuRecords(t, start, []time.Duration{59 * time.Second, 59500 * time.Millisecond, 60 * time.Second, 60500 * time.Millisecond}, 600, 100)
	prices := ptuPrices(t, 400, "")
	plans, err := PTUPlan(context.Background(), db, prices, PTUPlanOptions{})
	if err != nil || len(plans) != 1 {
		t.Fatalf("PTUPlan = %d plans, %v; want 1", len(plans), err)
	}
	p := plans[0]
	var got []string
	for _, c := range p.Candidates {
		got = append(got, fmt.Sprintf("%d:%d/%d/%.2f", c.PTU, c.Served, c.SpilledRequests, c.MonthlyCost))
	}
	want := "0:0/4/87.60 1:1000/3/795.70 2:2000/2/1503.80 3:3000/1/2211.90 4:4000/0/2920.00"
	if strings.Join(got, " ") != want {
		t.Errorf("candidates (PTU:served/spilled requests/monthly):\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if p.Billing != pricing.Hourly || p.Cheapest != 0 || p.Recommended != 0 || p.Minutes != 2 || !p.Tentative ||
		!strings.HasPrefix(p.Verdict, "Tentative (less than a day of data): Stay on pay-as-you-go: 88/month.") {
		t.Errorf("billing %s, cheapest %d, recommended %d, %d minutes, tentative %v, verdict %q", p.Billing, p.Cheapest,
			p.Recommended, p.Minutes, p.Tentative, p.Verdict)
	}
	if u := p.Candidates[3].Utilization; math.Abs(u-0.5) > 1e-9 {
		t.Errorf("3 PTU utilization %v, want 0.5", u)
	}
	plans, err = PTUPlan(context.Background(), db, prices, PTUPlanOptions{MaxSpill: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	if p := plans[0]; p.Recommended != 3 || math.Abs(p.Premium-2124.30) > 1e-6 || !strings.Contains(p.Verdict, "costs 2124/month more than the cheapest plan, all pay-as-you-go") {
		t.Errorf("max spill 30%%: recommended %d, premium %.2f, verdict %q; want 3 (3 PTU), 2124.30", p.Recommended, p.Premium, p.Verdict)
	}
}

// TestPTUPlanDeploymentBilling: a steady request of 60 prompt / 10
// completion tokens (100 input-equivalent, 0.0001) every second for ten
// minutes is 6,000 input-equivalent tokens per minute. The deployment in
// the pricing bills a yearly reservation, here 10 per PTU-month:
//
//	all PAYG: 600 × 0.0001 × 4,380 = 262.80 per month
//	6 PTU: the bucket (6,000, draining 100 per second) holds every request: 60 per month
//	5 PTU: the bucket gains 16.7 per second and is full after about 300 s;
//	       then about one request in six spills: 50 + ≈ 51 × 0.0001 × 4,380 ≈ 72
//
// so 6 PTU is the cheapest, priced on the deployment's billing, with the
// hourly and monthly alternatives beside it (all pay-as-you-go for both).
func TestPTUPlanDeploymentBilling(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	var at []time.Duration
	for i := range 600 {
		at = append(at, time.Duration(i)*time.Second)
	}
	db := ptuRecords(t, start, at, 60, 10)
	prices := ptuPrices(t, 10, `ptu_deployments:
  - {name: dep, model: m-ptu, ptu: 3, billing: yearly_reservation}
`)
	plans, err := PTUPlan(context.Background(), db, prices, PTUPlanOptions{})
	if err != nil || len(plans) != 1 {
		t.Fatalf("PTUPlan = %d plans, %v; want 1", len(plans), err)
	}
	p := plans[0]
	rec := p.Candidates[p.Recommended]
	if p.Billing != pricing.YearlyReservation || p.BillingSource != "deployment dep" || rec.PTU != 6 || rec.MonthlyCost != 60 ||
		math.Abs(p.PAYGMonthlyCost-262.8) > 1e-9 || p.Candidates[p.Recommended-1].SpilledRequests < 40 {
		t.Errorf("billing %s (%s), recommended %d PTU at %.2f, all PAYG %.2f; want yearly_reservation (deployment dep), 6 at 60.00, 262.80",
			p.Billing, p.BillingSource, rec.PTU, rec.MonthlyCost, p.PAYGMonthlyCost)
	}
	if !strings.Contains(p.Verdict, "Buy 6 PTU (yearly_reservation") || len(p.Alternatives) != 2 || p.Alternatives[0].PTU != 0 {
		t.Errorf("verdict %q, alternatives %+v", p.Verdict, p.Alternatives)
	}
}
