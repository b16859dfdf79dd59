package assemble

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/pricing"
	"github.com/aiload/aiload/reports"
	"github.com/aiload/aiload/reports/reporttest"
)

// The analytics package's chargeback fixture: hand-derived there, alpha
// 200.00 (PTU), beta 102.50 (100.00 PTU + 2.50 spill-over), gamma 0.67
// (PAYG, with the bill's leftover cent), total 303.17.
var (
	fixtureLog     = filepath.Join("..", "..", "analytics", "testdata", "chargeback.jsonl")
	fixturePricing = filepath.Join("..", "..", "analytics", "testdata", "chargeback_pricing.yaml")
)

func build(t *testing.T, alloc analytics.Allocation) (*reports.Report, *analytics.ChargebackResult) {
	t.Helper()
	ctx := context.Background()
	db, err := analytics.Open(ctx, filepath.Join(t.TempDir(), "a.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Ingest(ctx, fixtureLog, analytics.FormatAiload); err != nil {
		t.Fatal(err)
	}
	prices, err := pricing.Load(fixturePricing)
	if err != nil {
		t.Fatal(err)
	}
	period, _ := analytics.ParsePeriod("2026-11")
	r, res, err := Build(ctx, db, Options{Period: period, Pricing: prices, Allocation: alloc, PricingSource: "test pricing"})
	if err != nil {
		t.Fatal(err)
	}
	return r, res
}

// csvTotals renders the chargeback CSV and sums it per team.
func csvTotals(t *testing.T, r reports.Report) map[string]string {
	t.Helper()
	var buf bytes.Buffer
	if err := reports.WriteCSV(&buf, r); err != nil {
		t.Fatal(err)
	}
	return reporttest.CSVTeamTotals(t, buf.Bytes(), "team", "cost")
}

func TestReportTotalsMatchDuckDB(t *testing.T) {
	t.Parallel()
	cases := []struct {
		alloc analytics.Allocation
		want  map[string]string
	}{
		// Proportional (default): the analytics fixture's figures.
		{analytics.Allocation{}, map[string]string{"alpha": "200.00", "beta": "102.50", "gamma": "0.67"}},
		// Used: idle capacity goes to a platform line: 258.33, so the 300.00 charge adds up; gamma 0.67 (0.6666).
		{analytics.Allocation{Method: analytics.Used, IdleTo: "platform"},
			map[string]string{"alpha": "27.78", "beta": "16.39", "gamma": "0.67", "platform": "258.33"}},
	}
	for _, c := range cases {
		r, res := build(t, c.alloc)
		db := map[string]string{}
		for _, tt := range res.Teams {
			db[tt.Team] = analytics.FormatCents(tt.Cents)
		}
		got := csvTotals(t, *r)
		for team, w := range c.want {
			if db[team] != w || got[team] != w {
				t.Errorf("%s: team %s: CSV %s, DuckDB %s, want %s", c.alloc.Method, team, got[team], db[team], w)
			}
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: CSV teams %v, want %v", c.alloc.Method, got, c.want)
		}
		checkPDF(t, *r, db)
	}
}

// checkPDF renders the report and finds each team's DuckDB total on its
// page of the PDF's text.
func checkPDF(t *testing.T, r reports.Report, want map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	if err := reports.WritePDF(&buf, r, reports.PDFOptions{Created: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	got := reporttest.TeamPageTotals(reporttest.PDFText(t, buf.Bytes()))
	for team, w := range want {
		if got[team] != w {
			t.Errorf("PDF total for %s = %q, DuckDB says %s", team, got[team], w)
		}
	}
}

func TestCapacityChargeFromBill(t *testing.T) {
	t.Parallel()
	r, _ := build(t, analytics.Allocation{})
	if len(r.Capacity) != 1 {
		t.Fatalf("capacity charges %+v, want dep1", r.Capacity)
	}
	c := r.Capacity[0]
	// dep1: 3 PTU on a monthly reservation at 100/month for one month.
	if c.Deployment != "dep1" || c.PTUs != 3 || c.Unit != "PTU-Months" || c.Quantity != 3_000_000 ||
		c.UnitPrice != reports.MoneyFromFloat(100) || c.Cost != reports.MoneyFromFloat(300) {
		t.Errorf("charge = %+v", c)
	}
	// Split 12,000 : 6,000 input-equivalent tokens.
	if len(c.Allocations) != 2 || c.Allocations[0].Team != "alpha" || c.Allocations[0].Basis != 12_000 ||
		c.Allocations[1].Basis != 6_000 {
		t.Errorf("allocations = %+v", c.Allocations)
	}
	var demand int64
	for _, a := range r.Teams {
		for _, p := range a.Demand {
			demand += p.Demand
		}
		if len(a.Demand) != 30*24*60 {
			t.Errorf("team %s: %d minutes, want the whole month", a.Team, len(a.Demand))
		}
	}
	if demand == 0 {
		t.Errorf("no demand in the teams' series: %+v", r.Teams)
	}
	// The fixture's consumers get TPM recommendations on their teams' pages,
	// and m-ptu (the model with PTU parameters) a plan.
	recs := 0
	for _, a := range r.Teams {
		for _, rc := range a.Recommendations {
			recs++
			// The fixture's consumers have a few requests each: too few to
			// size a limit on, which the explanation says.
			if rc.RecommendedTPM < 0 || rc.Explanation == "" ||
				rc.RecommendedTPM == 0 && !strings.HasPrefix(rc.Explanation, "not enough data") {
				t.Errorf("team %s: recommendation %+v", a.Team, rc)
			}
		}
	}
	if recs == 0 {
		t.Errorf("no recommendations in %+v", r.Teams)
	}
	var planModels []string
	for _, p := range r.Plans {
		planModels = append(planModels, p.Model)
		if len(p.Points) == 0 || p.Points[0].PTUs != 0 || p.Recommended < 0 || p.Verdict == "" {
			t.Errorf("plan %s: %d points, recommended %d", p.Model, len(p.Points), p.Recommended)
		}
	}
	if !strings.Contains(strings.Join(planModels, " "), "m-ptu") {
		t.Errorf("plans for %v, want m-ptu", planModels)
	}
	if !strings.Contains(strings.Join(r.Method.Warnings, "\n"), "llama-3") {
		t.Errorf("warnings %q lack the unpriced model", r.Method.Warnings)
	}
}

func TestActivityLimitsAndPlans(t *testing.T) {
	t.Parallel()
	subs := []analytics.SubscriptionSummary{
		{SubscriptionID: "a1", Team: "alpha", LimitTPM: 10_000},
		{SubscriptionID: "a2", Team: "alpha", LimitTPM: 5_000}, // alpha: 15,000 in all
		{SubscriptionID: "b1", Team: "beta", LimitTPM: 8_000},
		{SubscriptionID: "b2", Team: "beta"}, // an unlimited subscription: beta has no limit
	}
	m := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	series := []analytics.DemandSeries{
		{Key: "alpha", LimitTPM: 10_000, Points: []analytics.DemandPoint{
			{Minute: m, Demand: 100, Served: 90, Requests: 3, Throttled: 1},
			{Minute: m.Add(time.Minute), Demand: 50, Served: 50, Requests: 2}}},
		{Key: "beta", LimitTPM: 8_000, Points: []analytics.DemandPoint{{Minute: m, Demand: 7, Served: 7, Requests: 1}}},
		{Key: "", Points: []analytics.DemandPoint{{Minute: m, Demand: 1, Requests: 1, Throttled: 1}}}, // no team
	}
	acts := Activity(series, teamLimits(subs))
	want := []struct {
		team                string
		limit, req, throttl int64
	}{{"alpha", 15_000, 5, 1}, {"beta", 0, 1, 0}, {"(no team)", 0, 1, 1}}
	if len(acts) != len(want) {
		t.Fatalf("activities %+v", acts)
	}
	for i, w := range want {
		a := acts[i]
		if a.Team != w.team || a.Demand[0].LimitTPM != w.limit || a.Requests != w.req || a.Throttled != w.throttl {
			t.Errorf("activity %d = %s limit %d requests %d throttled %d, want %+v", i, a.Team, a.Demand[0].LimitTPM, a.Requests, a.Throttled, w)
		}
	}

	plans := Plans([]analytics.ModelPTUPlan{{
		Model: "gpt-4o", PAYGMonthlyCost: 1234.5, Cheapest: 0, Recommended: 2, MaxSpill: 0.05,
		Calculator: analytics.CalculatorEstimate{PTU: 50}, Verdict: "Buy 20 PTU", Billing: "hourly",
		Candidates: []analytics.PTUCandidate{
			{PTU: 0, MonthlySpillCost: 1234.5, PTUShare: 0},
			{PTU: 15, MonthlyPTUCost: 3900, MonthlySpillCost: 100.25, Spilled: 40_100, PTUShare: 0.9},
			{PTU: 20, MonthlyPTUCost: 5200, Spilled: 0, PTUShare: 1},
		},
	}, {Model: "no-candidates", Cheapest: -1, Recommended: -1}})
	p := plans[0]
	// The plan under the spill target is recommended; the cheapest (all
	// pay-as-you-go, 0 PTU) is kept apart.
	if p.Recommended != 20 || p.Cheapest != 0 || p.PeakEstimate != 50 || p.PAYGOnly != reports.MoneyFromFloat(1234.5) ||
		len(p.Points) != 3 || p.Points[1].Total() != reports.MoneyFromFloat(4000.25) || p.Verdict != "Buy 20 PTU" || p.Billing != "hourly" {
		t.Errorf("plan = %+v", p)
	}
	if plans[1].Recommended != -1 || plans[1].Cheapest != -1 {
		t.Errorf("a plan without candidates recommends %d/%d", plans[1].Recommended, plans[1].Cheapest)
	}
}
