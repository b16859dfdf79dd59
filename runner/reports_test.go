package runner

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/pricing"
	"github.com/aiload/aiload/reports/assemble"
	"github.com/aiload/aiload/reports/reporttest"
)

// TestRunWritesChargebackReport runs the quickstart briefly and checks the
// run folder's report.pdf, chargeback.csv and charts/: every team's total
// in the CSV and on its PDF page equals the chargeback computed from the
// run's DuckDB file.
func TestRunWritesChargebackReport(t *testing.T) {
	t.Parallel()
	res, err := Run(context.Background(), Options{
		Scenario: "../scenarios/quickstart.yaml", OutDir: t.TempDir(), Duration: 4 * time.Second,
	}, io.Discard, io.Discard)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.ReportPDF != filepath.Join(res.Dir, "report.pdf") || res.ChargebackCSV != filepath.Join(res.Dir, "chargeback.csv") {
		t.Fatalf("report files %q %q", res.ReportPDF, res.ChargebackCSV)
	}
	if st, err := os.Stat(res.FocusCSV); err != nil || st.Size() == 0 {
		t.Errorf("focus.csv: %v", err)
	}
	want := duckdbTotals(t, res.DB)
	if len(want) == 0 {
		t.Fatal("the run charged nobody")
	}
	got := csvTotals(t, res.ChargebackCSV)
	for team, w := range want {
		if got[team] != w {
			t.Errorf("chargeback.csv: %s = %s, DuckDB %s", team, got[team], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("chargeback.csv teams %v, DuckDB %v", got, want)
	}
	pngs, _ := filepath.Glob(filepath.Join(res.ChartsDir, "*.png"))
	svgs, _ := filepath.Glob(filepath.Join(res.ChartsDir, "*.svg"))
	if len(svgs) != len(pngs) {
		t.Errorf("charts: %d PNG, %d SVG", len(pngs), len(svgs))
	}
	// The cost by team and one demand chart per team (PTU plan curves too).
	for _, name := range append([]string{"cost-by-team"}, teamsOf(want)...) {
		if _, err := os.Stat(filepath.Join(res.ChartsDir, name+".png")); err != nil {
			t.Errorf("chart %s: %v (have %v)", name, err, pngs)
		}
	}
	pdf := pdfTotals(t, res.ReportPDF) // skips without pdftotext
	for team, w := range want {
		if pdf[team] != w {
			t.Errorf("report.pdf: %s = %q, DuckDB %s", team, pdf[team], w)
		}
	}
}

func teamsOf(totals map[string]string) []string {
	var out []string
	for team := range totals {
		out = append(out, "demand-"+team)
	}
	return out
}

// duckdbTotals recomputes the chargeback from the run's database.
func duckdbTotals(t *testing.T, path string) map[string]string {
	t.Helper()
	ctx := context.Background()
	db, err := analytics.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	period, ok, err := assemble.DataPeriod(ctx, db)
	if err != nil || !ok {
		t.Fatalf("run period: %v %v", ok, err)
	}
	res, err := analytics.Chargeback(ctx, db, pricing.Default(), period, analytics.Allocation{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, tt := range res.Teams {
		out[tt.Team] = analytics.FormatCents(tt.Cents)
	}
	return out
}

func csvTotals(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return reporttest.CSVTeamTotals(t, b, "team", "cost")
}

// pdfTotals reads "Team total" off each team page.
func pdfTotals(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return reporttest.TeamPageTotals(reporttest.PDFText(t, b))
}
