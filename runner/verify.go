package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/scenario"
	"github.com/aiload/aiload/vclock"
)

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Scenario is the scenario the records came from, as it was run
	// (duration and seed overrides applied).
	Scenario *scenario.Scenario
	// Recommendation is analytics' answer: its consumers, their
	// recommended limits (where the search starts) and the target.
	Recommendation *analytics.Recommendation
	// Seeds are the reruns' seeds; default VerifySeeds(scenario seed, 3).
	Seeds []uint64
	// Unit is the step of limits in tokens per minute (default 1,000).
	Unit int64
	// Tolerance is how far, in share, a measured share may land from the
	// target (default 0.005: ±0.5 percentage points).
	Tolerance float64
	// MaxRounds bounds the search: each round reruns the scenario once per
	// seed with every consumer's current limit (default 4).
	MaxRounds int
	// Parallel is how many reruns run at once (default: every seed of a
	// round; three reruns on two cores end together instead of two, then
	// one).
	Parallel int
}

// Verification is what the reruns measured.
type Verification struct {
	Seeds     []uint64 `json:"seeds"`
	Target    float64  `json:"target"`
	Tolerance float64  `json:"tolerance"`
	// Rounds and Simulations are how many search rounds ran and how many
	// reruns that took (rounds × seeds).
	Rounds      int `json:"rounds"`
	Simulations int `json:"simulations"`
	// SimulatedDuration is each rerun's length of load.
	SimulatedDuration time.Duration `json:"simulated_duration_ns"`
	// Consumers are in the recommendation's order.
	Consumers []ConsumerCheck `json:"consumers"`
}

// ConsumerCheck is one consumer's verified limit.
type ConsumerCheck struct {
	Key string `json:"key"`
	// EstimateTPM and EstimateShare are analytics' recommended limit and
	// the share its replay estimated there.
	EstimateTPM   int64   `json:"estimate_tpm"`
	EstimateShare float64 `json:"estimate_share"`
	// RecommendedTPM is the limit the reruns settled on: the smallest limit
	// tried whose mean measured share is at most the target (0 when the
	// consumer was not verified).
	RecommendedTPM int64 `json:"recommended_tpm"`
	// Limit names the gateway setting the search set.
	Limit string `json:"limit,omitempty"`
	// Runs are the reruns at RecommendedTPM, one per seed.
	Runs []Attempts `json:"runs,omitempty"`
	// Mean, Min and Max are the share of first attempts refused over Runs.
	Mean float64 `json:"mean_share"`
	Min  float64 `json:"min_share"`
	Max  float64 `json:"max_share"`
	// Met is true when Mean is within Tolerance of the target.
	Met bool `json:"met"`
	// Tried is the search: each limit tried and the share it measured
	// (for a per-key limit, its busiest key's), in the order tried.
	Tried []Trial `json:"tried,omitempty"`
	// Note says in words why the target is not met, or what else the
	// reader must know (a per-key limit, too few requests).
	Note string `json:"note,omitempty"`
}

// Trial is one limit the search tried and the mean share it measured.
type Trial struct {
	LimitTPM int64   `json:"limit_tpm"`
	Share    float64 `json:"share"`
}

// VerifySeeds returns n seeds for reruns of a scenario whose own seed is
// base: base+1001, base+1002, …, never base itself.
func VerifySeeds(base uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = base + 1001 + uint64(i)
	}
	return out
}

// Verify reruns the scenario on the virtual clock with the recommended
// limits and other seeds, and searches on the simulator for each
// consumer's limit: a multiple of the unit whose share of first attempts
// refused, averaged over the seeds, lands within the tolerance of the
// target (see propose and best). Every consumer's limit changes in the
// same rerun (their counters are independent), so a consumer's figures
// come from the round its limit ran in; the seeds of a round run in
// parallel. A scenario that cannot run on the virtual clock (an external
// target, a backend with a URL) is an error.
func Verify(ctx context.Context, opts VerifyOptions) (*Verification, error) {
	sc, rec := opts.Scenario, opts.Recommendation
	if sc == nil || rec == nil {
		return nil, errors.New("verify: a scenario and a recommendation are required")
	}
	if !sc.Target.Embedded() {
		return nil, fmt.Errorf("verify: scenario %s targets %s; only the embedded gateway can be rerun on the virtual clock", sc.Name, sc.Target.URL)
	}
	if _, err := virtualMocks(sc, vclock.New(virtualStart(sc))); err != nil {
		return nil, err
	}
	opts.defaults()
	plan := planVerify(sc.Gateway, rec)
	s := &search{opts: opts, plan: plan, target: rec.TargetThrottle, groups: make([]*groupSearch, len(plan.groups))}
	for i, g := range plan.groups {
		s.groups[i] = &groupSearch{g: g, at: map[int64]*groupRun{}, target: s.target, tol: opts.Tolerance, unit: opts.Unit,
			next: roundUp(max(g.start, opts.Unit), opts.Unit)}
	}
	v := &Verification{Seeds: opts.Seeds, Target: s.target, Tolerance: opts.Tolerance, SimulatedDuration: sc.Duration.D()}
	for v.Rounds < opts.MaxRounds && s.pending() {
		if err := s.round(ctx); err != nil {
			return nil, err
		}
		v.Rounds++
		v.Simulations += len(opts.Seeds)
	}
	v.Consumers = s.results()
	return v, nil
}

func (o *VerifyOptions) defaults() {
	if len(o.Seeds) == 0 {
		o.Seeds = VerifySeeds(o.Scenario.Seed, 3)
	}
	if o.Unit <= 0 {
		o.Unit = 1000
	}
	if o.Tolerance <= 0 {
		o.Tolerance = 0.005
	}
	if o.MaxRounds <= 0 {
		o.MaxRounds = 4
	}
	if o.Parallel <= 0 {
		o.Parallel = len(o.Seeds)
	}
}

// search is the state of Verify's search.
type search struct {
	opts   VerifyOptions
	plan   *verifyPlan
	target float64
	groups []*groupSearch
}

// groupSearch is one group's search: what each limit tried measured.
type groupSearch struct {
	g           *limitGroup
	at          map[int64]*groupRun
	tried       []Trial
	target, tol float64
	unit        int64
	next        int64 // the limit to try next; 0 when done
}

// groupRun is one limit's reruns: per seed, per group member.
type groupRun struct {
	runs  [][]Attempts // [seed][member]
	share float64      // mean over seeds of the busiest member's share
}

func (s *search) pending() bool {
	return slices.ContainsFunc(s.groups, func(g *groupSearch) bool { return g.next > 0 })
}

// round reruns the scenario once per seed with every group at its next
// limit (or, when its search is done, its best one) and moves each
// group's search on.
func (s *search) round(ctx context.Context) error {
	limits := make([]int64, len(s.groups))
	for i, g := range s.groups {
		limits[i] = cmp.Or(g.next, g.best())
	}
	cfg := s.plan.configWith(limits)
	got := make([][]Attempts, len(s.opts.Seeds))
	errs := make([]error, len(s.opts.Seeds))
	sem := make(chan struct{}, s.opts.Parallel)
	var wg sync.WaitGroup
	for i, seed := range s.opts.Seeds {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			got[i], errs[i] = s.rerun(ctx, cloneConfig(cfg), seed)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i, g := range s.groups {
		if g.next == 0 {
			continue
		}
		r := &groupRun{runs: make([][]Attempts, len(got))}
		for k, seedRun := range got {
			busiest := 0.0
			for _, c := range g.g.consumers {
				r.runs[k] = append(r.runs[k], seedRun[c])
				busiest = max(busiest, seedRun[c].Share())
			}
			r.share += busiest / float64(len(got))
		}
		g.at[limits[i]] = r
		g.tried = append(g.tried, Trial{LimitTPM: limits[i], Share: r.share})
		g.next = g.propose()
	}
	return nil
}

// rerun simulates the scenario with cfg and seed and counts each
// consumer's attempts.
func (s *search) rerun(ctx context.Context, cfg gateway.Config, seed uint64) ([]Attempts, error) {
	sc := *s.opts.Scenario
	sc.Seed, sc.Gateway, sc.Clock = seed, cfg, scenario.ClockVirtual
	sink := newVerifySink(s.plan)
	if _, err := Simulate(ctx, &sc, sink, fmt.Sprintf("%s-verify-seed%d", sc.Name, seed), nil); err != nil {
		return nil, fmt.Errorf("verify: rerun with seed %d: %w", seed, err)
	}
	return sink.got, nil
}
