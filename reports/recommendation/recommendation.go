// Package recommendation renders the advice of aiload recommend: the TPM
// limit per consumer with the figures behind it, what reruns on the virtual
// clock measured, the product tiers and each model's PTU plan, as a table
// for a terminal and as CSV. The advice itself is computed in analytics (and
// verified in runner); this package only lays it out.
package recommendation

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aiload/aiload/analytics"
)

// Output is what aiload recommend shows.
type Output struct {
	Limits *analytics.Recommendation
	PTU    []analytics.ModelPTUPlan
	// Verification is what reruns of the scenario measured; nil when the
	// limits were not verified, and VerifyNote then says why.
	Verification *Verification
	VerifyNote   string
	// Currency is the PTU plans' currency (ISO 4217).
	Currency string
}

// Verification is what reruns of a scenario on the virtual clock measured
// for the recommended limits.
type Verification struct {
	Seeds []uint64
	// Target is the largest share of first attempts refused; Tolerance how
	// far the measured mean may be from it.
	Target, Tolerance float64
	Rounds            int           // search rounds run
	SimulatedDuration time.Duration // each rerun's length of load
	Consumers         []VerifiedConsumer
}

// VerifiedConsumer is one consumer's verified limit.
type VerifiedConsumer struct {
	Key string
	// RecommendedTPM is the limit the reruns settled on; 0 when the
	// consumer could not be verified (Note says why).
	RecommendedTPM int64
	// EstimateTPM and EstimateShare are the replay's limit and the share of
	// first attempts it estimated refused there.
	EstimateTPM   int64
	EstimateShare float64
	// Mean, Min and Max are the shares of first attempts refused measured
	// over the reruns at RecommendedTPM; Met is true when Mean is within
	// the tolerance of the target.
	Mean, Min, Max float64
	Met            bool
	// FirstPerRun and RetriesPerRun are the first attempts and retries
	// per rerun (mean, rounded down).
	FirstPerRun, RetriesPerRun int64
	Note                       string
}

// WriteTable writes the advice as aiload recommend prints it: the limit per
// consumer with the figures behind it, each consumer's explanation and the
// callers replayed, the verification (or why there was none), the tiers and
// each model's PTU plan. Amounts of the PTU plans are in o.Currency.
func WriteTable(w io.Writer, o Output) error {
	r := o.Limits
	minutes := "minutes"
	if r.Minutes == 1 {
		minutes = "minute"
	}
	rule := string(r.Mode)
	if r.EstimatePromptTokens {
		rule += ", prompt estimated"
	}
	fmt.Fprintf(w, "TPM limits per %s, %s token limit (target: at most %.3g%% of first attempts refused; %d %s of data, %s to %s)\n\n",
		r.By, rule, 100*r.TargetThrottle, r.Minutes, minutes, r.From.Format(time.RFC3339), r.To.Format(time.RFC3339))
	if len(r.Consumers) == 0 {
		fmt.Fprintln(w, "no demand: the database holds no requests that reached a token limit")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	recommendedCol := "recommended"
	if o.Verification != nil { // the limits to set are the verified ones, printed below
		recommendedCol = "replay estimate"
	}
	fmt.Fprintf(tw, "consumer\tteam\trequests\tp50\tp95\tp99\tmax/min\tpeak 60s\tburst\tnow\t%s\t80%% interval\trefused 1st\trefused tok\tretries\tgave up\t\n", recommendedCol)
	for _, c := range r.Consumers {
		recommended, interval := strconv.FormatInt(c.RecommendedTPM, 10), "-"
		if c.Status == analytics.StatusNotEnoughData {
			recommended = "not enough data"
		}
		if c.LowTPM > 0 {
			interval = fmt.Sprintf("%d–%d", c.LowTPM, c.HighTPM)
		}
		a := c.AtRecommended
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%d\t%.1f\t%d\t%s\t%s\t%.2f%%\t%.2f%%\t%d\t%.2f%%\t\n", c.Key, c.Team, c.Requests,
			c.P50, c.P95, c.P99, c.Max, c.PeakWindowTPM, c.Burstiness, c.CurrentLimitTPM, recommended, interval,
			100*a.RequestShare(), 100*a.TokenShare(), a.Retries, 100*a.GaveUpShare())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, c := range r.Consumers {
		fmt.Fprintf(w, "  %s: %s\n", c.Key, c.Explanation)
		if len(c.Callers) > 0 {
			fmt.Fprintf(w, "    callers replayed: %s\n", strings.Join(c.Callers, "; "))
		}
	}
	if err := verificationTable(w, o.VerifyNote, o.Verification); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nTiers (%s):\n", r.TierSource)
	if o.Verification != nil {
		fmt.Fprintln(w, "  (a tier's TPM is the largest verified limit among its consumers; the replay's estimate where none was verified)")
	}
	for _, t := range r.Tiers {
		fmt.Fprintf(w, "  %s: %d TPM, monthly quota %d tokens per consumer — %s\n", t.Name, t.TPM, t.MonthlyQuota, t.Explanation)
		if t.QuotaNote != "" {
			fmt.Fprintf(w, "    (monthly quota %s)\n", t.QuotaNote)
		}
	}
	for _, p := range o.PTU {
		if err := ptuTable(w, p, o.Currency); err != nil {
			return err
		}
	}
	return nil
}

// ptuTable prints one model's PTU plan: the verdict, the candidates with
// their monthly cost under each billing, and the figures behind it.
func ptuTable(w io.Writer, p analytics.ModelPTUPlan, currency string) error {
	fmt.Fprintf(w, "\nPTU plan %s (%.0f input TPM/PTU, output ratio %g, min %d, increment %d; priced %s (%s), %s)\n",
		p.Model, p.InputTPMPerPTU, p.OutputRatio, p.MinPTU, p.Increment, p.Billing, p.BillingSource, currency)
	fmt.Fprintf(w, "  %s\n", p.Verdict)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "PTU\ton PTU\tspilled req\tutilization\tPTU/month\tspill/month\ttotal/month\thourly\tmonthly res.\tyearly res.\t\t")
	for i, c := range p.Candidates {
		var marks []string
		if i == p.Recommended {
			marks = append(marks, "recommended")
		}
		if i == p.Cheapest {
			marks = append(marks, "cheapest")
		}
		fmt.Fprintf(tw, "%d\t%.2f%%\t%d\t%.1f%%\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%.0f\t%s\t\n", c.PTU, 100*c.PTUShare, c.SpilledRequests,
			100*c.Utilization, c.MonthlyPTUCost, c.MonthlySpillCost, c.MonthlyCost,
			c.ByBilling.Hourly, c.ByBilling.MonthlyReservation, c.ByBilling.YearlyReservation, strings.Join(marks, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "  all PAYG: %.0f/month; calculator (peak %.0f RPM × %.0f in / %.0f out, cache %.0f%%): %.2f raw → %d PTU\n",
		p.PAYGMonthlyCost, p.Calculator.PeakRPM, p.Calculator.PromptTokens, p.Calculator.OutputTokens,
		100*p.Calculator.CacheRate, p.Calculator.RawPTU, p.Calculator.PTU)
	fmt.Fprintf(w, "  %s\n", strings.TrimPrefix(p.Explanation, p.Verdict+" "))
	return nil
}

// CSVColumns are the columns of WriteCSV, in order.
var CSVColumns = []string{"consumer", "team", "product", "requests", "tokens", "p50_tpm", "p95_tpm", "p99_tpm", "max_tpm",
	"peak_window_tpm", "burstiness", "current_limit_tpm", "status", "recommended_tpm", "low_tpm", "high_tpm",
	"throttled_requests_share", "throttled_tokens_share", "retries", "gave_up_share", "explanation",
	"estimate_tpm", "verified_tpm", "measured_mean_share", "measured_min_share", "measured_max_share", "verification_note"}

// WriteCSV writes one row per consumer: its demand percentiles, the limit
// to set (recommended_tpm: the verified one when reruns measured it, else
// the replay's estimate, estimate_tpm), the replay's interval and refusals
// there, and what the reruns measured. Shares are fractions (0.01 = 1 %).
func WriteCSV(w io.Writer, r *analytics.Recommendation) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(CSVColumns)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for i := range r.Consumers {
		c := &r.Consumers[i]
		row := []string{c.Key, c.Team, c.Product, strconv.FormatInt(c.Requests, 10), strconv.FormatInt(c.Tokens, 10),
			f(c.P50), f(c.P95), f(c.P99), f(c.Max), strconv.FormatInt(c.PeakWindowTPM, 10), f(c.Burstiness),
			strconv.FormatInt(c.CurrentLimitTPM, 10), c.Status, strconv.FormatInt(c.LimitTPM(), 10),
			strconv.FormatInt(c.LowTPM, 10), strconv.FormatInt(c.HighTPM, 10),
			f(c.AtRecommended.RequestShare()), f(c.AtRecommended.TokenShare()),
			strconv.FormatInt(c.AtRecommended.Retries, 10), f(c.AtRecommended.GaveUpShare()), c.Explanation}
		v := c.Verified
		if v == nil {
			v = &analytics.VerifiedLimit{}
		}
		row = append(row, strconv.FormatInt(c.RecommendedTPM, 10), strconv.FormatInt(v.TPM, 10), f(v.Mean), f(v.Min), f(v.Max), v.Note)
		_ = cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

// verificationTable prints what the reruns measured per consumer, or why
// there were none.
func verificationTable(w io.Writer, note string, v *Verification) error {
	if note != "" {
		fmt.Fprintf(w, "\n%s\n", note)
	}
	if v == nil {
		return nil
	}
	seeds := make([]string, len(v.Seeds))
	for i, s := range v.Seeds {
		seeds[i] = strconv.FormatUint(s, 10)
	}
	fmt.Fprintf(w, "\nVerified on the virtual clock: %d rounds of %d reruns of %v (seeds %s); share of first attempts refused (429/403), target %.3g%% ± %.2g pp\n\n",
		v.Rounds, len(v.Seeds), v.SimulatedDuration, strings.Join(seeds, ", "), 100*v.Target, 100*v.Tolerance)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "consumer\trecommended\ttarget\treplay estimate\tmeasured\tmin–max\tfirst attempts/run\tretries/run\tmet\t")
	for _, c := range v.Consumers {
		if c.RecommendedTPM == 0 {
			fmt.Fprintf(tw, "%s\t-\t%.2f%%\t%.2f%% at %d\t-\t-\t-\t-\tno\t\n", c.Key, 100*v.Target, 100*c.EstimateShare, c.EstimateTPM)
			continue
		}
		met := "yes"
		if !c.Met {
			met = "no"
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f%%\t%.2f%% at %d\t%.2f%%\t%.2f–%.2f%%\t%d\t%d\t%s\t\n", c.Key, c.RecommendedTPM, 100*v.Target,
			100*c.EstimateShare, c.EstimateTPM, 100*c.Mean, 100*c.Min, 100*c.Max, c.FirstPerRun, c.RetriesPerRun, met)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range v.Consumers {
		if c.Note != "" {
			fmt.Fprintf(w, "  %s: %s\n", c.Key, c.Note)
		}
	}
	return nil
}
