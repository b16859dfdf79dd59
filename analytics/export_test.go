package analytics

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestExportParquetRoundTrip exports records partitioned by day and team and
// ingests the glob into a new database: every record comes back unchanged.
func TestExportParquetRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "src.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Four records: two days, teams support, "r&d/ml" (needs escaping in a
	// folder name) and none.
	if _, err := db.SQL().ExecContext(ctx, `INSERT INTO records (schema, ts, request_id, team, model, total_tokens, outcome) VALUES
		(1, '2026-11-25 23:59:59+00', 'a', 'support', 'gpt-4o', 10, 'ok'),
		(1, '2026-11-26 00:00:00+00', 'b', 'support', 'gpt-4o', 20, 'ok'),
		(1, '2026-11-26 08:00:00+00', 'c', 'r&d/ml', 'gpt-4o', 30, 'throttled'),
		(1, '2026-11-26 09:00:00+00', 'd', NULL, 'gpt-4o', 40, 'ok')`); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "export")
	res, err := db.ExportParquet(ctx, dir)
	if err != nil {
		t.Fatalf("ExportParquet: %v", err)
	}
	if res.Rows != 4 || res.Files != 4 {
		t.Fatalf("exported %d rows in %d files, want 4 rows in 4 files (2026-11-25/support, 2026-11-26/support, 2026-11-26/r&d-ml, 2026-11-26/NULL)", res.Rows, res.Files)
	}
	if _, err := os.Stat(filepath.Join(dir, "day=2026-11-25", "team=support")); err != nil {
		t.Fatalf("partition folder missing: %v", err)
	}

	back, err := Open(ctx, filepath.Join(t.TempDir(), "back.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if _, err := back.Ingest(ctx, filepath.Join(dir, "*", "*", "*.parquet"), FormatAuto); err != nil {
		t.Fatalf("ingest the export: %v", err)
	}
	rows, err := back.SQL().QueryContext(ctx, `SELECT request_id, coalesce(team, '<none>'), total_tokens, outcome,
		strftime(timezone('UTC', ts), '%Y-%m-%d %H:%M:%S') FROM records ORDER BY request_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := []string{
		"a support 10 ok 2026-11-25 23:59:59",
		"b support 20 ok 2026-11-26 00:00:00",
		"c r&d/ml 30 throttled 2026-11-26 08:00:00",
		"d <none> 40 ok 2026-11-26 09:00:00",
	}
	i := 0
	for rows.Next() {
		var id, team, outcome, ts string
		var tokens int64
		if err := rows.Scan(&id, &team, &tokens, &outcome, &ts); err != nil {
			t.Fatal(err)
		}
		got := id + " " + team + " " + itoa(tokens) + " " + outcome + " " + ts
		if i >= len(want) || got != want[i] {
			t.Fatalf("row %d after round trip: %q, want %q", i, got, want[min(i, len(want)-1)])
		}
		i++
	}
	if i != len(want) {
		t.Fatalf("%d rows after round trip, want %d", i, len(want))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
