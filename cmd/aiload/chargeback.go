package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/pricing"
	"github.com/aiload/aiload/reports"
	"github.com/aiload/aiload/reports/assemble"
)

// chargebackOptions are the flags of aiload chargeback.
type chargebackOptions struct {
	DB, Pricing, Period, Method, Shares, IdleTo, Format, By string
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

--by splits the bill by another column than the team: subscription, product,
user, a key of the subscriptions' metadata (the gateway records it as the
dimension sub.<key>, e.g. a cost centre) or dims.<name> (a custom dimension
of llm-emit-token-metric); --shares and --idle-to then name its values.

Money is exact to the cent: a PTU charge's lines add up to the charge, each
team total is within a cent of its exact cost, and the team totals add up to
the bill. --format csv writes the chargeback CSV of aiload report (the same
bytes); --format json the bill as computed, exact amounts beside the cents.`,
		Example: `  aiload chargeback --db aiload.duckdb --period 2026-11 --pricing pricing.yaml
  aiload chargeback --db aiload.duckdb --period 2026-11 --method fixed --shares web=60,data=40
  aiload chargeback --db aiload.duckdb --period 2026-11-01..2026-11-07 --format csv > week.csv
  aiload chargeback --db aiload.duckdb --period 2026-11 --by cost_center   # subscriptions' metadata: {cost_center: cc-42}`,
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
	f.StringVar(&opts.By, "by", "team", "split by: team, subscription, product, user, a subscription metadata key or dims.<name>")
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
	method, err := analytics.ParseMethod(opts.Method)
	if err != nil {
		return usageError{fmt.Errorf("--method: %w", err)}
	}
	alloc := analytics.Allocation{Method: method, IdleTo: opts.IdleTo}
	if alloc.By, err = analytics.ParseGrouping(opts.By); err != nil {
		return usageError{fmt.Errorf("--by: %w", err)}
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
		return groupingError(err)
	}
	if opts.Format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	r, err := assemble.FromChargeback(res, prices, pricingSource(opts.Pricing))
	if err != nil {
		return err
	}
	return writeOut("-", stdout, func(w io.Writer) error {
		if opts.Format == "csv" {
			return reports.WriteCSV(w, *r)
		}
		return reports.WriteTable(w, *r)
	})
}

// pricingSource says where prices came from, for a report's methodology.
func pricingSource(path string) string {
	if path == "" {
		return "built-in default prices"
	}
	return path + " laid over the built-in default prices"
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

// groupingError makes a --by that names a column no record carries a usage
// error.
func groupingError(err error) error {
	if errors.Is(err, analytics.ErrNoSuchGrouping) {
		return usageError{fmt.Errorf("--by: %w", err)}
	}
	return err
}
