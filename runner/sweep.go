package runner

import (
	"context"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/aiload/aiload/loadgen"
	"github.com/aiload/aiload/pricing"
	"github.com/aiload/aiload/record"
	"github.com/aiload/aiload/scenario"
)

// SweepOptions configure a sweep: one scenario run on the virtual clock
// once per combination of the settings' values.
type SweepOptions struct {
	// Scenario is the path of the scenario file.
	Scenario string
	// Sets are the --set flags, "path=v1,v2,…"; the variants are every
	// combination of one value per flag (see ParseSet for paths).
	Sets []string
	// Duration and Seed override the scenario's when set.
	Duration time.Duration
	Seed     *uint64
	// Parallel is how many variants run at once (default GOMAXPROCS).
	Parallel int
}

// Variant is what one combination of settings gave.
type Variant struct {
	Settings []scenario.Setting
	// Teams are per-team counts, by team name.
	Teams map[string]*TeamOutcome
	// Requests and Throttled are over every team (Throttled: 429 answers).
	Requests, Throttled int64
	// SpillShare is the share of served tokens answered by non-PTU
	// backends, when the gateway has a PTU backend (else -1).
	SpillShare float64
	// Cost is the PAYG list price of tokens served by non-PTU backends plus
	// the scenario pricing's PTU deployments, hourly, for the simulated time.
	Cost float64
	// PTU is the PTUs the deployments are priced at, in all: as written,
	// except a deployment serving a backend whose mock ptu_tpm the variant
	// sets, which is priced at the PTUs that capacity takes (DeploymentPTU).
	PTU      int
	Currency string
	// PipelinesStarted and PipelinesBroken are over every agent persona.
	PipelinesStarted, PipelinesBroken int64
	// Wall is how long the simulation took.
	Wall time.Duration
}

// TeamOutcome is one team's counts in a variant.
type TeamOutcome struct {
	Requests, Throttled, Tokens int64
}

// Sweep runs every variant of the scenario on the virtual clock, several
// at a time, and returns them in flag order.
func Sweep(ctx context.Context, opts SweepOptions) ([]*Variant, error) {
	src, err := scenario.ReadFile(opts.Scenario)
	if err != nil {
		return nil, err
	}
	if _, err := scenario.Parse(opts.Scenario, src); err != nil {
		return nil, err
	}
	combos := [][]scenario.Setting{nil}
	for _, f := range opts.Sets {
		vals, err := scenario.ParseSet(f)
		if err != nil {
			return nil, err
		}
		var next [][]scenario.Setting
		for _, c := range combos {
			for _, v := range vals {
				next = append(next, append(slices.Clone(c), v))
			}
		}
		combos = next
	}
	scs := make([]*scenario.Scenario, len(combos))
	for i, c := range combos {
		if scs[i], err = variantScenario(opts, src, c); err != nil {
			return nil, err
		}
	}
	out := make([]*Variant, len(combos))
	errs := make([]error, len(combos))
	par := opts.Parallel
	if par <= 0 {
		par = runtime.GOMAXPROCS(0)
	}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range combos {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = runVariant(ctx, scs[i], combos[i])
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("variant %s: %w", settingsLabel(combos[i]), err)
		}
	}
	return out, nil
}

// variantScenario is the scenario with one combination applied.
func variantScenario(opts SweepOptions, src []byte, sets []scenario.Setting) (*scenario.Scenario, error) {
	vsrc, err := scenario.ApplySettings(src, sets)
	if err != nil {
		return nil, err
	}
	sc, err := scenario.Parse(opts.Scenario, vsrc)
	if err != nil {
		return nil, fmt.Errorf("variant %s: %w", settingsLabel(sets), err)
	}
	if opts.Duration > 0 {
		sc.Duration = loadgen.Duration(opts.Duration)
	}
	if opts.Seed != nil {
		sc.Seed = *opts.Seed
	}
	sc.Clock = scenario.ClockVirtual
	return sc, nil
}

func runVariant(ctx context.Context, sc *scenario.Scenario, sets []scenario.Setting) (*Variant, error) {
	prices, _, err := scenarioPricing(sc.Pricing)
	if err != nil {
		return nil, err
	}
	agg := &sweepSink{v: &Variant{Settings: sets, Teams: map[string]*TeamOutcome{}, SpillShare: -1, Currency: prices.Currency}, prices: prices}
	began := time.Now()
	sim, err := Simulate(ctx, sc, agg, virtualRunID(sc), nil)
	if err != nil {
		return nil, err
	}
	v := agg.v
	v.Wall = time.Since(began)
	hasPTU := false
	for _, b := range sc.Gateway.Backends {
		hasPTU = hasPTU || b.Tier == "ptu"
	}
	if hasPTU && agg.served > 0 {
		v.SpillShare = float64(agg.spilled) / float64(agg.served)
	}
	hours := sim.End.Sub(sim.Start).Hours()
	for _, d := range prices.Deployments {
		if m, ok := prices.Lookup(d.Model); ok && m.PTU != nil {
			n := deploymentPTU(d, *m.PTU, sc, sets)
			v.PTU += n
			v.Cost += float64(n) * m.PTU.MonthlyPrice(d.Billing) / pricing.HoursPerMonth * hours
		}
	}
	for _, p := range sim.Load.Personas {
		if p.Pipelines != nil {
			v.PipelinesStarted += p.Pipelines.Started
			v.PipelinesBroken += p.Pipelines.Broken
		}
	}
	return v, nil
}

// deploymentPTU is the PTUs a variant prices deployment d at: its ptu as
// written, unless the variant sets the mock ptu_tpm of a backend d serves;
// then the PTUs its backends' capacity takes: their ptu_tpm over the
// model's input TPM per PTU, rounded up to the increment, at least the
// minimum (so sweeping capacity sweeps its price too).
func deploymentPTU(d pricing.Deployment, m pricing.PTU, sc *scenario.Scenario, sets []scenario.Setting) int {
	swept := false
	for _, s := range sets {
		name, ok := strings.CutPrefix(s.Path, "gateway.backends.")
		if name, ok = strings.CutSuffix(name, ".mock.ptu_tpm"); ok && slices.Contains(d.Backends, name) {
			swept = true
		}
	}
	if !swept || m.InputTPMPerPTU <= 0 {
		return d.PTU
	}
	var tpm int64
	for _, b := range sc.Gateway.Backends {
		if b.Mock != nil && slices.Contains(d.Backends, b.Name) {
			tpm += b.Mock.PTUTPM
		}
	}
	n := int(math.Ceil(float64(tpm) / m.InputTPMPerPTU))
	if m.Increment > 0 {
		n = (n + m.Increment - 1) / m.Increment * m.Increment
	}
	return max(n, m.MinPTU)
}

// sweepSink sums a variant's records.
type sweepSink struct {
	mu              sync.Mutex
	v               *Variant
	prices          *pricing.Pricing
	served, spilled int64
}

var _ record.Sink = (*sweepSink)(nil)

func (s *sweepSink) Write(r *record.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.v.Teams[r.Team]
	if t == nil {
		t = &TeamOutcome{}
		s.v.Teams[r.Team] = t
	}
	t.Requests++
	s.v.Requests++
	if r.Status == 429 {
		t.Throttled++
		s.v.Throttled++
	}
	if r.Status != 200 {
		return nil
	}
	t.Tokens += r.TotalTokens
	s.served += r.TotalTokens
	if r.BackendTier != "ptu" {
		s.spilled += r.TotalTokens
		if m, ok := s.prices.Lookup(r.Model); ok {
			s.v.Cost += (float64(r.PromptTokens-r.CachedTokens)*m.Input + float64(r.CachedTokens)*m.CachedPrice() +
				float64(r.CompletionTokens)*m.Output) / 1e6
		}
	}
	return nil
}

func settingsLabel(sets []scenario.Setting) string {
	if len(sets) == 0 {
		return "(as written)"
	}
	parts := make([]string, len(sets))
	for i, s := range sets {
		parts[i] = s.String()
	}
	return strings.Join(parts, " ")
}

// WriteSweepTable prints the variants side by side: one row per variant,
// a column per --set path, then requests, 429s in all and per team,
// spill-over share, cost and broken agent pipelines.
func WriteSweepTable(w io.Writer, vs []*Variant) error {
	var teams []string
	for _, v := range vs {
		for t := range v.Teams {
			if !slices.Contains(teams, t) {
				teams = append(teams, t)
			}
		}
	}
	slices.Sort(teams)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	var head []string
	if len(vs) > 0 {
		for _, s := range vs[0].Settings {
			head = append(head, s.Path)
		}
	}
	head = append(head, "requests", "429")
	for _, t := range teams {
		head = append(head, "429 "+t)
	}
	head = append(head, "spill-over", "PTU", "cost", "pipelines broken", "wall")
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, v := range vs {
		var row []string
		for _, s := range v.Settings {
			row = append(row, s.Value)
		}
		row = append(row, fmt.Sprint(v.Requests), fmt.Sprint(v.Throttled))
		for _, t := range teams {
			n := int64(0)
			if o := v.Teams[t]; o != nil {
				n = o.Throttled
			}
			row = append(row, fmt.Sprint(n))
		}
		spill := "-"
		if v.SpillShare >= 0 {
			spill = fmt.Sprintf("%.1f%%", 100*v.SpillShare)
		}
		row = append(row, spill, fmt.Sprint(v.PTU), fmt.Sprintf("%.2f %s", v.Cost, v.Currency),
			fmt.Sprintf("%d/%d", v.PipelinesBroken, v.PipelinesStarted), v.Wall.Round(time.Millisecond).String())
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	return tw.Flush()
}
