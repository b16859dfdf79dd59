package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/gateway/policy"
	"github.com/aiload/aiload/pricing"
	"github.com/aiload/aiload/reports/recommendation"
	"github.com/aiload/aiload/runner"
)

// recommendOptions are the flags of aiload recommend.
type recommendOptions struct {
	DB, By, Model, Format, Pricing, Billing, Tiers, Mode string
	TargetThrottle, MaxSpill                             string
	Caller, Period                                       string
	Estimate                                             bool
	Unit, MinRequests                                    int64
	PTUMin, PTUIncrement                                 int
	// Scenario is the scenario to rerun (--scenario); VerifySeeds the
	// reruns per search round, 0 to skip verification.
	Scenario                  string
	VerifySeeds, VerifyRounds int
	NoVerify                  bool
	// Emit is "apim" to write policy documents into Out.
	Emit, Out string
}

func newRecommendCmd(stdout io.Writer) *cobra.Command {
	var opts recommendOptions
	cmd := &cobra.Command{
		Use:   "recommend --db FILE [--target-throttle 1%]",
		Short: "Propose TPM limits per consumer, product tiers and a PTU plan from recorded demand",
		Long: `Recommend replays each consumer's recorded demand (first attempts, throttled
requests at the tokens they asked for) through the gateway's token limit at
candidate limits, at the gateway's own event times (apim mode with
estimation off charges an answer when it completes; estimation, streams and
strict mode reserve at arrival and settle at completion), with the callers'
retries in the loop: a refused request comes back as its caller would (the
persona's on_throttle and max_retries from the records' scenario, else
read from the records' attempts, else --caller, default retry_after:3). It
proposes the smallest limit whose replay refuses at most the target share of
first attempts (429 or 403), with an 80% interval (bootstrap over blocks of
the consumer's demand), the throttle curve, per-minute demand percentiles
and burstiness. A consumer with fewer than --min-requests first attempts
gets "not enough data" and keeps its current limit. Consumers are grouped into products (the
records' products, else --tiers by size). For every model with PTU
parameters in the pricing file it simulates candidate PTU counts from 0
(all pay-as-you-go) up, admitting the requests the gateway forwarded as a
provisioned deployment does (a leaky bucket of the PTUs' input-equivalent
tokens per minute; what does not fit spills to PAYG), and prices each
under the deployment's billing (the pricing file's ptu_deployments, else
hourly) with the reservations beside it. It recommends the cheapest plan,
or with --max-spill the cheapest that spills at most that share, showing
its premium. Monthly figures from less than a day of data are tentative.

When the records came from an aiload scenario (the run folder's
summary.json beside the database names it) or --scenario is given, the
limits are then verified: the scenario is rerun on the virtual clock with
the proposed limits and --verify-seeds other seeds, and each consumer's
limit is searched on the simulator until the share of its first attempts
refused (429 or 403) lands within ±0.5 percentage points of the target.
The table shows the replay's estimate beside what the reruns measured
(mean, min–max); where no limit can meet the target it says why.`,
		Example: `  aiload recommend --db aiload.duckdb
  aiload recommend --db aiload.duckdb --target-throttle 0.5% --by team --format json
  aiload recommend --db apim.duckdb --caller backoff:5 --period 2026-11-01..2026-11-07
  aiload recommend --db aiload.duckdb --pricing pricing.yaml --max-spill 5%
  aiload recommend --db aiload.duckdb --billing yearly_reservation --ptu-min 50 --ptu-increment 50
  aiload recommend --db runs/mixed-day-20260105T070000Z/aiload.duckdb --verify-seeds 5
  aiload recommend --db merged/aiload.duckdb --scenario scenarios/mixed-day.yaml
  aiload recommend --db aiload.duckdb --no-verify
  aiload recommend --db aiload.duckdb --emit apim --out policies/   # one llm-token-limit policy per product`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRecommend(cmd.Context(), opts, stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.DB, "db", "aiload.duckdb", "DuckDB file with ingested records")
	f.StringVar(&opts.TargetThrottle, "target-throttle", "1%", "largest share of requests a limit may throttle (1% or 0.01)")
	f.StringVar(&opts.Mode, "mode", "apim", "token limit replayed: apim (llm-token-limit, estimation off) or strict")
	f.BoolVar(&opts.Estimate, "estimate-prompt-tokens", false, "replay estimate-prompt-tokens on (prompt reserved at arrival)")
	f.StringVar(&opts.Caller, "caller", "", "callers the records do not describe: retry_after:N, backoff:N or fail (default retry_after:3)")
	f.StringVar(&opts.Period, "period", "", "only records in YYYY-MM, YYYY-MM-DD..YYYY-MM-DD or RFC3339..RFC3339 (default: all)")
	f.Int64Var(&opts.MinRequests, "min-requests", analytics.DefaultMinRequests, "fewest first attempts to size a limit on; fewer keep the current limit")
	f.StringVar(&opts.By, "by", "counter_key", "consumer: counter_key, subscription, product, team or model")
	f.StringVar(&opts.Model, "model", "", "only this model (as logged)")
	f.Int64Var(&opts.Unit, "unit", 1000, "granularity of proposed limits, tokens per minute")
	f.StringVar(&opts.Tiers, "tiers", "", "tier names when records carry no product (default Developer,Standard,Unlimited)")
	f.StringVar(&opts.Pricing, "pricing", "", "pricing file with PTU parameters and deployments (default: the records' scenario's pricing section, else built-in)")
	f.StringVar(&opts.Billing, "billing", "", "PTU price: hourly, monthly_reservation or yearly_reservation (default: the model's PTU deployment in the pricing, else hourly)")
	f.StringVar(&opts.MaxSpill, "max-spill", "", "recommend the cheapest PTU plan that spills at most this share (e.g. 5%; default: the cheapest plan)")
	f.IntVar(&opts.PTUMin, "ptu-min", 0, "minimum PTU per deployment (default: the model's, e.g. 15 global)")
	f.IntVar(&opts.PTUIncrement, "ptu-increment", 0, "PTU increment (default: the model's, e.g. 5 global, 50 regional)")
	f.StringVar(&opts.Format, "format", "table", "output: table, json or csv")
	f.StringVar(&opts.Scenario, "scenario", "", "scenario to rerun for verification (default: the one the run folder's summary.json names)")
	f.IntVar(&opts.VerifySeeds, "verify-seeds", 3, "reruns per verification round, each with its own seed; 0 skips verification")
	f.IntVar(&opts.VerifyRounds, "verify-rounds", 4, "most verification rounds; each reruns the scenario once per seed")
	f.BoolVar(&opts.NoVerify, "no-verify", false, "skip verification (same as --verify-seeds 0)")
	f.StringVar(&opts.Emit, "emit", "", "also write the products' limits: apim (an API Management policy document per product, into --out)")
	f.StringVar(&opts.Out, "out", "", "folder --emit writes into")
	return cmd
}

// recommendOutput is the JSON document aiload recommend prints.
type recommendOutput struct {
	Limits *analytics.Recommendation `json:"limits"`
	PTU    []analytics.ModelPTUPlan  `json:"ptu"`
	// Verification is what reruns of the scenario measured (absent when
	// not verified); VerifyNote says why a scenario was not rerun.
	Verification *runner.Verification `json:"verification,omitempty"`
	VerifyNote   string               `json:"verify_note,omitempty"`
}

func runRecommend(ctx context.Context, opts recommendOptions, stdout io.Writer) error {
	target, err := parseShare(opts.TargetThrottle)
	if err != nil {
		return usageError{fmt.Errorf("--target-throttle: %w", err)}
	}
	var spill float64
	if opts.MaxSpill != "" {
		if spill, err = parseShare(opts.MaxSpill); err != nil {
			return usageError{fmt.Errorf("--max-spill: %w", err)}
		}
	}
	if err := checkFormat(opts.Format); err != nil {
		return err
	}
	if opts.VerifySeeds < 0 {
		return usageError{fmt.Errorf("--verify-seeds %d: want 0 or more", opts.VerifySeeds)}
	}
	if opts.VerifyRounds < 1 {
		return usageError{fmt.Errorf("--verify-rounds %d: want 1 or more", opts.VerifyRounds)}
	}
	if opts.NoVerify {
		opts.VerifySeeds = 0
	}
	if (opts.Emit != "" && opts.Emit != "apim") || (opts.Emit != "") != (opts.Out != "") {
		return usageError{fmt.Errorf("--emit %q --out %q: want --emit apim with --out DIR, or neither", opts.Emit, opts.Out)}
	}
	by, err := analytics.ParseDimension(opts.By)
	if err != nil {
		return usageError{fmt.Errorf("--by: %w", err)}
	}
	billing, err := pricing.ParseBilling(opts.Billing)
	if err != nil {
		return usageError{fmt.Errorf("--billing: %w", err)}
	}
	prices, err := loadPricing(opts.Pricing)
	if err != nil {
		return err
	}
	db, err := openExisting(ctx, opts.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	if opts.Pricing == "" { // a run's own scenario prices its PTU deployments
		if p, _, err := runner.RecordsPricing(ctx, db, opts.DB, opts.Scenario); err != nil {
			return err
		} else if p != nil {
			prices = p
		}
	}
	mode, err := policy.ParseMode(opts.Mode)
	if err != nil {
		return usageError{fmt.Errorf("--mode: %w", err)}
	}
	ro := analytics.RecommendOptions{TargetThrottle: target, By: by, Model: opts.Model, Unit: opts.Unit, Mode: mode,
		EstimatePromptTokens: opts.Estimate, MinRequests: opts.MinRequests}
	if opts.MinRequests <= 0 {
		ro.MinRequests = -1 // no minimum
	}
	if opts.Caller != "" {
		if ro.Caller, err = analytics.ParseCaller(opts.Caller); err != nil {
			return usageError{fmt.Errorf("--caller: %w", err)}
		}
	}
	if ro.Callers, err = runner.RecordsCallers(ctx, db, opts.DB, opts.Scenario); err != nil {
		return err
	}
	if opts.Period != "" {
		p, err := analytics.ParsePeriod(opts.Period)
		if err != nil {
			return usageError{fmt.Errorf("--period: %w", err)}
		}
		ro.From, ro.To = p.Start, p.End
	}
	if opts.Tiers != "" {
		ro.TierNames = strings.Split(opts.Tiers, ",")
	}
	var out recommendOutput
	if out.Limits, err = analytics.Recommend(ctx, db, ro); err != nil {
		return err
	}
	out.PTU, err = analytics.PTUPlan(ctx, db, prices, analytics.PTUPlanOptions{Model: opts.Model, From: ro.From, To: ro.To, Billing: billing,
		MaxSpill: spill, MinPTU: opts.PTUMin, Increment: opts.PTUIncrement})
	if err != nil {
		return err
	}
	if opts.VerifySeeds > 0 {
		out.Verification, out.VerifyNote, err = runner.CheckRecommendation(ctx, db, out.Limits,
			runner.CheckOptions{DBPath: opts.DB, ScenarioFile: opts.Scenario, Seeds: opts.VerifySeeds, Unit: opts.Unit, Rounds: opts.VerifyRounds})
		if err != nil {
			return err
		}
	}
	if opts.Emit == "apim" {
		msgs := stdout
		if opts.Format != "table" { // keep JSON and CSV output whole
			msgs = io.Discard
		}
		if err := emitAPIM(msgs, opts.Out, out.Limits); err != nil {
			return err
		}
	}
	switch opts.Format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "csv":
		return recommendation.WriteCSV(stdout, out.Limits)
	}
	return recommendation.WriteTable(stdout, recommendation.Output{Limits: out.Limits, PTU: out.PTU,
		Verification: out.Verification.Report(), VerifyNote: out.VerifyNote, Currency: prices.Currency})
}

// parseShare reads "1%", "0.5%" or "0.01".
func parseShare(s string) (float64, error) {
	v, pctSign := strings.CutSuffix(strings.TrimSpace(s), "%")
	f, err := strconv.ParseFloat(v, 64)
	if pctSign {
		f /= 100
	}
	if err != nil || f <= 0 || f >= 1 {
		return 0, fmt.Errorf("%q: want a share such as 1%% or 0.01", s)
	}
	return f, nil
}
