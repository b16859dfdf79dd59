package main

import (
	"errors"
	"io"

	"github.com/spf13/cobra"

	"github.com/aiload/aiload/runner"
)

func newMergeCmd(stdout io.Writer) *cobra.Command {
	var opts runner.MergeOptions
	cmd := &cobra.Command{
		Use:   "merge RUN_DIR... --out DIR",
		Short: "Combine the run folders of shards (aiload run --shard i/n) into one result",
		Long: `Merge combines the runs of several shards into one: request counts are
summed per persona and subscription, each persona's corrected-latency
percentiles are computed from the shards' HdrHistograms merged value by value
(never by averaging percentiles), and every shard's records are loaded into
one DuckDB file. DIR receives summary.json, latency.hlog (one merged
histogram per persona) and aiload.duckdb.`,
		Example: `  # on four machines
  aiload run mixed-day.yaml --shard 1/4 --out shards/   # … through --shard 4/4
  # then, with the four run folders copied together
  aiload merge shards/mixed-day-*-shard-* --out merged/`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("merge needs at least one run folder")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Out == "" {
				return usageError{errors.New("merge needs --out DIR")}
			}
			opts.Dirs = args
			_, err := runner.Merge(cmd.Context(), opts, stdout)
			return err
		},
	}
	cmd.Flags().StringVar(&opts.Out, "out", "", "folder for the merged summary.json, latency.hlog and aiload.duckdb (required)")
	return cmd
}
