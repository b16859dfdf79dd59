package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/internal/gcpolicy"
	"github.com/aiload/aiload/pricing"
	"github.com/aiload/aiload/reports"
	"github.com/aiload/aiload/reports/assemble"
	"github.com/aiload/aiload/runner"
)

// reportOptions are the flags of aiload report.
type reportOptions struct {
	DB, Pricing, Period, Format, Out, Charts string
	Method, Shares, IdleTo, By               string
	// Scenario and VerifySeeds verify the team pages' TPM limits as
	// aiload recommend does (0 seeds: not verified, labelled so).
	Scenario     string
	VerifySeeds  int
	VerifyRounds int
	// MemoryLimit caps DuckDB's memory for the report's queries ("none":
	// DuckDB's default, most of the machine's memory).
	MemoryLimit string
}

func newReportCmd(stdout, stderr io.Writer) *cobra.Command {
	var opts reportOptions
	cmd := &cobra.Command{
		Use:   "report --db FILE --period 2026-11 --format pdf|csv|focus --out FILE",
		Short: "Write a period's chargeback report: PDF, CSV or FinOps FOCUS CSV",
		Long: `Report prices the period's requests as aiload chargeback does (PAYG tokens
to the team that used them, each PTU deployment's cost split by --method) and
writes it for people who do not run aiload, split by team or, with --by, by
another column (subscription, product, user, a subscription metadata key such
as a cost centre, dims.<name>), which the CSV, FOCUS CSV and PDF then name:

  pdf    cover with the total and cost by team, contents, one page per team
         (cost breakdown, tokens by model, per-minute demand against its
         limit, 429s), capacity pages, methodology; fonts embedded
  csv    one row per team × model × cost type with tokens, unit price, cost
         and allocation method
  focus  FinOps FOCUS 1.2 Cost and Usage columns, with FOCUS 1.3
         AllocatedMethodId/AllocatedMethodDetails on the PTU split rows

The team pages' TPM limit recommendations are sized on the period's records
(as aiload recommend --period does) and labelled as the replay's estimate;
with --verify-seeds N they are verified first, as aiload recommend does, by
rerunning the records' scenario on the virtual clock with N other seeds, and
each consumer shows the verified limit, the target, the replay's estimate
and what the reruns measured.

Money is exact to the cent: team totals add up to the bill. Set
SOURCE_DATE_EPOCH to fix the PDF's creation date (reproducible files).

The report's queries run under --memory-limit (DuckDB spills what does not
fit to a folder beside the database); queries that need more than that run
again without the cap, with a warning.`,
		Example: `  aiload report --db aiload.duckdb --pricing pricing.yaml --period 2026-11 --format pdf --out report.pdf --charts charts/
  aiload report --db aiload.duckdb --period 2026-11 --format focus --out focus.csv
  aiload report --db aiload.duckdb --period 2026-11-01..2026-11-07 --format csv > week.csv
  aiload report --db runs/mixed-day-20260105T070000Z/aiload.duckdb --period 2026-01-05 --out report.pdf --verify-seeds 3`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			created, err := reports.CreationTime(os.Getenv, time.Now)
			if err != nil {
				return usageError{err}
			}
			if !cmd.Flags().Changed("charts") && opts.Format == "pdf" && opts.Out != "-" {
				opts.Charts = filepath.Join(filepath.Dir(opts.Out), "charts")
			}
			if opts.Charts == "-" {
				opts.Charts = ""
			}
			return runReport(cmd.Context(), opts, created, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.DB, "db", "aiload.duckdb", "DuckDB file with ingested records")
	f.StringVar(&opts.Pricing, "pricing", "", "pricing file, or a scenario file (its pricing: section) (default: built-in list prices, no PTU deployments)")
	f.StringVar(&opts.Period, "period", "", "billing period: YYYY-MM or YYYY-MM-DD..YYYY-MM-DD (required)")
	f.StringVar(&opts.Format, "format", "pdf", "pdf, csv or focus")
	f.StringVar(&opts.Out, "out", "-", "output file (- for standard output)")
	f.StringVar(&opts.Charts, "charts", "", `write the charts as PNG and SVG into this folder (default: charts/ beside a PDF written to a file; "-" for none)`)
	f.StringVar(&opts.Method, "method", "proportional", "PTU split: proportional, even, fixed or used")
	f.StringVar(&opts.Shares, "shares", "", "fixed weights for --method fixed, e.g. web=60,data=40")
	f.StringVar(&opts.IdleTo, "idle-to", "(unallocated)", "line that receives idle PTU capacity (--method used)")
	f.StringVar(&opts.By, "by", "team", "split by: team, subscription, product, user, a subscription metadata key or dims.<name>")
	f.IntVar(&opts.VerifySeeds, "verify-seeds", 0, "verify the TPM recommendations with this many reruns per round, as aiload recommend does (0: replay estimate, labelled so)")
	f.IntVar(&opts.VerifyRounds, "verify-rounds", 4, "most verification rounds (with --verify-seeds)")
	f.StringVar(&opts.Scenario, "scenario", "", "scenario to rerun for verification (default: the one the run folder's summary.json names)")
	f.StringVar(&opts.MemoryLimit, "memory-limit", "100MB", `DuckDB's memory cap for the report's queries, e.g. 100MB or 2GB ("none": DuckDB's default)`)
	return cmd
}

// reportWriters are the formats of aiload report.
var reportWriters = map[string]func(io.Writer, reports.Report, time.Time) error{
	"pdf": func(w io.Writer, r reports.Report, created time.Time) error {
		return reports.WritePDF(w, r, reports.PDFOptions{Created: created, Generator: "aiload " + version})
	},
	"csv":   func(w io.Writer, r reports.Report, _ time.Time) error { return reports.WriteCSV(w, r) },
	"focus": func(w io.Writer, r reports.Report, _ time.Time) error { return reports.WriteFOCUS(w, r) },
}

func runReport(ctx context.Context, opts reportOptions, created time.Time, stdout, stderr io.Writer) error {
	aopts, err := reportAssembleOptions(opts)
	if err != nil {
		return usageError{err}
	}
	write, ok := reportWriters[opts.Format]
	if !ok {
		return usageError{fmt.Errorf("--format %q: want pdf, csv or focus", opts.Format)}
	}
	if f, isFile := stdout.(*os.File); opts.Format == "pdf" && (opts.Out == "-" || opts.Out == "") && isFile && term.IsTerminal(f.Fd()) {
		return usageError{fmt.Errorf("a PDF on the terminal is unreadable: write it to a file with --out report.pdf")}
	}
	// the report's queries and rendering allocate hundreds of MB over a
	// small live heap: collect at Go's default pace, as a run's report does
	defer gcpolicy.ForAnalysis()()
	db, err := openExisting(ctx, opts.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	if opts.MemoryLimit != "none" {
		if err := db.LimitMemory(ctx, opts.MemoryLimit); err != nil {
			return usageError{fmt.Errorf("--memory-limit %q: %w", opts.MemoryLimit, err)}
		}
	}
	aopts.VerifyHint = fmt.Sprintf("aiload recommend --db %s --period %s (or this report with --verify-seeds 3)", opts.DB, opts.Period)
	if opts.VerifySeeds > 0 {
		aopts.Verify = func(ctx context.Context, rec *analytics.Recommendation) (string, error) {
			_, note, err := runner.CheckRecommendation(ctx, db, rec, runner.CheckOptions{DBPath: opts.DB, ScenarioFile: opts.Scenario,
				Seeds: opts.VerifySeeds, Rounds: opts.VerifyRounds})
			return note, err
		}
	}
	var (
		r   *reports.Report
		res *analytics.ChargebackResult
	)
	lifted, err := db.WithinMemoryLimit(ctx, func() (err error) {
		r, res, err = assemble.Build(ctx, db, aopts)
		return err
	})
	if lifted {
		fmt.Fprintf(stderr, "aiload: warning: the report's queries ran out of memory under --memory-limit %s and ran again without it\n", opts.MemoryLimit)
	}
	if err != nil {
		return groupingError(err)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "aiload: warning: %s\n", w)
	}
	if err := writeOut(opts.Out, stdout, func(w io.Writer) error { return write(w, *r, created) }); err != nil {
		return err
	}
	if opts.Charts != "" {
		files, err := reports.WriteCharts(opts.Charts, *r)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "aiload: %d chart files in %s\n", len(files), opts.Charts)
	}
	return nil
}

// reportAssembleOptions checks the flags and turns them into options.
func reportAssembleOptions(opts reportOptions) (assemble.Options, error) {
	if opts.Period == "" {
		return assemble.Options{}, fmt.Errorf("--period is required (e.g. --period 2026-11)")
	}
	if opts.VerifySeeds < 0 || (opts.VerifySeeds > 0 && opts.VerifyRounds < 1) {
		return assemble.Options{}, fmt.Errorf("--verify-seeds %d, --verify-rounds %d: want 0 or more seeds and 1 or more rounds", opts.VerifySeeds, opts.VerifyRounds)
	}
	period, err := analytics.ParsePeriod(opts.Period)
	if err != nil {
		return assemble.Options{}, err
	}
	method, err := analytics.ParseMethod(opts.Method)
	if err != nil {
		return assemble.Options{}, fmt.Errorf("--method: %w", err)
	}
	alloc := analytics.Allocation{Method: method, IdleTo: opts.IdleTo}
	if alloc.By, err = analytics.ParseGrouping(opts.By); err != nil {
		return assemble.Options{}, fmt.Errorf("--by: %w", err)
	}
	if alloc.Shares, err = parseShares(opts.Shares); err != nil {
		return assemble.Options{}, err
	}
	out := assemble.Options{Period: period, Allocation: alloc, Pricing: pricing.Default()}
	if opts.Pricing != "" {
		if out.Pricing, err = pricing.Load(opts.Pricing); err != nil {
			return assemble.Options{}, err
		}
		out.PricingSource = pricingSource(opts.Pricing)
	}
	return out, nil
}

// writeOut writes to path ("-" is stdout) through a buffer; a file is only
// left behind when writing succeeded.
func writeOut(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "-" || path == "" {
		bw := bufio.NewWriter(stdout)
		if err := write(bw); err != nil {
			return err
		}
		return bw.Flush()
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create report: %w", err)
	}
	bw := bufio.NewWriter(f)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close report: %w", cerr)
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}
