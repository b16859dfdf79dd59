package analytics

import (
	"context"
	"fmt"
)

// Ingest's bounds on DuckDB while it loads aiload JSONL or Parquet into a
// database file: an insert keeps the new rows in memory until it commits
// (a day of a busy run's records is about 450 MB there, and DuckDB's
// buffers on top), so Ingest caps DuckDB's memory
// and lets it spill the rest to a temporary folder beside the database
// (<file>.tmp, removed when done). Each thread reading JSON needs its own
// buffers, so the threads are capped too: with more of them the same limit
// runs out of memory. Analyses keep DuckDB's defaults, and so do API
// Management and LiteLLM exports: a JSON array is read whole, in one buffer
// the size of the file.
const (
	ingestMemoryLimit = "200MB"
	ingestThreads     = 2
)

// boundIngest applies Ingest's bounds to a file database and returns a
// function that gives DuckDB's defaults back. An in-memory database is
// left alone: its data lives in the memory a limit would cap.
func (d *DB) boundIngest(ctx context.Context) (restore func(), err error) {
	if d.path == "" {
		return func() {}, nil
	}
	if _, err := d.db.ExecContext(ctx, fmt.Sprintf(`SET GLOBAL memory_limit = '%s'; SET GLOBAL threads = least(current_setting('threads')::INTEGER, %d)`,
		ingestMemoryLimit, ingestThreads)); err != nil {
		return nil, fmt.Errorf("bound duckdb memory for ingest: %w", err)
	}
	return func() {
		// DuckDB's defaults (a share of the machine's memory, a thread per
		// core), or the limit LimitMemory set: the settings print rounded,
		// so they cannot be read and set back
		ctx := context.WithoutCancel(ctx)
		d.db.ExecContext(ctx, `RESET GLOBAL memory_limit; RESET GLOBAL threads`)
		if d.memoryLimit != "" {
			d.db.ExecContext(ctx, fmt.Sprintf(`SET GLOBAL memory_limit = '%s'`, d.memoryLimit))
		}
	}, nil
}

// LimitMemory caps DuckDB's memory for the analyses on this database (a
// size DuckDB reads, such as "150MB"); what does not fit spills to a
// temporary folder beside the database. Ingest still applies its own cap
// while it loads, and restores this one after. An in-memory database is
// left alone.
func (d *DB) LimitMemory(ctx context.Context, limit string) error {
	if d.path == "" {
		return nil
	}
	if _, err := d.db.ExecContext(ctx, fmt.Sprintf(`SET GLOBAL memory_limit = '%s'`, limit)); err != nil {
		return fmt.Errorf("limit duckdb memory to %s: %w", limit, err)
	}
	d.memoryLimit = limit
	return nil
}
