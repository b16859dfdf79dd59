package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/aiload/aiload/analytics"
)

// ingestOptions are the flags of aiload ingest.
type ingestOptions struct {
	DB     string
	Format string
	Files  []string
}

func newIngestCmd(stdout, stderr io.Writer) *cobra.Command {
	var opts ingestOptions
	cmd := &cobra.Command{
		Use:   "ingest FILE...",
		Short: "Load token-metric logs (aiload JSONL, Parquet, APIM, LiteLLM) into a DuckDB file",
		Long: `Ingest loads request logs into the analytics database: aiload JSONL (any
schema version, .gz too), Parquet (globs allowed, e.g. 'shards/*.parquet'),
API Management's ApiManagementGatewayLlmLog joined with
ApiManagementGatewayLogs (or each alone, in either order) as exported from
Log Analytics — JSON lines, a JSON array (az monitor log-analytics query
-o json), the Log Analytics API's tables/rows answer or the portal's CSV —
and LiteLLM spend logs (the LiteLLM_SpendLogs table's CSV, or the JSON of
/spend/logs or /spend/logs/v2).

The format is detected from each file's content; --format names it, and a
file that matches none says which columns it lacked for each format.
Records already present (same request id) are skipped, so ingesting a file
twice adds nothing. An incomplete last line (a log still being written) is
reported and skipped; in aiload JSONL, a line that is not a JSON record (torn
by a full disk or a crash) is skipped anywhere in the file and named with its
line number, the rest loads, and the count of skipped lines is printed. A
torn record continued on the same line after a restart keeps the whole
record that follows it. Export commands and column mappings: docs/ingest.md.`,
		Example: `  aiload ingest runs/quickstart-*/tokens.jsonl --db aiload.duckdb
  aiload ingest 'shards/*.parquet' --db aiload.duckdb
  az monitor log-analytics query -w $WORKSPACE --analytics-query @apim-llm.kql -o json > apim.json
  aiload ingest apim.json --db prod.duckdb
  aiload ingest spend-logs.csv --format litellm --db prod.duckdb`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("ingest needs at least one file")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			return runIngest(cmd.Context(), opts, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.DB, "db", "aiload.duckdb", "DuckDB file to load into (created when missing)")
	f.StringVar(&opts.Format, "format", "auto", "input format: auto, aiload, parquet, apim or litellm")
	return cmd
}

func runIngest(ctx context.Context, opts ingestOptions, stdout, stderr io.Writer) error {
	format, err := analytics.ParseFormat(opts.Format)
	if err != nil {
		return usageError{err}
	}
	files, err := expandFiles(opts.Files, format)
	if err != nil {
		return usageError{err}
	}
	db, err := analytics.Open(ctx, opts.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	var total int64
	start := time.Now()
	for _, file := range files {
		t0 := time.Now()
		res, err := db.Ingest(ctx, file, format)
		if err != nil {
			var fe *analytics.FieldError
			var de *analytics.DetectError
			if errors.As(err, &fe) || errors.As(err, &de) {
				return usageError{err}
			}
			return err
		}
		if res.TornLine > 0 {
			fmt.Fprintf(stderr, "aiload: %s:%d: incomplete last line skipped\n", file, res.TornLine)
		}
		reportSkipped(stderr, res.Skipped)
		skipped := ""
		if n := len(res.Skipped); n > 0 {
			skipped = fmt.Sprintf(", %d malformed lines skipped", n)
		}
		fmt.Fprintf(stdout, "%s: %s, %d records added%s in %v\n", file, res.Format, res.Added, skipped, time.Since(t0).Round(time.Millisecond))
		if res.Completed > 0 {
			fmt.Fprintf(stdout, "%s: %d earlier records completed\n", file, res.Completed)
		}
		total += res.Added
	}
	n, err := db.Count(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d records added in %v; %d records in the database\n",
		opts.DB, total, time.Since(start).Round(time.Millisecond), n)
	return nil
}

// expandFiles expands glob patterns the shell left alone, except for
// Parquet, whose globs DuckDB reads as one set.
func expandFiles(args []string, format analytics.Format) ([]string, error) {
	var out []string
	for _, a := range args {
		parquet := format == analytics.FormatParquet || strings.HasSuffix(strings.ToLower(a), ".parquet")
		if !strings.ContainsAny(a, "*?[") || parquet {
			out = append(out, a)
			continue
		}
		m, err := filepath.Glob(a)
		if err != nil {
			return nil, fmt.Errorf("bad pattern %q: %w", a, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("no files match %q", a)
		}
		out = append(out, m...)
	}
	return out, nil
}

// maxSkippedShown bounds the skipped lines named one by one on stderr.
const maxSkippedShown = 20

// reportSkipped names the lines ingest left out (the first 20 of them).
func reportSkipped(stderr io.Writer, skipped []analytics.SkippedLine) {
	for i, s := range skipped {
		if i == maxSkippedShown {
			fmt.Fprintf(stderr, "aiload: … and %d more malformed lines skipped\n", len(skipped)-i)
			break
		}
		fmt.Fprintf(stderr, "aiload: %s:%d: skipped: %s\n", s.File, s.Line, s.Reason)
	}
}
