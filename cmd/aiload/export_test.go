package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestExportThenIngest: a run's database exported to Parquet and ingested
// into a new database keeps every record.
func TestExportThenIngest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(dir, "src.duckdb")
	if code, _, stderr := execute(t, "ingest", "--db", src, "testdata/export_sample.jsonl"); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, stderr)
	}
	out := filepath.Join(dir, "parquet")
	code, stdout, stderr := execute(t, "export", "--db", src, "--parquet", out)
	if code != 0 || !strings.Contains(stdout, "exported 3 records to 2 Parquet files") {
		t.Fatalf("export: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	back := filepath.Join(dir, "back.duckdb")
	code, stdout, stderr = execute(t, "ingest", "--db", back, filepath.Join(out, "*", "*", "*.parquet"))
	if code != 0 || !strings.Contains(stdout+stderr, "3") {
		t.Fatalf("ingest export: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestExportUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"export", "--db", "x.duckdb"},                         // no --parquet
		{"export", "--db", "missing.duckdb", "--parquet", "o"}, // no such database
	} {
		if code, _, stderr := execute(t, args...); code != 2 {
			t.Errorf("aiload %v: exit %d (%s), want 2", args, code, stderr)
		}
	}
}

func TestMergeUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"merge", "--out", "x"},      // no run folders
		{"merge", "some-run-folder"}, // no --out
	} {
		if code, _, stderr := execute(t, args...); code != 2 {
			t.Errorf("aiload %v: exit %d (%s), want 2", args, code, stderr)
		}
	}
}
