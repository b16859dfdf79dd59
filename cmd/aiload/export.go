package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/aiload/aiload/analytics"
)

// exportOptions are the flags of aiload export.
type exportOptions struct {
	DB      string
	Parquet string
}

func newExportCmd(stdout io.Writer) *cobra.Command {
	var opts exportOptions
	cmd := &cobra.Command{
		Use:   "export --db FILE --parquet DIR",
		Short: "Write the records of a DuckDB file as Parquet partitioned by day and team",
		Long: `Export writes every token-metric record in the database as Parquet files,
partitioned Hive-style by UTC day and team:

  DIR/day=2026-11-25/team=support/data_0.parquet

DuckDB, Spark, Trino and most warehouses read the folder as one table, and
aiload ingest reads it back (day and team come from the folder names).`,
		Example: `  aiload export --db runs/quickstart-20261125T190000Z/aiload.duckdb --parquet export/
  aiload ingest 'export/*/*/*.parquet' --db combined.duckdb`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runExport(cmd.Context(), opts, stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.DB, "db", "aiload.duckdb", "DuckDB file to read")
	f.StringVar(&opts.Parquet, "parquet", "", "folder to write the partitioned Parquet files into (required)")
	return cmd
}

func runExport(ctx context.Context, opts exportOptions, stdout io.Writer) error {
	if opts.Parquet == "" {
		return usageError{errors.New("export needs --parquet DIR")}
	}
	if _, err := os.Stat(opts.DB); err != nil {
		return usageError{fmt.Errorf("database %s: %w", opts.DB, err)}
	}
	db, err := analytics.Open(ctx, opts.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := db.ExportParquet(ctx, opts.Parquet)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exported %d records to %d Parquet files under %s\n", res.Rows, res.Files, res.Dir)
	return nil
}
