package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIngestNamesSkippedLines: a log whose torn line was continued after a
// restart loads every whole record; the torn line is named on stderr and
// counted on stdout.
func TestIngestNamesSkippedLines(t *testing.T) {
	t.Parallel()
	line := func(id string) string {
		return fmt.Sprintf(`{"schema":1,"ts":"2026-11-02T10:00:00Z","request_id":"%s","subscription_id":"s","team":"t","total_tokens":15,"status":200,"outcome":"ok"}`, id)
	}
	log := filepath.Join(t.TempDir(), "tokens.jsonl")
	src := line("a") + "\n" + line("b")[:50] + line("c") + "\n" + line("d")[:70] + "\n" + line("e") + "\n"
	if err := os.WriteFile(log, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := execute(t, "ingest", "--db", filepath.Join(t.TempDir(), "t.duckdb"), log)
	if code != 0 {
		t.Fatalf("ingest: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{log + ":2: skipped: not valid JSON (a torn record?); the whole record after it was loaded", log + ":3: skipped: not valid JSON"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, "aiload, 3 records added, 2 malformed lines skipped") {
		t.Errorf("stdout lacks the count of records and skipped lines:\n%s", stdout)
	}
}
