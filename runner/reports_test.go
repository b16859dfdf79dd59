package runner

import (
	"context"
	"encoding/csv"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/pricing"
	"github.com/aiload/aiload/reports/assemble"
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
	if pdf := pdfTotals(t, res.ReportPDF); pdf != nil {
		for team, w := range want {
			if pdf[team] != w {
				t.Errorf("report.pdf: %s = %q, DuckDB %s", team, pdf[team], w)
			}
		}
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
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]*big.Rat{}
	for _, rec := range recs[1:] {
		v, ok := new(big.Rat).SetString(rec[10])
		if !ok {
			t.Fatalf("cost %q", rec[10])
		}
		if sums[rec[2]] == nil {
			sums[rec[2]] = new(big.Rat)
		}
		sums[rec[2]].Add(sums[rec[2]], v)
	}
	out := map[string]string{}
	for team, s := range sums {
		out[team] = s.FloatString(2)
	}
	return out
}

// pdfTotals reads "Team total" off each team page; nil without pdftotext.
func pdfTotals(t *testing.T, path string) map[string]string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Log("pdftotext not installed: PDF text not checked")
		return nil
	}
	out, err := exec.Command(bin, "-layout", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	heading := regexp.MustCompile(`(?m)^\s*Team: (.+?)\s*$`)
	total := regexp.MustCompile(`Team total: \$([0-9,]+\.[0-9]{2})`)
	got := map[string]string{}
	for _, page := range strings.Split(string(out), "\f") {
		h, m := heading.FindStringSubmatch(page), total.FindStringSubmatch(page)
		if h != nil && m != nil {
			got[h[1]] = strings.ReplaceAll(m[1], ",", "")
		}
	}
	return got
}
