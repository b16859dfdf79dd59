package analytics

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/aiload/aiload/pricing"
)

// MinutesPerMonth is the minutes in Azure's 730-hour billing month; monthly
// figures scale the observed range to it.
const MinutesPerMonth = pricing.HoursPerMonth * 60

// MinutesPerDay is the least data a PTU plan is stated without reservation:
// a monthly figure extrapolated from less is marked tentative.
const MinutesPerDay = 24 * 60

// maxPTUSteps caps the time steps a PTU plan simulates per model: one
// second per step up to this many seconds of data (3.5 days), coarser
// beyond (a month of data steps 9 s).
const maxPTUSteps = 300_000

// PTUPlanOptions shapes PTUPlan.
type PTUPlanOptions struct {
	Model string // only this model (as logged); "" = every model with PTU parameters
	// From and To bound the records used; zero = all.
	From, To time.Time
	// Billing prices the PTUs: hourly, monthly_reservation or
	// yearly_reservation. "" = the billing of the model's PTU deployment in
	// the pricing file, else hourly (how Azure bills a deployment no
	// reservation covers).
	Billing pricing.Billing
	// MaxSpill, when > 0, makes the recommendation the cheapest plan whose
	// spilled share of input-equivalent tokens is at most this; 0
	// recommends the cheapest plan.
	MaxSpill float64
	// MinPTU and Increment override the pricing file's (e.g. 50/50 for a
	// regional deployment); 0 keeps them.
	MinPTU, Increment int
	// MaxCandidates caps the PTU counts simulated besides 0 (the step
	// grows in multiples of the increment to stay under it); default 60.
	MaxCandidates int
}

// BillingCosts are one plan's monthly cost under each way of paying for
// the PTUs.
type BillingCosts struct {
	Hourly             float64 `json:"hourly"`
	MonthlyReservation float64 `json:"monthly_reservation"`
	YearlyReservation  float64 `json:"yearly_reservation"`
}

// Of returns the cost under b.
func (c BillingCosts) Of(b pricing.Billing) float64 {
	switch b {
	case pricing.MonthlyReservation:
		return c.MonthlyReservation
	case pricing.YearlyReservation:
		return c.YearlyReservation
	}
	return c.Hourly
}

// PTUCandidate is one candidate PTU count, simulated as the deployment
// admits requests: a leaky bucket of PTU × input TPM per PTU tokens that
// drains that many per minute; a request that does not fit spills whole to
// pay-as-you-go. 0 PTU is everything on pay-as-you-go.
type PTUCandidate struct {
	PTU         int   `json:"ptu"`
	CapacityTPM int64 `json:"capacity_tpm"` // PTU × input TPM per PTU
	// Served and Spilled are input-equivalent tokens over the range.
	Served          int64   `json:"served_tokens"`
	Spilled         int64   `json:"spilled_tokens"`
	SpilledRequests int64   `json:"spilled_requests"`
	PTUShare        float64 `json:"ptu_share"`   // Served / demand
	Utilization     float64 `json:"utilization"` // Served / (capacity × minutes)
	// Monthly costs scale the range to a 730-hour month under the plan's
	// billing: the PTUs, the spilled requests at their PAYG prices (input,
	// cached input, output), and the sum.
	MonthlyPTUCost   float64 `json:"monthly_ptu_cost"`
	MonthlySpillCost float64 `json:"monthly_spill_cost"`
	MonthlyCost      float64 `json:"monthly_cost"`
	// ByBilling is MonthlyCost under each billing.
	ByBilling BillingCosts `json:"monthly_cost_by_billing"`
}

// CalculatorEstimate is Azure's capacity-calculator sizing: peak calls per
// minute × one call shape.
//
//	normalized TPM = RPM × prompt × (1 − cache rate) + RPM × output × ratio
//	raw PTU        = normalized TPM / input TPM per PTU
//	PTU            = max(min, raw rounded up to the increment)
type CalculatorEstimate struct {
	PeakRPM       float64 `json:"peak_rpm"`
	PromptTokens  float64 `json:"prompt_tokens"`
	OutputTokens  float64 `json:"output_tokens"`
	CacheRate     float64 `json:"cache_rate"`
	NormalizedTPM float64 `json:"normalized_tpm"`
	RawPTU        float64 `json:"raw_ptu"`
	PTU           int     `json:"ptu"`
}

// PTUAlternative is the cheapest plan under one billing.
type PTUAlternative struct {
	Billing     pricing.Billing `json:"billing"`
	PTU         int             `json:"ptu"`
	MonthlyCost float64         `json:"monthly_cost"`
}

// ModelPTUPlan is the PTU plan of one model.
type ModelPTUPlan struct {
	Model          string  `json:"model"` // as priced
	InputTPMPerPTU float64 `json:"input_tpm_per_ptu"`
	OutputRatio    float64 `json:"output_ratio"`
	MinPTU         int     `json:"min_ptu"`
	Increment      int     `json:"increment"`
	// Billing prices the plans; BillingSource says why ("deployment
	// ptu-eastus", "--billing", or the hourly default).
	Billing       pricing.Billing `json:"billing"`
	BillingSource string          `json:"billing_source"`
	// Minutes is the observed range the monthly figures scale from;
	// StepSeconds the simulation's time step.
	Minutes     int64 `json:"minutes"`
	StepSeconds int64 `json:"step_seconds"`
	Requests    int64 `json:"requests"`
	Tokens      int64 `json:"tokens"` // input-equivalent demand over the range
	// Per-minute input-equivalent demand (zero-filled) and the busiest 60
	// seconds.
	P50           float64 `json:"p50_tpm"`
	P95           float64 `json:"p95_tpm"`
	P99           float64 `json:"p99_tpm"`
	Max           float64 `json:"max_tpm"`
	Mean          float64 `json:"mean_tpm"`
	PeakWindowTPM float64 `json:"peak_window_tpm"`
	// PAYGMonthlyCost is everything at PAYG prices: candidate 0.
	PAYGMonthlyCost float64        `json:"payg_monthly_cost"`
	Candidates      []PTUCandidate `json:"candidates"`
	// Cheapest and Recommended index Candidates (-1 when there are none);
	// Recommended is Cheapest unless MaxSpill is set, then the cheapest
	// plan that spills at most MaxSpill (-1 when none does). Premium is
	// Recommended's monthly cost above Cheapest's.
	Cheapest    int     `json:"cheapest"`
	Recommended int     `json:"recommended"`
	MaxSpill    float64 `json:"max_spill"`
	Premium     float64 `json:"premium"`
	// Alternatives are the cheapest plans under the other billings.
	Alternatives []PTUAlternative   `json:"alternatives"`
	Calculator   CalculatorEstimate `json:"calculator"`
	// Tentative is set when the monthly figures come from less than a day
	// of data; Evidence says how much data they come from.
	Tentative bool   `json:"tentative"`
	Evidence  string `json:"evidence"`
	// Verdict is the decision in words ("Stay on pay-as-you-go: …", "Buy
	// 40 PTU …"); Explanation adds the figures behind it.
	Verdict     string `json:"verdict"`
	Explanation string `json:"explanation"`
}

// PTUPlan simulates candidate PTU counts, from 0 (all pay-as-you-go) up,
// against each model's demand at the backends and prices them.
func PTUPlan(ctx context.Context, db *DB, prices *pricing.Pricing, opts PTUPlanOptions) ([]ModelPTUPlan, error) {
	if opts.MaxCandidates <= 0 {
		opts.MaxCandidates = 60
	}
	lo, hi, ok, err := ptuSpan(ctx, db, opts)
	if err != nil || !ok {
		return nil, err
	}
	step := max(1, (hi-lo+maxPTUSteps)/maxPTUSteps)
	series, err := ptuSteps(ctx, db, prices, opts, step)
	if err != nil {
		return nil, err
	}
	minutes := hi/60 - lo/60 + 1
	if !opts.From.IsZero() && !opts.To.IsZero() {
		minutes = int64(math.Ceil(opts.To.Sub(opts.From).Minutes()))
	}
	var out []ModelPTUPlan
	for _, name := range sortedKeys(series) {
		billing, source := planBilling(prices, name, opts.Billing)
		p := planModel(name, prices.Models[name], series[name], planInput{opts: opts, billing: billing,
			source: source, minutes: max(minutes, 1), step: step})
		out = append(out, p)
	}
	return out, nil
}

// planBilling is the billing a model's plans are priced under and why.
func planBilling(prices *pricing.Pricing, model string, given pricing.Billing) (pricing.Billing, string) {
	if given != "" {
		return given, "--billing"
	}
	for _, d := range prices.Deployments {
		if prices.Resolve(d.Model) == model {
			return d.Billing, "deployment " + d.Name
		}
	}
	return pricing.Hourly, "default: no PTU deployment of this model in the pricing"
}

// ptuSpan returns the first and last second of the forwarded requests (or
// the given range), and false when there are none.
func ptuSpan(ctx context.Context, db *DB, opts PTUPlanOptions) (lo, hi int64, ok bool, err error) {
	var a, b sql.NullInt64
	if err := db.db.QueryRowContext(ctx, query("ptu_span.sql"), opts.Model, nullTime(opts.From), nullTime(opts.To)).Scan(&a, &b); err != nil {
		return 0, 0, false, fmt.Errorf("ptu plan: %w", err)
	}
	if !a.Valid {
		return 0, 0, false, nil
	}
	lo, hi = a.Int64, b.Int64
	if !opts.From.IsZero() {
		lo = opts.From.Unix()
	}
	if !opts.To.IsZero() {
		hi = opts.To.Unix() - 1
	}
	return lo, max(lo, hi), true, nil
}

// stepUse is one time step of a model's demand at the backends.
type stepUse struct {
	step                              int64
	uncached, cached, output, request int64
}

// ptuSteps loads the demand per time step and merges logged model names
// that resolve to the same priced model with PTU parameters.
func ptuSteps(ctx context.Context, db *DB, prices *pricing.Pricing, opts PTUPlanOptions, step int64) (map[string][]stepUse, error) {
	rows, err := db.db.QueryContext(ctx, query("ptu_steps.sql"), opts.Model, nullTime(opts.From), nullTime(opts.To), step)
	if err != nil {
		return nil, fmt.Errorf("ptu plan: %w", err)
	}
	defer rows.Close()
	out := map[string][]stepUse{}
	for rows.Next() {
		var model string
		var u stepUse
		if err := rows.Scan(&model, &u.step, &u.uncached, &u.cached, &u.output, &u.request); err != nil {
			return nil, fmt.Errorf("ptu plan: %w", err)
		}
		name := prices.Resolve(model)
		if m, ok := prices.Models[name]; !ok || m.PTU == nil {
			continue
		}
		out[name] = append(out[name], u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ptu plan: %w", err)
	}
	for name, s := range out {
		out[name] = mergeSteps(s)
	}
	return out, nil
}

// mergeSteps sorts steps by time and adds up those of the same step (from
// logged names that price as one model).
func mergeSteps(s []stepUse) []stepUse {
	sort.SliceStable(s, func(i, j int) bool { return s[i].step < s[j].step })
	out := s[:0]
	for _, u := range s {
		if n := len(out); n > 0 && out[n-1].step == u.step {
			o := &out[n-1]
			o.uncached, o.cached, o.output, o.request = o.uncached+u.uncached, o.cached+u.cached, o.output+u.output, o.request+u.request
			continue
		}
		out = append(out, u)
	}
	return out
}

// CalculatorSize is Azure's PTU calculator: peak calls per minute, average
// prompt and output tokens per call and the cache hit rate, sized with the
// model's PTU parameters (see CalculatorEstimate).
func CalculatorSize(peakRPM, prompt, output, cacheRate float64, p pricing.PTU) CalculatorEstimate {
	e := CalculatorEstimate{PeakRPM: peakRPM, PromptTokens: prompt, OutputTokens: output, CacheRate: cacheRate}
	e.NormalizedTPM = peakRPM*prompt*(1-cacheRate) + peakRPM*output*p.OutputRatio
	if p.InputTPMPerPTU > 0 {
		e.RawPTU = e.NormalizedTPM / p.InputTPMPerPTU
	}
	e.PTU = max(p.MinPTU, roundUpInt(int(math.Ceil(e.RawPTU-1e-9)), max(p.Increment, 1)))
	return e
}

func roundUpInt(v, unit int) int {
	if v <= 0 {
		return 0
	}
	return (v + unit - 1) / unit * unit
}

// quantilesPadded is quantiles of xs together with zeros more zero values
// (the empty minutes of a zero-filled series), without materialising them.
func quantilesPadded(xs []float64, zeros int) (p50, p95, p99, mx, mean float64) {
	n := len(xs) + zeros
	if n == 0 {
		return
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	at := func(i int) float64 {
		if i < zeros {
			return 0
		}
		return s[i-zeros]
	}
	q := func(f float64) float64 {
		pos := f * float64(n-1)
		i := int(pos)
		if i+1 >= n {
			return at(n - 1)
		}
		return at(i) + (pos-float64(i))*(at(i+1)-at(i))
	}
	var sum float64
	for _, x := range s {
		sum += x
	}
	return q(0.5), q(0.95), q(0.99), at(n - 1), sum / float64(n)
}
