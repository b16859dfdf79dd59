package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/fit"
)

// fitOptions are the flags of aiload fit.
type fitOptions struct {
	DB        string
	Period    string
	By        string
	Gateway   string
	Duration  time.Duration
	Seed      uint64
	Out       string
	Check     bool
	CheckSeed uint64
}

func newFitCmd(stdout, stderr io.Writer) *cobra.Command {
	var opts fitOptions
	cmd := &cobra.Command{
		Use:   "fit --db FILE [--period A..B] [--by subscription|user|ip|team] > twin.yaml",
		Short: "Fit a scenario (a twin) to the traffic in a database's records",
		Long: `Fit writes a scenario that plays the traffic of the records in the database:
one chat persona per consumer (subscription, user, client IP or team, --by)
with its arrival rate, its daily curve (hour of day, UTC, when the period
spans a day or more; else 24 slices of the period), its burstiness (a gamma
shape fitted from how much its requests per minute vary), its prompt and
completion lengths as empirical distributions (50 quantiles of its served
requests), its model, whether it streams, and its reaction to 429s inferred
from the retries that followed them. The gateway has the products and
subscriptions the log shows, with the largest TPM limit recorded, or the
configuration --gateway names. Comments in the YAML say where each number
came from; docs/fit.md has the heuristics.

--check runs the twin on the virtual clock (with --check-seed) and prints,
per consumer, the source's and the twin's requests and tokens per minute at
p50, p95 and p99 and tokens per day, flagging any more than 10 % apart.`,
		Example: `  aiload ingest apim-november.json --db prod.duckdb
  aiload fit --db prod.duckdb --period 2026-11-02..2026-11-06 > twin.yaml
  aiload fit --db prod.duckdb --period 2026-11-02..2026-11-06 --check -o twin.yaml
  aiload sweep twin.yaml --set gateway.products.standard.tokens_per_minute=60000,120000`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runFit(cmd.Context(), opts, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.DB, "db", "aiload.duckdb", "DuckDB file with the records")
	f.StringVar(&opts.Period, "period", "", "period to fit: YYYY-MM or YYYY-MM-DD..YYYY-MM-DD (default: all records)")
	f.StringVar(&opts.By, "by", "subscription", "one persona per: subscription, user, ip or team")
	f.StringVar(&opts.Gateway, "gateway", "", "gateway configuration file for the twin (default: products and limits as observed)")
	f.DurationVar(&opts.Duration, "duration", 0, "the twin's run length (default: the period, at most 24h)")
	f.Uint64Var(&opts.Seed, "seed", 1, "the twin's seed")
	f.StringVarP(&opts.Out, "out", "o", "", "write the twin to this file (default: stdout)")
	f.BoolVar(&opts.Check, "check", false, "run the twin on the virtual clock and compare it with the source")
	f.Uint64Var(&opts.CheckSeed, "check-seed", 2, "seed of the --check run")
	return cmd
}

func runFit(ctx context.Context, opts fitOptions, stdout, stderr io.Writer) error {
	fo := fit.Options{Gateway: opts.Gateway, Duration: opts.Duration, Seed: opts.Seed}
	if opts.Period != "" {
		p, err := analytics.ParsePeriod(opts.Period)
		if err != nil {
			return usageError{err}
		}
		fo.From, fo.To = p.Start, p.End
	}
	by, err := fit.ParseBy(opts.By)
	if err != nil {
		return usageError{fmt.Errorf("--by: %w", err)}
	}
	fo.By = by
	if opts.Duration < 0 {
		return usageError{fmt.Errorf("--duration %v: must be >= 0", opts.Duration)}
	}
	if opts.Gateway != "" {
		if _, err := os.Stat(opts.Gateway); err != nil {
			return usageError{fmt.Errorf("--gateway: %w", err)}
		}
		fo.Gateway = relativeTo(opts.Out, opts.Gateway)
	}
	if _, err := os.Stat(opts.DB); err != nil {
		return usageError{fmt.Errorf("--db: %w", err)}
	}
	db, err := analytics.Open(ctx, opts.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	tw, err := fit.Fit(ctx, db, fo)
	if err != nil {
		return err
	}
	var yaml bytes.Buffer
	if err := tw.WriteYAML(&yaml, opts.DB); err != nil {
		return err
	}
	report := stderr
	if opts.Out == "" {
		if _, err := stdout.Write(yaml.Bytes()); err != nil {
			return err
		}
	} else {
		if err := os.WriteFile(opts.Out, yaml.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write twin: %w", err)
		}
		fmt.Fprintf(stdout, "%s: twin of %d consumers\n", opts.Out, len(tw.Personas))
		report = stdout
	}
	if !opts.Check {
		return nil
	}
	dir, err := os.MkdirTemp("", "aiload-fit-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	twinFile := opts.Out
	if twinFile == "" {
		twinFile = "twin.yaml" // paths in it are as given: relative to the working directory
	}
	cs, err := fit.Check(ctx, tw, twinFile, yaml.Bytes(), opts.CheckSeed, dir)
	if err != nil {
		return err
	}
	_, err = fit.WriteCheck(report, cs)
	return err
}

// relativeTo returns the path of file as a scenario written to out refers
// to it: relative to out's folder (scenarios resolve paths from their own
// folder), or as given when the twin goes to stdout.
func relativeTo(out, file string) string {
	if out == "" {
		return file
	}
	absOut, err1 := filepath.Abs(filepath.Dir(out))
	absFile, err2 := filepath.Abs(file)
	if err1 != nil || err2 != nil {
		return file
	}
	if rel, err := filepath.Rel(absOut, absFile); err == nil {
		return rel
	}
	return absFile
}
