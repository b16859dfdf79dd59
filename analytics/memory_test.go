package analytics

import (
	"context"
	"fmt"
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
	if limit, threads := settings(); !sameLimit(limit, limit0) || threads != threads0 {
		t.Errorf("after ingest: memory_limit %s, threads %d; want %s and %d back", limit, threads, limit0, threads0)
	}
	if n := ingest(t, db, "testdata/aiload_v1.jsonl", FormatAiload).Added; n == 0 {
		t.Fatal("nothing ingested")
	}
	if limit, threads := settings(); !sameLimit(limit, limit0) || threads != threads0 {
		t.Errorf("after Ingest: memory_limit %s, threads %d; want %s and %d back", limit, threads, limit0, threads0)
	}
	// and the buffer pool follows the setting: a list of 128 MB (which
	// cannot spill) fits again
	var n int64
	if err := db.SQL().QueryRowContext(ctx, `SELECT len(list(i)) FROM range(16000000) t(i)`).Scan(&n); err != nil {
		t.Errorf("a 128 MB list after Ingest: %v", err)
	}
}

// sameLimit says whether two memory limits as DuckDB prints them ("18.8
// GiB") are the same to its rounding: the default, printed and set again,
// prints 0.1 lower.
func sameLimit(a, b string) bool {
	var x, y float64
	var ua, ub string
	if _, err := fmt.Sscanf(a, "%g %s", &x, &ua); err != nil {
		return false
	}
	if _, err := fmt.Sscanf(b, "%g %s", &y, &ub); err != nil {
		return false
	}
	return ua == ub && x >= y-0.11 && x <= y+0.11
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

// Work that runs out of memory under LimitMemory's cap is done again
// without it; work that fits runs once, under the cap.
func TestWithinMemoryLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTestDB(t)
	if err := db.LimitMemory(ctx, "8MB"); err != nil {
		t.Fatal(err)
	}
	// a list of 4 M integers (32 MB) is built in memory: it cannot spill
	var n int64
	calls := 0
	big := func() error {
		calls++
		if err := db.SQL().QueryRowContext(ctx, `SELECT len(list(i)) FROM range(4000000) t(i)`).Scan(&n); err != nil {
			return fmt.Errorf("the big list: %w", err)
		}
		return nil
	}
	if err := big(); !IsOutOfMemory(err) {
		t.Fatalf("a 32 MB list under an 8 MB cap: %v; want DuckDB's out-of-memory error", err)
	}
	calls = 0
	lifted, err := db.WithinMemoryLimit(ctx, big)
	if err != nil || !lifted || calls != 2 || n != 4_000_000 {
		t.Fatalf("WithinMemoryLimit: lifted %v after %d calls, %d items, %v; want lifted after 2 calls, 4000000 items, no error", lifted, calls, n, err)
	}
	var limit string
	row(t, db, `SELECT current_setting('memory_limit')`, &limit)
	if limit == "7.6 MiB" {
		t.Errorf("memory_limit still %s after the cap was lifted", limit)
	}

	// once lifted, and for work that fits, f runs once
	calls = 0
	if lifted, err := db.WithinMemoryLimit(ctx, big); err != nil || lifted || calls != 1 {
		t.Errorf("again: lifted %v after %d calls, %v; want one call", lifted, calls, err)
	}
	if IsOutOfMemory(fmt.Errorf("other: %w", context.Canceled)) {
		t.Error("IsOutOfMemory(context.Canceled) is true")
	}
}
