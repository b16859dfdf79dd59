package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/pricing"
)

// chargebackOptions are the flags of aiload chargeback.
type chargebackOptions struct {
	DB, Pricing, Period, Method, Shares, IdleTo, Format string
}

func newChargebackCmd(stdout io.Writer) *cobra.Command {
	var opts chargebackOptions
	cmd := &cobra.Command{
		Use:   "chargeback --db FILE --period 2026-11 [--pricing pricing.yaml]",
		Short: "Split a period's LLM bill among teams: PAYG tokens, spill-over and PTU capacity",
		Long: `Chargeback prices the requests served in the period: pay-as-you-go
tokens (input, cached input, output) are charged to the team that used
them, spill-over from a PTU deployment to PAYG included; each PTU deployment's
fixed cost is split by --method:

  proportional  by input-equivalent tokens served on PTU (default)
  even          equally among the teams that used the deployment
  fixed         by fixed weights (--shares, or shares in the pricing file)
  used          tokens at the cost of one token of capacity; idle capacity
                goes to the --idle-to line

Team totals add up to the bill exactly, to the cent: exact amounts are
summed and rounded half-up; lines are rounded down and the missing cents go
to the largest remainders.`,
		Example: `  aiload chargeback --db aiload.duckdb --period 2026-11 --pricing pricing.yaml
  aiload chargeback --db aiload.duckdb --period 2026-11 --method fixed --shares web=60,data=40
  aiload chargeback --db aiload.duckdb --period 2026-11-01..2026-11-07 --format csv > week.csv`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runChargeback(cmd.Context(), opts, stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.DB, "db", "aiload.duckdb", "DuckDB file with ingested records")
	f.StringVar(&opts.Pricing, "pricing", "", "pricing file, or a scenario file (its pricing: section) (default: built-in list prices, no PTU deployments)")
	f.StringVar(&opts.Period, "period", "", "billing period: YYYY-MM or YYYY-MM-DD..YYYY-MM-DD (required)")
	f.StringVar(&opts.Method, "method", "proportional", "PTU split: proportional, even, fixed or used")
	f.StringVar(&opts.Shares, "shares", "", "fixed weights for --method fixed, e.g. web=60,data=40")
	f.StringVar(&opts.IdleTo, "idle-to", "(unallocated)", "line that receives idle PTU capacity (--method used)")
	f.StringVar(&opts.Format, "format", "table", "output: table, json or csv")
	return cmd
}

func runChargeback(ctx context.Context, opts chargebackOptions, stdout io.Writer) error {
	if opts.Period == "" {
		return usageError{fmt.Errorf("--period is required (e.g. --period 2026-11)")}
	}
	period, err := analytics.ParsePeriod(opts.Period)
	if err != nil {
		return usageError{err}
	}
	alloc := analytics.Allocation{Method: analytics.Method(opts.Method), IdleTo: opts.IdleTo}
	if !slices.Contains(analytics.Methods(), alloc.Method) {
		return usageError{fmt.Errorf("--method %q: want proportional, even, fixed or used", opts.Method)}
	}
	if alloc.Shares, err = parseShares(opts.Shares); err != nil {
		return usageError{err}
	}
	prices, err := loadPricing(opts.Pricing)
	if err != nil {
		return err
	}
	if err := checkFormat(opts.Format); err != nil {
		return err
	}
	db, err := openExisting(ctx, opts.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := analytics.Chargeback(ctx, db, prices, period, alloc)
	if err != nil {
		return err
	}
	switch opts.Format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	case "csv":
		return chargebackCSV(stdout, res)
	}
	return chargebackTable(stdout, res)
}

// parseShares reads "a=60,b=40".
func parseShares(s string) (map[string]float64, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]float64{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		f, err := strconv.ParseFloat(v, 64)
		if !ok || k == "" || err != nil || f < 0 {
			return nil, fmt.Errorf("--shares %q: want team=weight,… with weights >= 0", s)
		}
		out[k] = f
	}
	return out, nil
}

func chargebackTable(w io.Writer, res *analytics.ChargebackResult) error {
	fmt.Fprintf(w, "Chargeback %s (%s to %s), %s\n", res.Period.Label,
		res.Period.Start.Format("2006-01-02"), res.Period.End.Format("2006-01-02"), res.Currency)
	fmt.Fprintf(w, "PTU split: %s: %s\n\n", res.Method, res.MethodDescription)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "team\tPAYG\tspill\tPTU\ttotal\t")
	for _, t := range res.Teams {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", t.Team, analytics.FormatCents(t.PAYGCents),
			analytics.FormatCents(t.SpillCents), analytics.FormatCents(t.PTUCents), analytics.FormatCents(t.Cents))
	}
	fmt.Fprintf(tw, "total\t\t\t\t%s\t\n", analytics.FormatCents(res.TotalCents))
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(res.Deployments) > 0 {
		fmt.Fprintln(w)
		for _, d := range res.Deployments {
			fmt.Fprintf(w, "PTU deployment %s: %d PTU of %s, %s, %s, utilization %.1f%%\n", d.Name, d.PTU, d.Model,
				d.Billing, analytics.FormatCents(d.Cents), 100*d.Utilization)
		}
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "team\tmodel\ttier\tcost\ttokens\tprice/1M\tamount")
	for _, l := range res.Lines {
		price := ""
		if l.Tier != analytics.TierPTU {
			price = strconv.FormatFloat(l.UnitPrice, 'f', -1, 64)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", l.Team, l.Model, l.Tier, l.CostType, l.Tokens, price,
			analytics.FormatCents(l.Cents))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nRounding: %s.\n", res.RoundingRule)
	for _, warn := range res.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	return nil
}

func chargebackCSV(w io.Writer, res *analytics.ChargebackResult) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"period", "team", "model", "tier", "cost_type", "deployment", "tokens", "requests",
		"unit_price_per_1m", "share", "amount", "currency", "method"})
	for _, l := range res.Lines {
		_ = cw.Write([]string{res.Period.Label, l.Team, l.Model, string(l.Tier), string(l.CostType), l.Deployment,
			strconv.FormatInt(l.Tokens, 10), strconv.FormatInt(l.Requests, 10),
			strconv.FormatFloat(l.UnitPrice, 'f', -1, 64), strconv.FormatFloat(l.Share, 'f', 6, 64),
			analytics.FormatCents(l.Cents), res.Currency, string(res.Method)})
	}
	cw.Flush()
	return cw.Error()
}

// loadPricing reads a pricing file laid over the defaults, or returns the
// defaults when path is empty; a bad file is a usage error.
func loadPricing(path string) (*pricing.Pricing, error) {
	if path == "" {
		return pricing.Default(), nil
	}
	p, err := pricing.Load(path)
	if err != nil {
		return nil, usageError{err}
	}
	return p, nil
}

// checkFormat accepts the output formats of recommend and chargeback.
func checkFormat(f string) error {
	if f != "table" && f != "json" && f != "csv" {
		return usageError{fmt.Errorf("--format %q: want table, json or csv", f)}
	}
	return nil
}

// openExisting opens an analytics database that must already exist.
func openExisting(ctx context.Context, path string) (*analytics.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, usageError{fmt.Errorf("database %s: %w (load logs with aiload ingest first)", path, err)}
	}
	return analytics.Open(ctx, path)
}
