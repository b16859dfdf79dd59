package analytics

import (
	"fmt"
	"math"
	"strings"

	"github.com/aiload/aiload/pricing"
)

// planInput is what planModel needs besides the model and its demand.
type planInput struct {
	opts    PTUPlanOptions
	billing pricing.Billing
	source  string
	minutes int64 // the observed range
	step    int64 // seconds per time step
}

// demandStep is one time step of demand as the simulation sees it.
type demandStep struct {
	at       float64 // the step's start, Unix seconds
	requests int64
	weight   float64 // input-equivalent tokens: uncached + output × ratio
	cost     float64 // the requests' PAYG price
}

func planModel(name string, m pricing.Model, use []stepUse, in planInput) ModelPTUPlan {
	p := *m.PTU
	if in.opts.MinPTU > 0 {
		p.MinPTU = in.opts.MinPTU
	}
	if in.opts.Increment > 0 {
		p.Increment = in.opts.Increment
	}
	p.Increment = max(p.Increment, 1)
	plan := ModelPTUPlan{Model: name, InputTPMPerPTU: p.InputTPMPerPTU, OutputRatio: p.OutputRatio,
		MinPTU: p.MinPTU, Increment: p.Increment, Billing: in.billing, BillingSource: in.source,
		Minutes: in.minutes, StepSeconds: in.step, MaxSpill: in.opts.MaxSpill, Cheapest: -1, Recommended: -1}
	steps := make([]demandStep, len(use))
	perMinute := map[int64]float64{}
	rpm := map[int64]int64{}
	var prompt, cached, output, totalCost float64
	for i, u := range use {
		at := u.step * in.step
		s := demandStep{at: float64(at), requests: u.request,
			weight: float64(u.uncached) + float64(u.output)*p.OutputRatio,
			cost:   (float64(u.uncached)*m.Input + float64(u.cached)*m.CachedPrice() + float64(u.output)*m.Output) / 1e6}
		steps[i] = s
		perMinute[at/60] += s.weight
		rpm[at/60] += u.request
		plan.Requests += u.request
		plan.Tokens += int64(math.Round(s.weight))
		prompt += float64(u.uncached + u.cached)
		cached += float64(u.cached)
		output += float64(u.output)
		totalCost += s.cost
	}
	mins := make([]float64, 0, len(perMinute))
	for _, v := range perMinute {
		mins = append(mins, v)
	}
	plan.P50, plan.P95, plan.P99, plan.Max, plan.Mean = quantilesPadded(mins, max(int(in.minutes)-len(mins), 0))
	plan.PeakWindowTPM = busiest60s(steps)
	scale := float64(MinutesPerMonth) / float64(in.minutes)
	plan.PAYGMonthlyCost = totalCost * scale
	plan.Candidates = candidates(steps, p, in, scale, plan.PeakWindowTPM)
	plan.pick()
	plan.alternatives()
	if plan.Requests > 0 {
		var peakRPM int64
		for _, n := range rpm {
			peakRPM = max(peakRPM, n)
		}
		n := float64(plan.Requests)
		plan.Calculator = CalculatorSize(float64(peakRPM), prompt/n, output/n, cached/math.Max(prompt, 1), p)
	}
	plan.Tentative = in.minutes < MinutesPerDay
	plan.Evidence = evidence(in.minutes)
	plan.Verdict, plan.Explanation = plan.explain()
	return plan
}

// busiest60s is the largest input-equivalent demand in any 60 seconds
// (of steps starting within them).
func busiest60s(steps []demandStep) float64 {
	var peak, sum float64
	i := 0
	for _, s := range steps {
		sum += s.weight
		for steps[i].at <= s.at-60 {
			sum -= steps[i].weight
			i++
		}
		peak = math.Max(peak, sum)
	}
	return peak
}

// maxPTUWork bounds the time steps × candidates a plan simulates per model.
const maxPTUWork = 6_000_000

// candidates simulates 0 PTU, then the minimum up to the count whose
// capacity covers the busiest 60 seconds, stepping by the increment (or a
// multiple of it).
func candidates(steps []demandStep, p pricing.PTU, in planInput, scale, peak float64) []PTUCandidate {
	out := []PTUCandidate{simulate(steps, 0, p, in, scale)}
	lo := max(p.MinPTU, p.Increment)
	hi := max(lo, roundUpInt(int(math.Ceil(peak/p.InputTPMPerPTU)), p.Increment))
	inc := p.Increment
	// at most maxPTUWork step simulations per model (a week of data at 1 s
	// steps gets 30 candidates, a day 60)
	most := max(min(in.opts.MaxCandidates, maxPTUWork/max(len(steps), 1)), 10)
	for (hi-lo)/inc+1 > most {
		inc += p.Increment
	}
	for n := lo; ; n += inc {
		n = min(n, hi)
		out = append(out, simulate(steps, n, p, in, scale))
		if n >= hi {
			break
		}
	}
	return out
}

func simulate(steps []demandStep, n int, p pricing.PTU, in planInput, scale float64) PTUCandidate {
	c := PTUCandidate{PTU: n, CapacityTPM: int64(float64(n) * p.InputTPMPerPTU)}
	capacity := float64(c.CapacityTPM)
	b := bucket{capacity: capacity, rate: capacity / 60, last: math.Inf(-1)}
	var served, spilled, spillCost float64
	for _, s := range steps {
		ok := s.requests
		if capacity > 0 {
			ok = s.requests - b.admit(s, float64(in.step))
		}
		f := float64(ok) / float64(max(s.requests, 1))
		c.SpilledRequests += ok
		spilled += f * s.weight
		served += (1 - f) * s.weight
		spillCost += f * s.cost
	}
	c.Served, c.Spilled = int64(math.Round(served)), int64(math.Round(spilled))
	c.PTUShare = 1 // nothing demanded, nothing spilled
	if c.Served+c.Spilled > 0 {
		c.PTUShare = share(c.Served, c.Served+c.Spilled)
	}
	if capacity > 0 {
		// a full bucket serves a burst on top of a minute's capacity, which
		// can lift a short range above 100%
		c.Utilization = math.Min(1, served/(capacity*float64(in.minutes)))
	}
	spillMonth := spillCost * scale
	c.ByBilling = BillingCosts{Hourly: float64(n)*p.MonthlyPrice(pricing.Hourly) + spillMonth,
		MonthlyReservation: float64(n)*p.MonthlyPrice(pricing.MonthlyReservation) + spillMonth,
		YearlyReservation:  float64(n)*p.MonthlyPrice(pricing.YearlyReservation) + spillMonth}
	c.MonthlyPTUCost = float64(n) * p.MonthlyPrice(in.billing)
	c.MonthlySpillCost = spillMonth
	c.MonthlyCost = c.MonthlyPTUCost + c.MonthlySpillCost
	return c
}

// bucket is a provisioned deployment's admission: a leaky bucket holding
// at most capacity input-equivalent tokens, draining capacity per minute.
// A request is admitted when it fits (an empty bucket admits one larger
// than the whole capacity) and adds its tokens; one that does not fit
// spills to pay-as-you-go and adds nothing:
//
//	level(t) = max(0, level(t') − (t − t')·capacity/60s)
//	admit    = level(t) + tokens <= capacity
type bucket struct {
	capacity, rate float64 // tokens, tokens per second
	level, last    float64 // after the last arrival, at Unix second last
}

// admit spreads a step's requests evenly over its width, each of the
// step's mean size, and returns how many are admitted.
func (b *bucket) admit(s demandStep, width float64) int64 {
	n := s.requests
	w := s.weight / float64(n)
	gap := width / float64(n) // between arrivals
	first := s.at + gap/2
	d := b.rate * gap // drained between arrivals
	// fast path: every request fits. After the first, the level moves by
	// w − d per arrival while it stays above 0, else settles at w.
	l1 := math.Max(0, b.level-b.rate*(first-b.last)) + w
	ln := l1 + float64(n-1)*(w-d)
	if w < d {
		ln = math.Max(w, l1-float64(n-1)*(d-w))
	}
	if math.Max(l1, ln) <= b.capacity {
		b.level, b.last = ln, first+float64(n-1)*gap
		return n
	}
	var admitted int64
	for j := range n {
		t := first + float64(j)*gap
		b.level = math.Max(0, b.level-b.rate*(t-b.last))
		b.last = t
		if b.level+w <= b.capacity || (b.level == 0 && w > b.capacity) {
			b.level += w
			admitted++
		}
	}
	return admitted
}

func (plan *ModelPTUPlan) pick() {
	for i, c := range plan.Candidates {
		if plan.Cheapest < 0 || c.MonthlyCost < plan.Candidates[plan.Cheapest].MonthlyCost {
			plan.Cheapest = i
		}
		if plan.MaxSpill > 0 && 1-c.PTUShare <= plan.MaxSpill+1e-12 &&
			(plan.Recommended < 0 || c.MonthlyCost < plan.Candidates[plan.Recommended].MonthlyCost) {
			plan.Recommended = i
		}
	}
	if plan.MaxSpill <= 0 {
		plan.Recommended = plan.Cheapest
	}
	if plan.Recommended >= 0 {
		plan.Premium = plan.Candidates[plan.Recommended].MonthlyCost - plan.Candidates[plan.Cheapest].MonthlyCost
	}
}

// alternatives are the cheapest plans under the billings other than the
// plan's (those the pricing file prices).
func (plan *ModelPTUPlan) alternatives() {
	for _, b := range []pricing.Billing{pricing.Hourly, pricing.MonthlyReservation, pricing.YearlyReservation} {
		if b == plan.Billing || len(plan.Candidates) < 2 || plan.Candidates[1].ByBilling.Of(b) == plan.Candidates[0].ByBilling.Of(b) {
			continue // the plan's own, or a billing without a price
		}
		best := 0
		for i, c := range plan.Candidates {
			if c.ByBilling.Of(b) < plan.Candidates[best].ByBilling.Of(b) {
				best = i
			}
		}
		plan.Alternatives = append(plan.Alternatives, PTUAlternative{Billing: b, PTU: plan.Candidates[best].PTU,
			MonthlyCost: plan.Candidates[best].ByBilling.Of(b)})
	}
}

// evidence says how much data the monthly figures come from.
func evidence(minutes int64) string {
	span := fmt.Sprintf("%d minutes", minutes)
	switch {
	case minutes == 1:
		span = "1 minute"
	case minutes >= 2*MinutesPerDay:
		span = fmt.Sprintf("%.1f days", float64(minutes)/MinutesPerDay)
	case minutes >= 120:
		span = fmt.Sprintf("%.1f hours", float64(minutes)/60)
	}
	s := "monthly figures extrapolated from " + span + " of data to a 730-hour month"
	if minutes < MinutesPerDay {
		s += "; less than a day: tentative, collect at least a day (better a week or a month) before buying capacity"
	}
	return s
}

// explain returns the verdict and the figures behind it.
func (plan *ModelPTUPlan) explain() (verdict, detail string) {
	if plan.Requests == 0 || plan.Cheapest < 0 {
		return "No demand: nothing to plan.", "no requests reached the backends"
	}
	money := func(v float64) string { return fmt.Sprintf("%.0f/month", v) }
	rel := func(a, b float64) string {
		if b == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%+.0f%%", 100*(a-b)/b)
	}
	payg := plan.PAYGMonthlyCost
	var v []string
	if plan.Recommended < 0 {
		v = append(v, fmt.Sprintf("No plan up to %d PTU keeps spill at or under %s; the cheapest is %s.",
			plan.Candidates[len(plan.Candidates)-1].PTU, pct(plan.MaxSpill), plan.describe(plan.Cheapest)))
	} else if rec := plan.Candidates[plan.Recommended]; rec.PTU == 0 {
		v = append(v, fmt.Sprintf("Stay on pay-as-you-go: %s.", money(payg)))
		if best := plan.cheapestPTU(); best > 0 {
			c := plan.Candidates[best]
			v = append(v, fmt.Sprintf("The cheapest PTU plan, %d PTU (%s), would cost %s (%s).", c.PTU, plan.Billing, money(c.MonthlyCost), rel(c.MonthlyCost, payg)))
		}
	} else {
		v = append(v, fmt.Sprintf("Buy %s: %s vs %s all pay-as-you-go (%s).", plan.describe(plan.Recommended),
			money(rec.MonthlyCost), money(payg), rel(rec.MonthlyCost, payg)))
	}
	if plan.MaxSpill > 0 && plan.Recommended >= 0 && plan.Recommended != plan.Cheapest {
		v = append(v, fmt.Sprintf("Keeping spill at or under %s costs %.0f/month more than the cheapest plan, %s at %s.",
			pct(plan.MaxSpill), plan.Premium, plan.describe(plan.Cheapest), money(plan.Candidates[plan.Cheapest].MonthlyCost)))
	}
	verdict = strings.Join(v, " ")
	if plan.Tentative {
		verdict = "Tentative (less than a day of data): " + verdict
	}
	var d []string
	d = append(d, fmt.Sprintf("Billing %s (%s)", plan.Billing, plan.BillingSource))
	for _, a := range plan.Alternatives {
		d = append(d, fmt.Sprintf("with %s the cheapest would be %d PTU at %s", a.Billing, a.PTU, money(a.MonthlyCost)))
	}
	d = append(d, fmt.Sprintf("busiest 60 s %s, p99 minute %s input-equivalent tokens", kTokens(plan.PeakWindowTPM), kTokens(plan.P99)),
		fmt.Sprintf("calculator (peak %.0f RPM): %d PTU", plan.Calculator.PeakRPM, plan.Calculator.PTU), plan.Evidence)
	return verdict, verdict + " " + strings.Join(d, "; ") + "."
}

// describe names a candidate: "40 PTU (92% on PTU, 81% utilized)".
func (plan *ModelPTUPlan) describe(i int) string {
	c := plan.Candidates[i]
	if c.PTU == 0 {
		return "all pay-as-you-go"
	}
	return fmt.Sprintf("%d PTU (%s, %s of tokens on PTU, %s utilized)", c.PTU, plan.Billing, pct(c.PTUShare), pct(c.Utilization))
}

// cheapestPTU indexes the cheapest candidate with PTUs (0 when none).
func (plan *ModelPTUPlan) cheapestPTU() int {
	best := 0
	for i, c := range plan.Candidates {
		if c.PTU > 0 && (best == 0 || c.MonthlyCost < plan.Candidates[best].MonthlyCost) {
			best = i
		}
	}
	return best
}
