package analytics

import (
	"context"
	"errors"
	"fmt"

	"github.com/duckdb/duckdb-go/v2"
)

// Ingest's bounds on DuckDB while it loads aiload JSONL or Parquet into a
// database file. The insert is one transaction, so a failed ingest adds
// nothing; DuckDB keeps its uncommitted rows in memory up to the cap and
// spills the rest to a temporary folder beside the database (<file>.tmp,
// removed when done). DuckDB's JSON reader holds buffers of 32 MB (twice
// its smallest maximum_object_size, 16 MB); threads sharing one file keep
// about four of them in flight, so two threads on one file run out of
// memory under about 170 MB.
//
// aiload JSONL up to largeIngestBytes (a day of a busy run's records is
// about 650 MB) is bounded to one thread under 100 MB. From
// splitIngestMinBytes on, such a file is copied as two halves (split at a
// line) into a temporary folder and read as two files on two threads under
// 150 MB: DuckDB reads each file on a thread of its own with one buffer,
// so two threads fit, in about the wall time of two threads on one file
// under 200 MB and well below its peak, unless LimitMemory capped the
// database's analyses (a run's own ingest, where the halves' extra ~70 MB
// would cross 300 MB for the whole run). Larger inputs, and Parquet, keep
// two threads under 200 MB. Analyses keep DuckDB's defaults unless
// LimitMemory says otherwise, and so do API Management and LiteLLM
// exports: a JSON array is read whole, in one buffer the size of the file.
// Measured in docs/benchmarks.md ("Memory of a whole run").
const (
	ingestMemoryLimit      = "100MB"
	ingestThreads          = 1
	largeIngestBytes       = 1 << 30
	largeIngestMemoryLimit = "200MB"
	largeIngestThreads     = 2
	splitIngestMinBytes    = 128 << 20
	splitIngestMemoryLimit = "150MB"
	splitIngestThreads     = 2
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
	if err := d.setIngestBounds(ctx, limit, threads); err != nil {
		return nil, err
	}
	return func() {
		// DuckDB's defaults (a share of the machine's memory, a thread per
		// core), or the limit LimitMemory set: the settings print rounded,
		// so they cannot be read and set back
		ctx := context.WithoutCancel(ctx)
		d.db.ExecContext(ctx, `RESET GLOBAL threads`)
		if d.memoryLimit != "" {
			d.db.ExecContext(ctx, fmt.Sprintf(`SET GLOBAL memory_limit = '%s'`, d.memoryLimit))
		} else {
			d.resetMemoryLimit(ctx)
		}
	}, nil
}

// setIngestBounds sets DuckDB's memory cap and threads (at most DuckDB's
// default, a thread per core) for an ingest.
func (d *DB) setIngestBounds(ctx context.Context, limit string, threads int) error {
	if _, err := d.db.ExecContext(ctx, fmt.Sprintf(`SET GLOBAL memory_limit = '%s'; RESET GLOBAL threads; SET GLOBAL threads = least(current_setting('threads')::INTEGER, %d)`,
		limit, threads)); err != nil {
		return fmt.Errorf("bound duckdb memory for ingest: %w", err)
	}
	return nil
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

// IsOutOfMemory reports whether err is DuckDB running out of the memory its
// cap allows.
func IsOutOfMemory(err error) bool {
	var de *duckdb.Error
	return errors.As(err, &de) && de.Type == duckdb.ErrorTypeOutOfMemory
}

// WithinMemoryLimit runs f, whose queries keep to the cap LimitMemory set,
// and when DuckDB runs out of memory there, lifts the cap (DuckDB's default:
// most of the machine's memory) and runs f once more: a cap bounds a
// process's peak, and work that needs more than the cap is done anyway.
// lifted says that f ran again without the cap.
func (d *DB) WithinMemoryLimit(ctx context.Context, f func() error) (lifted bool, err error) {
	err = f()
	if d.memoryLimit == "" || !IsOutOfMemory(err) {
		return false, err
	}
	if rerr := d.resetMemoryLimit(ctx); rerr != nil {
		return false, err
	}
	d.memoryLimit = ""
	return true, f()
}

// resetMemoryLimit gives DuckDB its default memory cap back. RESET alone
// changes the setting but leaves the buffer pool at the cap before (DuckDB
// 1.5), so the default it names is set again.
func (d *DB) resetMemoryLimit(ctx context.Context) error {
	var def string
	if err := d.db.QueryRowContext(ctx, `RESET GLOBAL memory_limit; SELECT current_setting('memory_limit')`).Scan(&def); err != nil {
		return fmt.Errorf("reset duckdb memory limit: %w", err)
	}
	if _, err := d.db.ExecContext(ctx, fmt.Sprintf(`SET GLOBAL memory_limit = '%s'`, def)); err != nil {
		return fmt.Errorf("reset duckdb memory limit to %s: %w", def, err)
	}
	return nil
}
