package analytics

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
)

// sizing finds one consumer's limit.
type sizing struct {
	opts    RecommendOptions
	rp      *replayer
	peak    int64
	nBlocks int
	// runs are the full replays by limit, and their per-block counts.
	runs    map[int64]ReplayResult
	byBlock map[int64][]blockCounts
}

// blocks sets up the bootstrap's blocks: block i holds the first attempts
// arriving in [origin + i·span, origin + (i+1)·span), over minutes minutes.
func (s *sizing) setBlocks(originUS, spanUS, minutes int64) {
	if s.opts.Resamples < 0 || spanUS <= 0 {
		return
	}
	n := (minutes*60_000_000 + spanUS - 1) / spanUS
	s.nBlocks = int(min(max(n, 1), 1<<16))
	s.rp.blocks = make([]blockCounts, s.nBlocks)
	s.rp.blockOrigin, s.rp.blockSpan = originUS, spanUS
}

// run is the full replay at limit l through the policy's window,
// remembered for the curve with its block counts.
func (s *sizing) run(l int64) ReplayResult {
	if r, ok := s.runs[l]; ok {
		return r
	}
	s.rp.native = false
	r := s.rp.replayAbovePeak(l, s.peak)
	s.runs[l] = r
	if s.rp.blocks != nil {
		s.byBlock[l] = slices.Clone(s.rp.blocks)
	}
	return r
}

// blocksAt records the block counts at limit l for the bootstrap, from the
// native replay when the curve has no replay there.
func (s *sizing) blocksAt(l int64) {
	if _, ok := s.byBlock[l]; ok || s.rp.blocks == nil {
		return
	}
	s.rp.native = true
	s.rp.replayAbovePeak(l, s.peak)
	s.byBlock[l] = slices.Clone(s.rp.blocks)
}

// searched reports whether the search left block counts at a limit in
// (lo, hi).
func (s *sizing) searched(lo, hi int64) bool {
	for l := range s.byBlock {
		if l > lo && l < hi {
			return true
		}
	}
	return false
}

// size fills c's recommendation.
//
// The smallest limit L (a multiple of the unit) whose replay refuses at
// most the target share of first attempts is found by bisection between
// one unit and the peak window rounded up (above it nothing is refused by
// the token limit), on the native window. The curve, on the policy's
// window (every figure reported), adds the replay one unit below L, at the
// per-minute p99, and at ½, 1¼, 1½ and 2 times L. The interval
// (bootstrap) uses those replays, the search's that met the target (run
// to the end), and native replays at 0.85 times L, and at 1.1 unless the
// search replayed a limit between L and 1¼ L.
func (s *sizing) size(c *ConsumerRecommendation) {
	s.runs, s.byBlock = map[int64]ReplayResult{}, map[int64][]blockCounts{}
	rp, unit := s.rp, s.opts.Unit
	s.peak = rp.peakWindow()
	c.PeakWindowTPM = s.peak
	if s.opts.MinRequests > 0 && c.Requests < s.opts.MinRequests {
		c.Status, c.RecommendedTPM = StatusNotEnoughData, c.CurrentLimitTPM
		if c.CurrentLimitTPM > 0 {
			c.AtRecommended = s.run(c.CurrentLimitTPM)
			c.Curve = []ReplayResult{c.AtRecommended}
		}
		c.Explanation = fmt.Sprintf("not enough data: %s (at least %d needed to size a limit); keeps its current limit",
			plural(c.Requests, "request"), s.opts.MinRequests)
		if c.CurrentLimitTPM == 0 {
			c.Explanation = strings.TrimSuffix(c.Explanation, "; keeps its current limit") + "; no limit recorded"
		}
		return
	}
	c.Status = StatusOK
	hi := roundUp(s.peak+1, unit)
	lo := unit
	budget := throttleBudget(int64(len(rp.events)), s.opts.TargetThrottle)
	rp.native = true
	for lo < hi {
		mid := roundUp((lo+hi)/2, unit)
		if mid >= hi {
			mid = hi - unit
		}
		if rp.replay(mid, budget).ThrottledRequests <= budget {
			// A limit that meets the target was replayed to the end: its
			// block counts serve the bootstrap.
			if rp.blocks != nil {
				s.byBlock[mid] = slices.Clone(rp.blocks)
			}
			hi = mid
		} else {
			lo = mid + unit
		}
	}
	c.RecommendedTPM = hi
	c.AtRecommended = s.run(hi)
	if hi > unit {
		s.run(hi - unit)
	}
	s.run(roundUp(int64(math.Ceil(c.P99)), unit))
	for _, f := range []float64{0.5, 1.25, 1.5, 2} {
		s.run(roundUp(int64(f*float64(hi)), unit))
	}
	s.blocksAt(roundUp(int64(0.85*float64(hi)), unit))
	if !s.searched(hi, roundUp(int64(1.25*float64(hi)), unit)) {
		s.blocksAt(roundUp(int64(1.1*float64(hi)), unit))
	}
	c.Curve = make([]ReplayResult, 0, len(s.runs))
	for _, r := range s.runs {
		c.Curve = append(c.Curve, r)
	}
	sort.Slice(c.Curve, func(i, j int) bool { return c.Curve[i].LimitTPM < c.Curve[j].LimitTPM })
	c.LowTPM, c.HighTPM = s.interval(c)
	c.Explanation = explain(c, s.opts.TargetThrottle)
}

// interval is the 10th and 90th percentile of the recommended limit over
// bootstrap resamples of the consumer's demand: each resample draws as
// many blocks as there are, with replacement, and takes the refused share
// at every replayed limit as the drawn blocks' sums (each block's counts
// come from the replay of the whole trace, so a block keeps the window
// state it started with); between replayed limits the share is
// interpolated linearly. The resample's limit is the smallest at which
// the share meets the target, rounded up to the unit, and clamped to the
// replayed range (½ to 2 × the recommendation).
func (s *sizing) interval(c *ConsumerRecommendation) (int64, int64) {
	if s.opts.Resamples <= 0 || s.nBlocks == 0 || len(s.byBlock) < 2 {
		return 0, 0
	}
	limits := make([]int64, 0, len(s.byBlock))
	for l := range s.byBlock {
		limits = append(limits, l)
	}
	slices.Sort(limits)
	h := fnv.New64a()
	h.Write([]byte(c.Key))
	rng := rand.New(rand.NewPCG(h.Sum64(), 14))
	weights := make([]int64, s.nBlocks)
	shares := make([]float64, len(limits))
	got := make([]int64, s.opts.Resamples)
	for r := range got {
		clear(weights)
		for range s.nBlocks {
			weights[rng.IntN(s.nBlocks)]++
		}
		for k, l := range limits {
			var req, ref int64
			for b, bc := range s.byBlock[l] {
				req += weights[b] * bc.requests
				ref += weights[b] * bc.refused
			}
			shares[k] = share(ref, req)
		}
		got[r] = crossing(limits, shares, s.opts.TargetThrottle, s.opts.Unit)
	}
	slices.Sort(got)
	return got[len(got)/10], got[(len(got)*9)/10]
}

// crossing is the smallest limit whose share is at most target, with
// shares interpolated linearly between the given limits (ascending),
// rounded up to unit; the first limit when it already meets the target,
// the last when none does.
func crossing(limits []int64, shares []float64, target float64, unit int64) int64 {
	if shares[0] <= target {
		return limits[0]
	}
	for k := 1; k < len(limits); k++ {
		if shares[k] > target {
			continue
		}
		// Between limits[k-1] (above target) and limits[k] (meets it).
		f := (shares[k-1] - target) / (shares[k-1] - shares[k])
		l := float64(limits[k-1]) + f*float64(limits[k]-limits[k-1])
		return min(roundUp(int64(math.Ceil(l)), unit), limits[k])
	}
	return limits[len(limits)-1]
}

func explain(c *ConsumerRecommendation, target float64) string {
	r := c.AtRecommended
	s := fmt.Sprintf("p99 minute was %s tokens (max %s, peak 60 s window %s); %s refuses %s of first attempts and %s of tokens (target %s)",
		kTokens(c.P99), kTokens(c.Max), kTokens(float64(c.PeakWindowTPM)), kTokens(float64(c.RecommendedTPM)),
		pct(r.RequestShare()), pct(r.TokenShare()), pct(target))
	if r.Retries > 0 {
		retries := "retries"
		if r.Retries == 1 {
			retries = "retry"
		}
		s += fmt.Sprintf("; %d %s, %s refused again", r.Retries, retries, pct(share(r.RetriesRefused, r.Retries)))
	}
	if c.LowTPM > 0 {
		s += fmt.Sprintf("; 80%% interval %s–%s", kTokens(float64(c.LowTPM)), kTokens(float64(c.HighTPM)))
	}
	if c.CurrentLimitTPM > 0 {
		s += fmt.Sprintf("; now %s", kTokens(float64(c.CurrentLimitTPM)))
	}
	return s
}

// describe lists the callers of the events: "persona: retry_after:3
// (records)", in persona order.
func (t *callerTable) describe(ev []event) []string {
	seen := make([]bool, len(t.callers))
	for _, e := range ev {
		seen[e.caller] = true
	}
	var out []string
	for i, ok := range seen {
		if !ok {
			continue
		}
		name := t.names[i]
		if name == "" {
			name = "(no persona)"
		}
		out = append(out, fmt.Sprintf("%s: %s (%s)", name, t.callers[i], t.callers[i].Source))
	}
	return out
}
