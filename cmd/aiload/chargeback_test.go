package main

import (
	"path/filepath"
	"strings"
	"testing"
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
	for _, want := range []string{"PTU split: proportional", "alpha", "200.00", "beta", "2.50", "102.50", "gamma", "0.67",
		"303.17", "Rounding:", `warning: no price for model "llama-3"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = execute(t, "chargeback", "--db", db, "--period", "2026-11", "--pricing", data+"chargeback_pricing.yaml",
		"--method", "used", "--idle-to", "platform", "--format", "csv")
	if code != 0 || !strings.Contains(out, "2026-11,platform,m-ptu,ptu,ptu_idle,dep1,0,0,0,") || !strings.Contains(out, ",258.33,USD,used") {
		t.Errorf("csv: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"chargeback", "--db", db},                                           // no period
		{"chargeback", "--db", db, "--period", "2026-13"},                    // bad period
		{"chargeback", "--db", db, "--period", "2026-11", "--shares", "a=x"}, // bad shares
		{"chargeback", "--db", db + ".missing", "--period", "2026-11"},       // no database
	} {
		if code, _, stderr := execute(t, args...); code != 2 {
			t.Errorf("aiload %v: exit %d (%s), want 2", args, code, stderr)
		}
	}
}
