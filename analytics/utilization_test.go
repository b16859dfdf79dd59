package analytics

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestIngestUtilization: a record's utilization_pct (what a provisioned
// backend reported) lands in the column of that name; records without it
// (pay-as-you-go answers, and files written before the field existed) load
// with NULL. A database made before the column gains it when opened.
func TestIngestUtilization(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "t.duckdb")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	// a database from before the columns added later (utilization_pct,
	// then backend_auth, then operation, then backend_attempts, then the
	// semantic cache's)
	for _, col := range []string{"embedding_model", "embedding_tokens", "cache_completion_tokens", "cache_prompt_tokens",
		"backend_attempts", "operation", "backend_auth", "utilization_pct"} {
		if _, err := db.SQL().Exec(`ALTER TABLE records DROP COLUMN ` + col); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	if db, err = Open(context.Background(), path); err != nil {
		t.Fatalf("reopen a database without utilization_pct: %v", err)
	}
	t.Cleanup(func() { db.Close() })

	jsonl := filepath.Join(t.TempDir(), "records.jsonl")
	lines := `{"schema":1,"ts":"2026-11-03T09:00:00Z","request_id":"u1","team":"a","backend":"ptu-1","backend_tier":"ptu","total_tokens":10,"status":200,"outcome":"ok","utilization_pct":42.5}
{"schema":1,"ts":"2026-11-03T09:00:01Z","request_id":"u2","team":"a","backend":"payg-1","backend_tier":"payg","total_tokens":10,"status":200,"outcome":"ok"}
{"schema":1,"ts":"2026-11-03T09:00:02Z","request_id":"u3","team":"a","backend":"ptu-1","backend_tier":"ptu","total_tokens":10,"status":429,"outcome":"backend_throttled","utilization_pct":100}
`
	if err := os.WriteFile(jsonl, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := ingest(t, db, jsonl, FormatAuto); res.Added != 3 {
		t.Fatalf("added %d records, want 3", res.Added)
	}
	var got string
	row(t, db, `SELECT string_agg(request_id || ':' || coalesce(CAST(utilization_pct AS VARCHAR), 'null'), ' ' ORDER BY ts) FROM records`, &got)
	if want := "u1:42.5 u2:null u3:100.0"; got != want {
		t.Errorf("utilization_pct by record: got %s, want %s", got, want)
	}
	// per backend: ptu-1 reported 42.5 and 100; the payg backend nothing
	us, err := db.ReportedUtilization(context.Background(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 1 || us[0] != (BackendUtilization{Backend: "ptu-1", Answers: 2, AvgPct: 71.25, P95Pct: 100}) {
		t.Errorf("ReportedUtilization = %+v, want ptu-1: 2 answers, avg 71.25, p95 100", us)
	}
	// a period that ends before the 429 keeps the first answer only
	us, err = db.ReportedUtilization(context.Background(), time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 3, 9, 0, 2, 0, time.UTC))
	if err != nil || len(us) != 1 || us[0].Answers != 1 || us[0].AvgPct != 42.5 {
		t.Errorf("ReportedUtilization over [0:00, 9:00:02) = %+v, %v; want ptu-1 with one answer at 42.5", us, err)
	}
}
