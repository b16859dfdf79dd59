package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// The tables aiload chargeback and recommend print, for the hand-checked
// data sets of analytics/chargeback_test.go and analytics/recommend_test.go.
func TestAnalysisTablesGolden(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := "../../analytics/testdata/"
	for _, tc := range []struct {
		golden, data string
		args         []string
	}{
		{"chargeback.golden", "chargeback.jsonl", []string{"chargeback", "--period", "2026-11", "--pricing", data + "chargeback_pricing.yaml"}},
		{"chargeback_used.golden", "chargeback.jsonl", []string{"chargeback", "--period", "2026-11", "--pricing", data + "chargeback_pricing.yaml", "--method", "used", "--idle-to", "platform"}},
		{"recommend.golden", "recommend.jsonl", []string{"recommend", "--unit", "100", "--min-requests", "0", "--caller", "fail"}},
	} {
		db := filepath.Join(dir, tc.golden+".duckdb")
		if code, _, stderr := execute(t, "ingest", data+tc.data, "--db", db); code != 0 {
			t.Fatalf("ingest: exit %d: %s", code, stderr)
		}
		code, out, stderr := execute(t, append(tc.args, "--db", db)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, stderr)
		}
		golden(t, tc.golden, out)
	}
}
