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
	restore, err := db.boundIngest(ctx, ingestMemoryLimit, ingestThreads)
	if err != nil {
		t.Fatal(err)
	}
	if limit, threads := settings(); limit != "95.3 MiB" || threads != ingestThreads {
		t.Errorf("while ingesting: memory_limit %s (before %s), threads %d; want %s (95.3 MiB) and %d thread",
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

// A day of aiload JSONL is read on one thread under 100 MB; larger files
// and Parquet get two threads under 200 MB.
func TestIngestBoundsBySize(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		format  Format
		size    int64
		limit   string
		threads int
	}{
		{FormatAiload, 650 << 20, "100MB", 1},
		{FormatAiload, 1 << 30, "100MB", 1},
		{FormatAiload, 1<<30 + 1, "200MB", 2},
		{FormatParquet, 10 << 20, "200MB", 2},
	} {
		if limit, threads := ingestBounds(c.format, c.size); limit != c.limit || threads != c.threads {
			t.Errorf("%s of %d bytes: %s on %d threads, want %s on %d", c.format, c.size, limit, threads, c.limit, c.threads)
		}
	}
}
