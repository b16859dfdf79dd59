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

// TestPTUPlan runs the worked example's traffic through the plan: two
// minutes of 1,000 calls (200 prompt / 20 output) and one of 500, on
// gpt-5.2 at a test PAYG input price of 2.00 per 1M and 260 per PTU-month.
//
// Input-equivalent demand per minute: 360,000, 360,000, 180,000 (900,000).
// Candidates 50, 100, 150 PTU (peak 360,000 / 3,400 = 105.88 → 150):
//
//	 50 PTU, 170,000/min: served 510,000, spilled 390,000 (56.67% on PTU), utilization 100%
//	100 PTU, 340,000/min: served 860,000, spilled  40,000 (95.56%), utilization 84.31%
//	150 PTU, 510,000/min: served 900,000, spilled       0
//
// A month is 43,800 minutes, 14,600 × the 3 observed:
//
//	 50: 13,000 + 390,000 × 14,600 × 2/1M = 13,000 + 11,388 = 24,388 (cheapest)
//	100: 26,000 +  40,000 × 14,600 × 2/1M = 26,000 +  1,168 = 27,168 (smallest with spill ≤ 5%)
//	150: 39,000
//	all PAYG: 900,000 × 14,600 × 2/1M = 26,280
//
// The calculator estimate from the data: peak 1,000 RPM × (200, 20) → 150 PTU.
func TestPTUPlan(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	path := filepath.Join(t.TempDir(), "ptu.jsonl")
	var b strings.Builder
	start := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	for m, calls := range []int{1000, 1000, 500} {
		for i := range calls {
			ts := start.Add(time.Duration(m)*time.Minute + time.Duration(i)*50*time.Millisecond)
			fmt.Fprintf(&b, `{"schema":1,"ts":%q,"request_id":"m%d-%d","team":"t","model":"gpt-5.2","prompt_tokens":200,"completion_tokens":20,"total_tokens":220,"status":200,"outcome":"ok"}`+"\n",
				ts.Format(time.RFC3339Nano), m, i)
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ingest(t, db, path, FormatAiload)
	prices, err := pricing.Parse("test", []byte(`
models:
  gpt-5.2:
    input: 2.00
    output: 16.00
    ptu: {input_tpm_per_ptu: 3400, output_ratio: 8, min_ptu: 15, increment: 5, monthly_reservation: 260}
`))
	if err != nil {
		t.Fatal(err)
	}
	plans, err := PTUPlan(context.Background(), db, prices, PTUPlanOptions{MinPTU: 50, Increment: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(plans) != 1 {
		t.Fatalf("%d plans, want 1 (gpt-5.2)", len(plans))
	}
	p := plans[0]
	var got []string
	for _, c := range p.Candidates {
		got = append(got, fmt.Sprintf("%d:%d/%d/%.2f%%/%.2f%%/%.0f", c.PTU, c.Served, c.Spilled, 100*c.PTUShare, 100*c.Utilization, c.MonthlyCost))
	}
	want := "50:510000/390000/56.67%/100.00%/24388 100:860000/40000/95.56%/84.31%/27168 150:900000/0/100.00%/58.82%/39000"
	if strings.Join(got, " ") != want {
		t.Errorf("candidates:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if p.Cheapest != 0 || p.SmallestUnderSpill != 1 || math.Round(p.PAYGMonthlyCost) != 26280 {
		t.Errorf("cheapest %d, smallest under spill %d, PAYG %.2f; want 0, 1, 26280", p.Cheapest, p.SmallestUnderSpill, p.PAYGMonthlyCost)
	}
	c := p.Calculator
	if c.PeakRPM != 1000 || c.PromptTokens != 200 || c.OutputTokens != 20 || math.Round(c.RawPTU*100) != 10588 || c.PTU != 150 {
		t.Errorf("calculator = %+v; want 1000 RPM, 200/20, 105.88 raw, 150 PTU", c)
	}
	if p.Max != 360000 || p.Minutes != 3 || p.Tokens != 900000 {
		t.Errorf("demand max %.0f over %d minutes, %d tokens; want 360000, 3, 900000", p.Max, p.Minutes, p.Tokens)
	}
}
