package analytics

import (
	"context"
	"fmt"
)

// Ingest's bounds on DuckDB while it loads aiload JSONL or Parquet into a
// database file. The insert is one transaction, so a failed ingest adds
// nothing; DuckDB keeps its uncommitted rows in memory up to the cap and
// spills the rest to a temporary folder beside the database (<file>.tmp,
// removed when done). Each thread reading JSON holds its own buffers of
// 32 MB and more, so the threads are bounded with the memory: two threads
// run out of memory under 150 MB.
//
// aiload JSONL up to largeIngestBytes (a day of a busy run's records is
// about 650 MB) is read on one thread under a 100 MB cap: a day's ingest
// then adds about 110 MB to the process (about 240 MB with two threads
// under 200 MB) for the same CPU time, in about twice the wall time on an
// idle machine. Larger inputs, and Parquet, keep two threads under 200 MB
// for speed. Analyses keep DuckDB's defaults unless LimitMemory says
// otherwise, and so do API Management and LiteLLM exports: a JSON array is
// read whole, in one buffer the size of the file. Measured in
// docs/benchmarks.md ("Memory of a whole run").
const (
	ingestMemoryLimit      = "100MB"
	ingestThreads          = 1
	largeIngestBytes       = 1 << 30
	largeIngestMemoryLimit = "200MB"
	largeIngestThreads     = 2
)

// ingestBounds returns DuckDB's memory cap and threads for ingesting size
// bytes (on disk) of the given format.
func ingestBounds(format Format, size int64) (limit string, threads int) {
	if format == FormatAiload && size <= largeIngestBytes {
		return ingestMemoryLimit, ingestThreads
	}
	return largeIngestMemoryLimit, largeIngestThreads
}

// boundIngest applies Ingest's bounds to a file database and returns a
// function that gives DuckDB's defaults back. An in-memory database is
// left alone: its data lives in the memory a limit would cap.
func (d *DB) boundIngest(ctx context.Context, limit string, threads int) (restore func(), err error) {
	if d.path == "" {
		return func() {}, nil
	}
	if _, err := d.db.ExecContext(ctx, fmt.Sprintf(`SET GLOBAL memory_limit = '%s'; SET GLOBAL threads = least(current_setting('threads')::INTEGER, %d)`,
		limit, threads)); err != nil {
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
