package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestIngestCommand(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "a.duckdb")
	data := "../../analytics/testdata/"
	code, out, stderr := execute(t, "ingest", data+"aiload_v1.jsonl", data+"apim.csv", data+"torn.jsonl", "--db", db)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	for _, want := range []string{"aiload_v1.jsonl: aiload, 3 records added", "apim.csv: apim, 3 records added",
		"7 records added", "7 records in the database"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr, "torn.jsonl:2: incomplete last line skipped") {
		t.Errorf("stderr lacks the torn-line report:\n%s", stderr)
	}
	// Again: nothing new.
	code, out, _ = execute(t, "ingest", data+"aiload_v1.jsonl", "--db", db)
	if code != 0 || !strings.Contains(out, "0 records added") || !strings.Contains(out, "7 records in the database") {
		t.Errorf("second ingest: exit %d\n%s", code, out)
	}
	// A wrong type is bad input: exit 2 naming file, line and field.
	code, _, stderr = execute(t, "ingest", data+"badtype.jsonl", "--db", db)
	if code != 2 || !strings.Contains(stderr, `badtype.jsonl:2: field "prompt_tokens"`) {
		t.Errorf("bad type: exit %d, stderr %q", code, stderr)
	}
	// A file of no known format is bad input too, saying what it lacked.
	code, _, stderr = execute(t, "ingest", data+"chargeback_pricing.yaml", "--db", db)
	if code != 2 || !strings.Contains(stderr, "apim: no TimeGenerated or CorrelationId") {
		t.Errorf("unknown format: exit %d, stderr %q", code, stderr)
	}
}

// The exports as az, the Log Analytics API and LiteLLM's API print them
// come through the command.
func TestIngestCommandExports(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "a.duckdb")
	data := "../../analytics/testdata/"
	code, out, stderr := execute(t, "ingest", data+"apim_joined_az.json", data+"litellm_v2_page.json", "--db", db)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	for _, want := range []string{"apim_joined_az.json: apim, 7 records added", "litellm_v2_page.json: litellm, 8 records added",
		"15 records in the database"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}
