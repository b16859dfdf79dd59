package runner

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// bracket returns the largest limit tried whose share was above the
// target (lo, 0 if none) and the smallest at or under it (hi, 0 if none).
func (g *groupSearch) bracket() (lo, hi int64) {
	for l, r := range g.at {
		if r.share > g.target {
			lo = max(lo, l)
		} else if hi == 0 || l < hi {
			hi = l
		}
	}
	return lo, hi
}

// best is the limit the search settles on: of the limits tried whose
// share landed within the tolerance of the target, the one nearest it;
// else the smallest limit at or under the target; else the largest tried.
func (g *groupSearch) best() int64 {
	var near int64
	for l, r := range g.at {
		d := math.Abs(r.share - g.target)
		if d <= g.tol && (near == 0 || d < math.Abs(g.at[near].share-g.target) ||
			d == math.Abs(g.at[near].share-g.target) && l > near) {
			near = l
		}
	}
	if near > 0 {
		return near
	}
	lo, hi := g.bracket()
	if hi > 0 {
		return hi
	}
	return lo
}

// propose returns the next limit to try, or 0 when the search is done: a
// limit measured at most half the tolerance under the target or a quarter
// of it over (the target is a most, and a fresh sample moves the share),
// or limits one unit apart on either side of it, or the smallest limit
// under it.
//
// Between a limit over the target and one under it the next try is
// interpolated on the logarithm of the share (throttling falls roughly
// exponentially with the limit), kept a quarter of the gap away from
// either end, so that a cliff is bisected; outside a bracket the limit grows or shrinks by a factor that
// depends on how far the share is from the target.
func (g *groupSearch) propose() int64 {
	for _, r := range g.at {
		if r.share >= g.target-g.tol/2 && r.share <= g.target+g.tol/4 {
			return 0
		}
	}
	lo, hi := g.bracket()
	switch {
	case hi > 0 && (hi <= g.unit || (lo > 0 && hi-lo <= g.unit)):
		return 0
	case lo > 0 && hi > 0:
		return g.between(lo, hi)
	case lo > 0:
		f := elasticStep(g.at[lo].share, g.target)
		if e, ok := g.extrapolate(); ok {
			f = e / float64(lo)
		}
		return max(roundUp(int64(min(max(f, 1.05), 2)*float64(lo)), g.unit), lo+g.unit)
	}
	f := 0.5
	if g.at[hi].share > 0 {
		f = elasticStep(g.at[hi].share, g.target)
		if e, ok := g.extrapolate(); ok {
			f = e / float64(hi)
		}
	}
	return max(min(roundUp(int64(min(max(f, 0.5), 0.95)*float64(hi)), g.unit), hi-g.unit), g.unit)
}

// elasticity is how steeply the share of first attempts refused falls as
// a limit rises, d ln(share) / d ln(limit), typical of the consumers of
// runner/testdata/verify.yaml (−3.5 to −5 for open-loop callers; closed
// loops are flatter). It sizes the search's first step, before two points
// give a slope of the consumer's own.
const elasticity = -4.5

// elasticStep is the factor on a limit that moves its share from s to the
// target under the typical elasticity.
func elasticStep(s, target float64) float64 {
	return math.Pow(target/s, 1/elasticity)
}

// extrapolate returns where the line through the logarithms of the
// shares at the two limits tried nearest the target (both on one side of
// it) meets the target, when the shares are above zero and fall as the
// limit rises; the caller bounds how far it may go.
func (g *groupSearch) extrapolate() (float64, bool) {
	if len(g.at) < 2 {
		return 0, false
	}
	ls := make([]int64, 0, len(g.at))
	for l := range g.at {
		ls = append(ls, l)
	}
	slices.Sort(ls)
	a, b := ls[0], ls[1] // shrinking: the two smallest
	if g.at[ls[len(ls)-1]].share > g.target {
		a, b = ls[len(ls)-2], ls[len(ls)-1] // growing: the two largest
	}
	sa, sb := g.at[a].share, g.at[b].share
	if sa <= sb || sb <= 0 { // the share must fall as the limit rises
		return 0, false
	}
	return float64(a) + (math.Log(g.target)-math.Log(sa))*float64(b-a)/(math.Log(sb)-math.Log(sa)), true
}

// between interpolates the limit whose share is the target between lo
// (over it) and hi (under it).
func (g *groupSearch) between(lo, hi int64) int64 {
	floor := g.target / 50 // a share of 0 has no logarithm
	sl, sh := math.Log(max(g.at[lo].share, floor)), math.Log(max(g.at[hi].share, floor))
	frac := 0.5
	if sl > sh {
		frac = (sl - math.Log(g.target)) / (sl - sh)
	}
	frac = min(max(frac, 0.25), 0.75)
	l := roundUp(lo+int64(frac*float64(hi-lo)), g.unit)
	return min(max(l, lo+g.unit), hi-g.unit)
}

// roundUp rounds v up to a positive multiple of unit.
func roundUp(v, unit int64) int64 {
	if v <= unit {
		return unit
	}
	return (v + unit - 1) / unit * unit
}

// results turns the search into one check per consumer.
func (s *search) results() []ConsumerCheck {
	rec := s.opts.Recommendation
	out := make([]ConsumerCheck, len(rec.Consumers))
	for i, c := range rec.Consumers {
		cc := &out[i]
		cc.Key, cc.EstimateTPM, cc.EstimateShare = c.Key, c.RecommendedTPM, c.AtRecommended.RequestShare()
		gi := s.plan.groupOf[i]
		if gi < 0 {
			cc.Note = "not verified: " + s.plan.why[i]
			continue
		}
		gs := s.groups[gi]
		cc.Limit, cc.Tried = gs.g.describe(), gs.tried
		cc.RecommendedTPM = gs.best()
		r := gs.at[cc.RecommendedTPM]
		if r == nil {
			cc.Note = "not verified: the search did not run"
			continue
		}
		m := 0
		for k, ci := range gs.g.consumers {
			if ci == i {
				m = k
			}
		}
		cc.Min = math.Inf(1)
		for _, run := range r.runs {
			a := run[m]
			cc.Runs = append(cc.Runs, a)
			cc.Mean += a.Share() / float64(len(r.runs))
			cc.Min, cc.Max = min(cc.Min, a.Share()), max(cc.Max, a.Share())
		}
		share := cc.Mean
		if gs.g.perKey != "" {
			share = r.share // a per-key limit is judged by its busiest key
		}
		cc.Met = math.Abs(share-s.target) <= s.opts.Tolerance
		cc.Note = s.note(gs, cc, share)
	}
	return out
}

// note says why a consumer's target is not met, and what else matters.
func (s *search) note(gs *groupSearch, cc *ConsumerCheck, share float64) string {
	var first float64
	for _, a := range cc.Runs {
		first += float64(a.First) / float64(len(cc.Runs))
	}
	var note string
	if first > 0 && first*s.opts.Tolerance < 1 {
		note = fmt.Sprintf("too few requests to measure the target: %.0f first attempts per run, so one refusal moves the share by %s; ",
			first, pp(1/first))
	} else if first == 0 {
		return "no first attempts in the reruns"
	}
	lo, hi := gs.bracket()
	l := cc.RecommendedTPM
	switch {
	case cc.Met:
	case hi == 0:
		note += fmt.Sprintf("no limit tried meets the target: even %s TPM throttles %s of first attempts after %d rounds (refusals a limit does not cause, or a limit still far too low)",
			tpm(l), pct1(share), len(gs.at))
	case hi <= s.opts.Unit && share < s.target:
		note += fmt.Sprintf("throttles only %s even at the smallest limit (%s TPM): its demand adapts to any limit (a closed-loop caller) or is too small to reach the target",
			pct1(share), tpm(l))
	case lo > 0 && hi-lo <= s.opts.Unit:
		note += fmt.Sprintf("no limit lands within ±%s of the target: %s TPM throttles %s, %s TPM throttles %s (a closed-loop caller that paces itself, or steps of %s TPM too coarse)",
			pp(s.opts.Tolerance), tpm(lo), pct1(gs.at[lo].share), tpm(hi), pct1(gs.at[hi].share), tpm(s.opts.Unit))
	case lo > 0:
		note += fmt.Sprintf("no limit tried lands within ±%s of the target after %d rounds: %s TPM refuses %s, %s TPM %s (refusals in clumps, as from a closed-loop caller, make the share jump); more rounds (--verify-rounds) search between",
			pp(s.opts.Tolerance), len(gs.at), tpm(lo), pct1(gs.at[lo].share), tpm(hi), pct1(gs.at[hi].share))
	default:
		note += fmt.Sprintf("the search stopped after %d rounds at %s; limits down to %s TPM refuse less than the target (more rounds: --verify-rounds)",
			len(gs.at), pct1(share), tpm(hi))
	}
	if gs.g.perKey != "" {
		note += fmt.Sprintf("one %s limit for every key: set by the busiest key (%s); ", gs.g.perKey, pct1(gs.at[l].share))
	}
	if len(note) >= 2 && note[len(note)-2:] == "; " {
		note = note[:len(note)-2]
	}
	return note
}

func pct1(f float64) string { return strconv.FormatFloat(100*f, 'f', 2, 64) + "%" }
func pp(f float64) string   { return strconv.FormatFloat(100*f, 'f', 2, 64) + " pp" }
func tpm(v int64) string    { return strconv.FormatInt(v, 10) }
