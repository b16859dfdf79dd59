package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aiload/aiload/reports/reporttest"
)

func TestChargebackCommand(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "c.duckdb")
	data := "../../analytics/testdata/"
	if code, _, stderr := execute(t, "ingest", data+"chargeback.jsonl", "--db", db); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, stderr)
	}
	// The figures are derived in analytics/chargeback_test.go.
	code, out, stderr := execute(t, "chargeback", "--db", db, "--period", "2026-11", "--pricing", data+"chargeback_pricing.yaml")
	if code != 0 {
		t.Fatalf("chargeback: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Allocation: Method proportional.", "alpha", "200.00", "beta", "2.50", "102.50", "gamma", "0.67",
		"303.17", "Rounding:", `warning: no price for model "llama-3"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = execute(t, "chargeback", "--db", db, "--period", "2026-11", "--pricing", data+"chargeback_pricing.yaml",
		"--method", "used", "--idle-to", "platform", "--format", "csv")
	if code != 0 || !strings.Contains(out, ",platform,m-ptu,dep1,ptu_share,0,PTU-Months,") || !strings.Contains(out, ",258.33,USD,ptu-used,") {
		t.Errorf("csv: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"chargeback", "--db", db},                                           // no period
		{"chargeback", "--db", db, "--period", "2026-13"},                    // bad period
		{"chargeback", "--db", db, "--period", "2026-11", "--shares", "a=x"}, // bad shares
		{"chargeback", "--db", db, "--period", "2026-11", "--method", "x"},   // bad method
		{"chargeback", "--db", db + ".missing", "--period", "2026-11"},       // no database
	} {
		if code, _, stderr := execute(t, args...); code != 2 {
			t.Errorf("aiload %v: exit %d (%s), want 2", args, code, stderr)
		}
	}
}

// TestChargebackCSVIsTheReportCSV: aiload chargeback --format csv and aiload
// report --format csv write the same bytes, under every split method.
func TestChargebackCSVIsTheReportCSV(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "c.duckdb")
	data := "../../analytics/testdata/"
	if code, _, stderr := execute(t, "ingest", data+"chargeback.jsonl", "--db", db); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, stderr)
	}
	for _, method := range [][]string{{"proportional"}, {"even"}, {"fixed"}, {"fixed", "--shares", "alpha=1,gamma=2"},
		{"used", "--idle-to", "platform"}} {
		args := append([]string{"--db", db, "--period", "2026-11", "--pricing", data + "chargeback_pricing.yaml",
			"--format", "csv", "--method"}, method...)
		code, chargeback, stderr := execute(t, append([]string{"chargeback"}, args...)...)
		if code != 0 {
			t.Fatalf("chargeback %v: exit %d: %s", method, code, stderr)
		}
		code, report, stderr := execute(t, append([]string{"report"}, args...)...)
		if code != 0 {
			t.Fatalf("report %v: exit %d: %s", method, code, stderr)
		}
		if chargeback != report || !strings.HasPrefix(chargeback, "billing_period_start,billing_period_end,team,") {
			t.Errorf("%v: aiload chargeback --format csv:\n%s\naiload report --format csv:\n%s", method, chargeback, report)
		}
	}
}

// TestOneDollarSplitThreeWays bills a 1.00 PTU charge used equally by three
// teams beside a PAYG team whose remainder is larger than theirs, and reads
// the same cents back from every output a user gets: the allocated lines add
// up to the 1.00 charge (0.34 + 0.33 + 0.33) in aiload chargeback, the
// chargeback CSV, the FOCUS CSV and the PDF's capacity and team pages.
func TestOneDollarSplitThreeWays(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pricingFile, logFile, db := filepath.Join(dir, "pricing.yaml"), filepath.Join(dir, "records.jsonl"), filepath.Join(dir, "c.duckdb")
	writeFile(t, pricingFile, `currency: USD
models:
  m-dollar:
    input: 1
    output: 1
    ptu: {input_tpm_per_ptu: 1, output_ratio: 1, min_ptu: 1, increment: 1, hourly: 1, monthly_reservation: 1.00, yearly_reservation: 1.00}
  m-payg: {input: 1, output: 1}
ptu_deployments:
  - {name: dep, model: m-dollar, ptu: 1, billing: monthly_reservation, backends: [ptu-1]}
`)
	var recs strings.Builder
	for i, team := range []string{"a", "b", "c"} {
		fmt.Fprintf(&recs, `{"schema":1,"ts":"2026-11-02T0%d:00:00Z","request_id":"r%d","team":"%s","model":"m-dollar","backend":"ptu-1","backend_tier":"ptu","prompt_tokens":100,"completion_tokens":0,"total_tokens":100,"status":200,"outcome":"ok","attempt":1}`+"\n", i, i, team)
	}
	// 4,900 tokens at 1.00 per 1M = 0.0049: its remainder (0.49 of a cent)
	// beats the thirds', and the bill, 1.0049, rounds to 1.00.
	recs.WriteString(`{"schema":1,"ts":"2026-11-03T00:00:00Z","request_id":"r9","team":"d","model":"m-payg","backend":"payg-1","backend_tier":"payg","prompt_tokens":4900,"completion_tokens":0,"total_tokens":4900,"status":200,"outcome":"ok","attempt":1}` + "\n")
	writeFile(t, logFile, recs.String())
	if code, _, stderr := execute(t, "ingest", logFile, "--db", db); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, stderr)
	}
	args := []string{"--db", db, "--period", "2026-11", "--pricing", pricingFile}
	run := func(cmd string, more ...string) string {
		t.Helper()
		code, out, stderr := execute(t, append(append([]string{cmd}, args...), more...)...)
		if code != 0 {
			t.Fatalf("aiload %s %v: exit %d: %s", cmd, more, code, stderr)
		}
		return out
	}
	want := map[string]string{"a": "0.34", "b": "0.33", "c": "0.33", "d": "0.00"}

	table := run("chargeback")
	for team, cost := range want {
		if !regexp.MustCompile(`(?m)^\s*` + team + `\s.*\s` + regexp.QuoteMeta(cost) + `\s*$`).MatchString(table) {
			t.Errorf("aiload chargeback: team %s not at %s:\n%s", team, cost, table)
		}
	}
	if !strings.Contains(table, "1 PTU-Months at 1.00, 1.00") || !regexp.MustCompile(`(?m)^\s*total\s+1\.00\s*$`).MatchString(table) {
		t.Errorf("aiload chargeback: the charge or the bill is not 1.00:\n%s", table)
	}

	csvOut := run("report", "--format", "csv")
	if got := reporttest.CSVTeamTotals(t, []byte(csvOut), "team", "cost"); !maps.Equal(got, want) {
		t.Errorf("chargeback CSV team totals %v, want %v", got, want)
	}
	focus := run("report", "--format", "focus")
	if got := reporttest.CSVTeamTotals(t, []byte(focus), "x_Team", "BilledCost"); !maps.Equal(got, want) {
		t.Errorf("FOCUS BilledCost per team %v, want %v", got, want)
	}
	list := reporttest.CSVTeamTotals(t, []byte(focus), "x_OriginChargeId", "ListCost")
	if list["ptu/m-dollar/dep"] != "1.00" {
		t.Errorf("FOCUS ListCost of the allocated rows sums to %v, want 1.00", list)
	}

	pdfPath := filepath.Join(dir, "report.pdf")
	run("report", "--format", "pdf", "--out", pdfPath, "--charts", "-")
	pdf, err := os.ReadFile(pdfPath)
	if err != nil {
		t.Fatal(err)
	}
	text := reporttest.PDFText(t, pdf)
	if got := reporttest.TeamPageTotals(text); !maps.Equal(got, want) {
		t.Errorf("PDF team pages %v, want %v", got, want)
	}
	if !regexp.MustCompile(`m-dollar\s+dep\s+1\s+1 PTU-Months\s+\$1\.00\s+\$1\.00`).MatchString(text) {
		t.Errorf("PDF capacity page does not bill the 1.00 charge as $1.00:\n%s", text)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
