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
		// Used: idle capacity goes to a platform line (258.34 with the bill's rounding).
		{analytics.Allocation{Method: analytics.Used, IdleTo: "platform"},
			map[string]string{"alpha": "27.78", "beta": "16.39", "gamma": "0.66", "platform": "258.34"}},
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
			if rc.RecommendedTPM <= 0 || rc.Explanation == "" {
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
		if len(p.Points) == 0 || p.Recommended == 0 {
			t.Errorf("plan %s: %d points, recommended %d", p.Model, len(p.Points), p.Recommended)
		}
	}
	if !strings.Contains(strings.Join(planModels, " "), "m-ptu") {
		t.Errorf("plans for %v, want m-ptu", planModels)
	}
	if !strings.Contains(strings.Join(r.Method.Notes, "\n"), "llama-3") {
		t.Errorf("notes %q lack the unpriced model warning", r.Method.Notes)
	}
}
