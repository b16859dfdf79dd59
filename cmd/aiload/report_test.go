package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportCommand writes each format from the analytics chargeback
// fixture (figures derived in analytics/chargeback_test.go) and checks that
// SOURCE_DATE_EPOCH makes the PDF reproducible. Not parallel: it sets the
// environment.
func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "c.duckdb")
	data := "../../analytics/testdata/"
	if code, _, stderr := execute(t, "ingest", data+"chargeback.jsonl", "--db", db); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, stderr)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1764547200")
	base := []string{"report", "--db", db, "--period", "2026-11", "--pricing", data + "chargeback_pricing.yaml"}
	run := func(args ...string) string {
		t.Helper()
		code, out, stderr := execute(t, append(append([]string{}, base...), args...)...)
		if code != 0 {
			t.Fatalf("aiload report %v: exit %d: %s", args, code, stderr)
		}
		return out
	}
	csvOut := run("--format", "csv")
	for _, want := range []string{
		"2026-11-01T00:00:00Z,2026-12-01T00:00:00Z,alpha,m-ptu,dep1,ptu_share,12000,PTU-Months,2,100.00,200.00,USD,ptu-proportional,",
		"beta,m-ptu,,payg_input,800000,1000000 Tokens,0.8,2.00,1.60,USD,direct-spillover,", // 1M prompt − 200k cached
		"gamma,m-payg,,payg_input,333333,1000000 Tokens,0.333333,1.00,0.34,USD,direct,",
	} {
		if !strings.Contains(csvOut, want) {
			t.Errorf("csv lacks %q:\n%s", want, csvOut)
		}
	}
	// queries that run out of memory under --memory-limit run again without
	// it, with a warning, and give the same report
	code, capped, stderr := execute(t, append(append([]string{}, base...), "--format", "csv", "--memory-limit", "1MB")...)
	if code != 0 || capped != csvOut || !strings.Contains(stderr, "ran out of memory under --memory-limit 1MB and ran again without it") {
		t.Errorf("--memory-limit 1MB: exit %d, same CSV %v, stderr %q; want exit 0, the same CSV and a warning", code, capped == csvOut, stderr)
	}
	if code, _, stderr := execute(t, append(append([]string{}, base...), "--format", "csv", "--memory-limit", "lots")...); code != 2 || !strings.Contains(stderr, "--memory-limit") {
		t.Errorf("--memory-limit lots: exit %d, stderr %q; want 2 naming the flag", code, stderr)
	}
	focus := run("--format", "focus")
	if !strings.HasPrefix(focus, "AvailabilityZone,BilledCost,") || !strings.Contains(focus, `"{""Elements"":[{""AllocatedRatio"":`) {
		t.Errorf("focus output:\n%s", focus)
	}
	pdf1, pdf2 := filepath.Join(dir, "a.pdf"), filepath.Join(dir, "b.pdf")
	run("--out", pdf1, "--charts", filepath.Join(dir, "charts"))
	run("--format", "pdf", "--out", pdf2, "--charts", "-")
	a, _ := os.ReadFile(pdf1)
	b, _ := os.ReadFile(pdf2)
	if !bytes.HasPrefix(a, []byte("%PDF-")) || !bytes.Equal(a, b) {
		t.Errorf("PDFs with SOURCE_DATE_EPOCH set differ or are not PDFs (%d, %d bytes)", len(a), len(b))
	}
	if pngs, _ := filepath.Glob(filepath.Join(dir, "charts", "*.png")); len(pngs) == 0 {
		t.Errorf("no chart PNGs written")
	}
	// Without --charts, a PDF written to a file gets charts/ beside it.
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	run("--out", filepath.Join(sub, "report.pdf"))
	if svgs, _ := filepath.Glob(filepath.Join(sub, "charts", "*.svg")); len(svgs) == 0 {
		t.Errorf("no charts/ beside the PDF")
	}
	for _, args := range [][]string{
		{"report", "--db", db}, // no period
		{"report", "--db", db, "--period", "2026-11", "--format", "doc"}, // unknown format
		{"report", "--db", db, "--period", "2026-11", "--method", "x"},   // unknown method
		{"report", "--db", db + ".missing", "--period", "2026-11"},       // no database
	} {
		if code, _, stderr := execute(t, args...); code != 2 {
			t.Errorf("aiload %v: exit %d (%s), want 2", args, code, stderr)
		}
	}
}
