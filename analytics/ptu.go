package analytics

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/aiload/aiload/pricing"
)

// MinutesPerMonth is the minutes in Azure's 730-hour billing month; monthly
// figures scale the observed range to it.
const MinutesPerMonth = pricing.HoursPerMonth * 60

// PTUPlanOptions shapes PTUPlan.
type PTUPlanOptions struct {
	Model string // only this model (as logged); "" = every model with PTU parameters
	// From and To bound the records used; zero = all.
	From, To time.Time
	// Billing prices the PTUs: hourly, monthly_reservation (default) or
	// yearly_reservation.
	Billing pricing.Billing
	// MaxSpill is the spill target: the smallest plan whose spilled share of
	// input-equivalent tokens is at most this; default 0.05.
	MaxSpill float64
	// MinPTU and Increment override the pricing file's (e.g. 50/50 for a
	// regional deployment); 0 keeps them.
	MinPTU, Increment int
	// MaxCandidates caps the plans listed (the step grows in multiples of
	// the increment to stay under it); default 60.
	MaxCandidates int
}

// PTUCandidate is one candidate PTU count, simulated minute by minute:
// each minute's input-equivalent demand is served up to PTU × input TPM per
// PTU and the rest spills to pay-as-you-go.
type PTUCandidate struct {
	PTU         int
	CapacityTPM int64 // PTU × input TPM per PTU
	// Served and Spilled are input-equivalent tokens over the range.
	Served, Spilled int64
	PTUShare        float64 // Served / demand
	Utilization     float64 // Served / (capacity × minutes)
	// Monthly costs scale the range to a 730-hour month. Spill is priced at
	// the model's PAYG input price per input-equivalent token (the output
	// ratio equals the PAYG price ratio for the models Azure lists).
	MonthlyPTUCost, MonthlySpillCost, MonthlyCost float64
}

// CalculatorEstimate is Azure's capacity-calculator sizing: peak calls per
// minute × one call shape.
//
//	normalized TPM = RPM × prompt × (1 − cache rate) + RPM × output × ratio
//	raw PTU        = normalized TPM / input TPM per PTU
//	PTU            = max(min, raw rounded up to the increment)
type CalculatorEstimate struct {
	PeakRPM, PromptTokens, OutputTokens, CacheRate float64
	NormalizedTPM, RawPTU                          float64
	PTU                                            int
}

// ModelPTUPlan is the PTU plan of one model.
type ModelPTUPlan struct {
	Model                        string // as priced
	InputTPMPerPTU, OutputRatio  float64
	MinPTU, Increment            int
	Billing                      pricing.Billing
	Minutes                      int64
	Requests                     int64
	Tokens                       int64   // input-equivalent demand over the range
	P50, P95, P99, Max, Mean     float64 // input-equivalent tokens per minute
	PAYGMonthlyCost              float64 // everything at PAYG, for comparison
	Candidates                   []PTUCandidate
	Cheapest, SmallestUnderSpill int // indexes into Candidates; -1 when none
	MaxSpill                     float64
	Calculator                   CalculatorEstimate
	Explanation                  string
}

// PTUPlan simulates candidate PTU counts against each model's per-minute
// input-equivalent demand.
func PTUPlan(ctx context.Context, db *DB, prices *pricing.Pricing, opts PTUPlanOptions) ([]ModelPTUPlan, error) {
	if opts.Billing == "" {
		opts.Billing = pricing.MonthlyReservation
	}
	if opts.MaxSpill <= 0 {
		opts.MaxSpill = 0.05
	}
	if opts.MaxCandidates <= 0 {
		opts.MaxCandidates = 60
	}
	series, err := ptuMinutes(ctx, db, prices, opts)
	if err != nil {
		return nil, err
	}
	var out []ModelPTUPlan
	for _, name := range sortedKeys(series) {
		out = append(out, planModel(name, prices.Models[name], series[name], opts))
	}
	return out, nil
}

// minuteUse is one minute of a model's demand.
type minuteUse struct{ uncached, cached, output, requests int64 }

// ptuMinutes loads per-minute demand and merges logged model names that
// resolve to the same priced model with PTU parameters.
func ptuMinutes(ctx context.Context, db *DB, prices *pricing.Pricing, opts PTUPlanOptions) (map[string][]minuteUse, error) {
	rows, err := db.db.QueryContext(ctx, query("ptu_minutes.sql"), opts.Model, nullTime(opts.From), nullTime(opts.To))
	if err != nil {
		return nil, fmt.Errorf("ptu plan: %w", err)
	}
	defer rows.Close()
	out := map[string][]minuteUse{}
	var prevModel string
	var i int
	for rows.Next() {
		var model string
		var minute int64
		var u minuteUse
		if err := rows.Scan(&model, &minute, &u.uncached, &u.cached, &u.output, &u.requests); err != nil {
			return nil, fmt.Errorf("ptu plan: %w", err)
		}
		if model != prevModel {
			prevModel, i = model, 0
		}
		name := prices.Resolve(model)
		if m, ok := prices.Models[name]; !ok || m.PTU == nil {
			continue
		}
		s := out[name]
		if i == len(s) {
			s = append(s, minuteUse{})
		}
		s[i].uncached += u.uncached
		s[i].cached += u.cached
		s[i].output += u.output
		s[i].requests += u.requests
		out[name] = s
		i++
	}
	return out, rows.Err()
}

func planModel(name string, m pricing.Model, minutes []minuteUse, opts PTUPlanOptions) ModelPTUPlan {
	p := *m.PTU
	if opts.MinPTU > 0 {
		p.MinPTU = opts.MinPTU
	}
	if opts.Increment > 0 {
		p.Increment = opts.Increment
	}
	p.Increment = max(p.Increment, 1)
	plan := ModelPTUPlan{Model: name, InputTPMPerPTU: p.InputTPMPerPTU, OutputRatio: p.OutputRatio,
		MinPTU: p.MinPTU, Increment: p.Increment, Billing: opts.Billing, Minutes: int64(len(minutes)),
		MaxSpill: opts.MaxSpill, Cheapest: -1, SmallestUnderSpill: -1}
	demand := make([]float64, len(minutes))
	var peakRPM, prompt, cached, output int64
	for i, u := range minutes {
		demand[i] = float64(u.uncached) + float64(u.output)*p.OutputRatio
		plan.Tokens += int64(math.Round(demand[i]))
		plan.Requests += u.requests
		peakRPM = max(peakRPM, u.requests)
		prompt += u.uncached + u.cached
		cached += u.cached
		output += u.output
	}
	plan.P50, plan.P95, plan.P99, plan.Max, plan.Mean = quantiles(demand)
	scale := float64(MinutesPerMonth) / float64(max(plan.Minutes, 1))
	plan.PAYGMonthlyCost = float64(plan.Tokens) * scale * m.Input / 1e6
	plan.Candidates = candidates(demand, p, m, opts, scale)
	plan.pick()
	if plan.Requests > 0 {
		n := float64(plan.Requests)
		plan.Calculator = CalculatorSize(float64(peakRPM), float64(prompt)/n, float64(output)/n,
			float64(cached)/math.Max(float64(prompt), 1), p)
	}
	plan.Explanation = plan.explain()
	return plan
}

// candidates simulates PTU counts from the minimum up to the count that
// serves the peak minute, stepping by the increment (or a multiple of it).
func candidates(demand []float64, p pricing.PTU, m pricing.Model, opts PTUPlanOptions, scale float64) []PTUCandidate {
	lo := max(p.MinPTU, p.Increment)
	peak := 0.0
	for _, d := range demand {
		peak = math.Max(peak, d)
	}
	hi := max(lo, roundUpInt(int(math.Ceil(peak/p.InputTPMPerPTU)), p.Increment))
	step := p.Increment
	for (hi-lo)/step+1 > opts.MaxCandidates {
		step += p.Increment
	}
	var out []PTUCandidate
	for n := lo; ; n += step {
		n = min(n, hi)
		out = append(out, simulate(demand, n, p, m, opts.Billing, scale))
		if n >= hi {
			break
		}
	}
	return out
}

func simulate(demand []float64, n int, p pricing.PTU, m pricing.Model, billing pricing.Billing, scale float64) PTUCandidate {
	c := PTUCandidate{PTU: n, CapacityTPM: int64(float64(n) * p.InputTPMPerPTU)}
	capacity := float64(c.CapacityTPM)
	var served, spilled float64
	for _, d := range demand {
		s := math.Min(d, capacity)
		served += s
		spilled += d - s
	}
	c.Served, c.Spilled = int64(math.Round(served)), int64(math.Round(spilled))
	c.PTUShare = 1 // nothing demanded, nothing spilled
	if c.Served+c.Spilled > 0 {
		c.PTUShare = share(c.Served, c.Served+c.Spilled)
	}
	if len(demand) > 0 && capacity > 0 {
		c.Utilization = served / (capacity * float64(len(demand)))
	}
	c.MonthlyPTUCost = float64(n) * p.MonthlyPrice(billing)
	c.MonthlySpillCost = spilled * scale * m.Input / 1e6
	c.MonthlyCost = c.MonthlyPTUCost + c.MonthlySpillCost
	return c
}

func (plan *ModelPTUPlan) pick() {
	for i, c := range plan.Candidates {
		if plan.Cheapest < 0 || c.MonthlyCost < plan.Candidates[plan.Cheapest].MonthlyCost {
			plan.Cheapest = i
		}
		if plan.SmallestUnderSpill < 0 && 1-c.PTUShare <= plan.MaxSpill {
			plan.SmallestUnderSpill = i
		}
	}
}

func (plan *ModelPTUPlan) explain() string {
	if plan.Cheapest < 0 {
		return "no demand"
	}
	c := plan.Candidates[plan.Cheapest]
	s := fmt.Sprintf("p99 minute %s input-equivalent tokens; cheapest: %d PTU at %.0f/month (%s on PTU, %s utilized) vs %.0f all PAYG",
		kTokens(plan.P99), c.PTU, c.MonthlyCost, pct(c.PTUShare), pct(c.Utilization), plan.PAYGMonthlyCost)
	if plan.SmallestUnderSpill >= 0 {
		u := plan.Candidates[plan.SmallestUnderSpill]
		s += fmt.Sprintf("; spill ≤ %s needs %d PTU (%.0f/month)", pct(plan.MaxSpill), u.PTU, u.MonthlyCost)
	}
	return s + fmt.Sprintf("; calculator (peak %.0f RPM): %d PTU", plan.Calculator.PeakRPM, plan.Calculator.PTU)
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

// quantiles returns p50, p95, p99 (linear interpolation, as DuckDB's
// quantile_cont), max and mean of xs.
func quantiles(xs []float64) (p50, p95, p99, mx, mean float64) {
	return quantilesPadded(xs, 0)
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
