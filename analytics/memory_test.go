package analytics

import (
	"context"
	"strings"
	"testing"
)

// Ingest into a database file bounds DuckDB's memory and threads while it
// loads, and gives analyses DuckDB's settings back afterwards.
func TestIngestBoundsDuckDBMemory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTestDB(t)
	settings := func() (limit string, threads int) {
		row(t, db, `SELECT current_setting('memory_limit'), current_setting('threads')`, &limit, &threads)
		return
	}
	limit0, threads0 := settings()
	restore, err := db.boundIngest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if limit, threads := settings(); limit == limit0 || threads > ingestThreads {
		t.Errorf("while ingesting: memory_limit %s (before %s), threads %d; want the limit %s and at most %d threads",
			limit, limit0, threads, ingestMemoryLimit, ingestThreads)
	}
	restore()
	if limit, threads := settings(); limit != limit0 || threads != threads0 {
		t.Errorf("after ingest: memory_limit %s, threads %d; want %s and %d back", limit, threads, limit0, threads0)
	}
	if n := ingest(t, db, "testdata/aiload_v1.jsonl", FormatAiload).Added; n == 0 {
		t.Fatal("nothing ingested")
	}
	if limit, threads := settings(); limit != limit0 || threads != threads0 {
		t.Errorf("after Ingest: memory_limit %s, threads %d; want %s and %d back", limit, threads, limit0, threads0)
	}
}

// A limit set with LimitMemory holds for the analyses and survives an
// ingest, which applies its own while it loads.
func TestLimitMemorySurvivesIngest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTestDB(t)
	if err := db.LimitMemory(ctx, "150MB"); err != nil {
		t.Fatal(err)
	}
	var limit string
	row(t, db, `SELECT current_setting('memory_limit')`, &limit)
	want := limit
	if n := ingest(t, db, "testdata/aiload_v1.jsonl", FormatAiload).Added; n == 0 {
		t.Fatal("nothing ingested")
	}
	row(t, db, `SELECT current_setting('memory_limit')`, &limit)
	if limit != want || !strings.HasPrefix(limit, "143") { // 150 MB printed in MiB
		t.Errorf("memory_limit after ingest %s, want %s (150MB)", limit, want)
	}
}
