package analytics

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ExportResult says what ExportParquet wrote.
type ExportResult struct {
	Dir   string
	Rows  int64
	Files int
}

// ExportParquet writes every record to dir as Parquet partitioned by UTC
// day and team (Hive layout: dir/day=2026-11-25/team=support/data_0.parquet),
// which DuckDB, Spark and warehouses read as one table, and which `aiload
// ingest 'dir/**/*.parquet'` reads back (the day and team come from the
// folder names). Records without a team go under team=NULL. Existing files
// in dir are kept; files of the same partition are overwritten.
func (d *DB) ExportParquet(ctx context.Context, dir string) (ExportResult, error) {
	res := ExportResult{Dir: dir}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, fmt.Errorf("export parquet: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return res, fmt.Errorf("export parquet: %w", err)
	}
	q := strings.Replace(query("export_parquet.sql"), "{{dir}}", strings.ReplaceAll(abs, "'", "''"), 1)
	r, err := d.db.ExecContext(ctx, q)
	if err != nil {
		return res, fmt.Errorf("export parquet to %s: %w", dir, err)
	}
	if res.Rows, err = r.RowsAffected(); err != nil {
		return res, fmt.Errorf("export parquet to %s: %w", dir, err)
	}
	matches, err := filepath.Glob(filepath.Join(abs, "day=*", "team=*", "*.parquet"))
	if err != nil {
		return res, fmt.Errorf("export parquet: %w", err)
	}
	res.Files = len(matches)
	return res, nil
}
