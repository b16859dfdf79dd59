// Package assemble builds a reports.Report from an analytics database: the
// chargeback (PAYG lines and each PTU deployment's split) and each team's
// per-minute demand. It is the only place where the reports' plain input
// meets analytics; reports itself stays free of DuckDB.
package assemble

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/pricing"
	"github.com/aiload/aiload/reports"
)

// Options choose what to report.
type Options struct {
	Period     analytics.Period
	Allocation analytics.Allocation
	// Pricing prices the tokens (pricing.Default() when nil).
	Pricing *pricing.Pricing
	// PricingSource says where the prices came from ("pricing.yaml laid
	// over the built-in defaults"); default "built-in default prices".
	PricingSource string
	// DataRange makes the demand charts span the minutes that have data
	// instead of the whole period (for a run's own report).
	DataRange bool
	// Verify, when set, verifies the TPM recommendation (runner's reruns
	// of the scenario on the virtual clock; ApplyVerification on rec) and
	// says why not when it could not. Without it the team pages label the
	// limits as the replay's estimate.
	Verify func(ctx context.Context, rec *analytics.Recommendation) (note string, err error)
	// VerifyHint is the command that verifies the limits, shown when they
	// are not verified (e.g. "aiload recommend --db run/aiload.duckdb").
	VerifyHint string
}

// Build runs the chargeback and the demand queries and returns the report
// with the analytics result it was built from.
func Build(ctx context.Context, db *analytics.DB, opts Options) (*reports.Report, *analytics.ChargebackResult, error) {
	if opts.Pricing == nil {
		opts.Pricing = pricing.Default()
	}
	if opts.PricingSource == "" {
		opts.PricingSource = "built-in default prices"
	}
	res, err := analytics.Chargeback(ctx, db, opts.Pricing, opts.Period, opts.Allocation)
	if err != nil {
		return nil, nil, err
	}
	r, err := FromChargeback(res, opts.Pricing, opts.PricingSource)
	if err != nil {
		return nil, nil, err
	}
	dopts := analytics.DemandOptions{By: analytics.ByTeam, From: opts.Period.Start, To: opts.Period.End}
	by := opts.Allocation.By
	if !by.IsTeam() {
		dopts.Group = by
	}
	if opts.DataRange {
		dopts.From, dopts.To = time.Time{}, time.Time{}
	}
	series, err := analytics.Demand(ctx, db, dopts)
	if err != nil {
		return nil, nil, err
	}
	util, err := db.ReportedUtilization(ctx, dopts.From, dopts.To)
	if err != nil {
		return nil, nil, err
	}
	for _, u := range util {
		r.Utilization = append(r.Utilization, reports.BackendUtilization{Backend: u.Backend, Answers: u.Answers, AvgPct: u.AvgPct, P95Pct: u.P95Pct})
	}
	attempts, err := db.AttemptsByBackend(ctx, dopts.From, dopts.To)
	if err != nil {
		return nil, nil, err
	}
	for _, a := range attempts {
		r.Attempts = append(r.Attempts, reports.BackendAttempts{Backend: a.Backend, Attempts: a.Attempts, Refused: a.Refused, Failed: a.Failed, Retried: a.Retried})
	}
	if err := cacheUse(ctx, db, opts, r); err != nil {
		return nil, nil, err
	}
	subs, err := db.Summary(ctx)
	if err != nil {
		return nil, nil, err
	}
	if by.IsTeam() {
		if err := teamPages(ctx, db, opts, dopts, r, series, subs); err != nil {
			return nil, nil, err
		}
	} else {
		// Limits and recommendations are per team and consumer: a group
		// of another column gets its demand and throttles only.
		r.Teams = activity(series, groupLimits(by, series, subs), by.None())
	}
	plans, err := analytics.PTUPlan(ctx, db, opts.Pricing, analytics.PTUPlanOptions{From: opts.Period.Start, To: opts.Period.End})
	if err != nil {
		return nil, nil, err
	}
	r.Plans = Plans(plans)
	return r, res, nil
}

// teamPages fills the team pages: each team's demand against the sum of
// its subscriptions' limits (or its busiest key's), and its consumers'
// TPM recommendations.
func teamPages(ctx context.Context, db *analytics.DB, opts Options, dopts analytics.DemandOptions, r *reports.Report,
	series []analytics.DemandSeries, subs []analytics.SubscriptionSummary) error {
	r.Teams = Activity(series, teamLimits(subs))
	if err := addBusiestKeys(ctx, db, dopts, r.Teams, subs); err != nil {
		return err
	}
	rec, err := analytics.Recommend(ctx, db, analytics.RecommendOptions{From: opts.Period.Start, To: opts.Period.End})
	if err != nil {
		return err
	}
	var note string
	if opts.Verify != nil {
		if note, err = opts.Verify(ctx, rec); err != nil {
			return err
		}
	}
	r.Teams = AddRecommendations(r.Teams, rec)
	r.Limits = limitsBasis(rec, note, opts.VerifyHint)
	return nil
}

// AddRecommendations attaches each consumer's TPM recommendation to its
// team's activity (a team without activity gets an entry of its own).
func AddRecommendations(teams []reports.TeamActivity, rec *analytics.Recommendation) []reports.TeamActivity {
	idx := map[string]int{}
	for i, a := range teams {
		idx[a.Team] = i
	}
	for _, c := range rec.Consumers {
		team := teamName(c.Team)
		i, ok := idx[team]
		if !ok {
			i = len(teams)
			idx[team] = i
			teams = append(teams, reports.TeamActivity{Team: team})
		}
		key := c.Key
		if key == "" {
			key = "(no counter key)"
		}
		r := reports.Recommendation{Consumer: key, Product: c.Product, CurrentTPM: c.CurrentLimitTPM,
			RecommendedTPM: c.LimitTPM(), NotEnoughData: c.Status == analytics.StatusNotEnoughData, Requests: c.Requests,
			EstimateTPM: c.RecommendedTPM, EstimateShare: c.AtRecommended.RequestShare(), LowTPM: c.LowTPM, HighTPM: c.HighTPM,
			Explanation: c.Explanation}
		if v := c.Verified; v != nil {
			r.Verified, r.VerifiedTPM, r.Mean, r.Min, r.Max, r.Reruns, r.VerifyNote = true, v.TPM, v.Mean, v.Min, v.Max, v.Reruns, v.Note
		}
		teams[i].Recommendations = append(teams[i].Recommendations, r)
	}
	return teams
}

// limitsBasis says what the recommendation rests on: the range replayed,
// and the reruns that verified it or that it is the replay's estimate,
// why, and how to verify it.
func limitsBasis(rec *analytics.Recommendation, note, hint string) reports.LimitsBasis {
	b := reports.LimitsBasis{Target: rec.TargetThrottle, From: rec.From, To: rec.To}
	if rec.Minutes == 0 {
		return b
	}
	span := fmt.Sprintf("Limits sized on %d minutes of data, %s to %s, for at most %.3g %% of first attempts refused (429 or 403).",
		rec.Minutes, rec.From.Format(time.RFC3339), rec.To.Format(time.RFC3339), 100*rec.TargetThrottle)
	verified := slices.ContainsFunc(rec.Consumers, func(c analytics.ConsumerRecommendation) bool { return c.Verified != nil })
	switch {
	case verified:
		b.Verified = true
		b.Note = span + " Verified by rerunning the scenario on the virtual clock with other seeds: the recommended limit is the one the reruns measured; the replay's figure is its estimate."
	default:
		b.Note = span + " Replay estimate, not verified"
		if note != "" {
			b.Note += " (" + strings.TrimPrefix(note, "not verified: ") + ")"
		}
		b.Note += "."
		if hint != "" {
			b.Note += " To verify them by rerunning the scenario with other seeds: " + hint + "."
		}
	}
	return b
}

// Plans turns the analytics PTU plans into the report's: the monthly cost
// curve from 0 PTU (all pay-as-you-go) up, the recommended plan (the
// cheapest, or the cheapest under the spill target when one was set), the
// cheapest and the calculator's peak estimate.
func Plans(plans []analytics.ModelPTUPlan) []reports.PTUPlan {
	var out []reports.PTUPlan
	for _, p := range plans {
		rp := reports.PTUPlan{Model: p.Model, PeakEstimate: p.Calculator.PTU, Explanation: p.Explanation,
			PAYGOnly: reports.MoneyFromFloat(p.PAYGMonthlyCost), Recommended: -1, Cheapest: -1,
			Verdict: p.Verdict, Billing: string(p.Billing), Tentative: p.Tentative, Evidence: p.Evidence}
		for _, c := range p.Candidates {
			rp.Points = append(rp.Points, reports.PlanPoint{PTUs: c.PTU,
				PTUCost: reports.MoneyFromFloat(c.MonthlyPTUCost), SpillCost: reports.MoneyFromFloat(c.MonthlySpillCost),
				SpillTokens: c.Spilled, PTUShare: c.PTUShare})
		}
		if p.Cheapest >= 0 && p.Cheapest < len(p.Candidates) {
			rp.Cheapest = p.Candidates[p.Cheapest].PTU
		}
		if p.Recommended >= 0 && p.Recommended < len(p.Candidates) {
			rp.Recommended = p.Candidates[p.Recommended].PTU
		}
		out = append(out, rp)
	}
	return out
}

// FromChargeback turns a chargeback result into a report: PAYG and
// spill-over lines become usage lines (spill-over marked by its method),
// and each PTU deployment becomes a capacity charge whose allocations are
// its PTU lines (the idle line included), so the report adds up exactly as
// the bill does.
func FromChargeback(res *analytics.ChargebackResult, prices *pricing.Pricing, source string) (*reports.Report, error) {
	r := &reports.Report{
		GroupBy:  res.By,
		Period:   res.Period,
		Currency: res.Currency,
		Method: reports.Methodology{
			PricingSource: source + ".",
			Allocation:    fmt.Sprintf("Method %s. %s.", res.Method, upperFirst(res.MethodDescription)),
			Rounding:      upperFirst(res.RoundingRule) + ".",
		},
	}
	caps := map[string]*reports.CapacityCharge{}
	var order []string
	models := map[string]bool{}
	for _, l := range res.Lines {
		models[l.Model] = true
		if l.Tier != analytics.TierPTU {
			line, err := usageLine(l)
			if err != nil {
				return nil, err
			}
			r.Usage = append(r.Usage, line)
			continue
		}
		c := caps[l.Deployment]
		if c == nil {
			var err error
			if c, err = capacityCharge(res, prices, l.Deployment); err != nil {
				return nil, err
			}
			caps[l.Deployment] = c
			order = append(order, l.Deployment)
		}
		c.Allocations = append(c.Allocations, reports.Allocation{
			Team: teamName(l.Team), Ratio: l.Share, Exact: l.ShareExact, Basis: l.Tokens, Cost: centsMoney(l.Cents)})
		c.Cost += centsMoney(l.Cents)
	}
	for _, name := range order {
		r.Capacity = append(r.Capacity, *caps[name])
	}
	r.Method.Notes = notes(res, prices, models)
	r.Method.Warnings = res.Warnings
	r.Normalize()
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("assemble report: %w", err)
	}
	return r, nil
}

// teamName names records without a team.
func teamName(t string) string {
	if t == "" {
		return "(no team)"
	}
	return t
}

func centsMoney(c int64) reports.Money { return reports.Money(c * 10_000) }

func usageLine(l analytics.ChargeLine) (reports.Line, error) {
	if l.CostType == pricing.PTUShare {
		return reports.Line{}, fmt.Errorf("assemble report: %s line %s/%s has cost type %q", l.Tier, l.Team, l.Model, l.CostType)
	}
	method := reports.DirectMethod
	if l.Tier == analytics.TierSpill {
		method = reports.SpilloverMethod
	}
	return reports.Line{Team: teamName(l.Team), Model: l.Model, Type: l.CostType, Tokens: l.Tokens,
		UnitPrice: reports.MoneyFromFloat(l.UnitPrice), Cost: centsMoney(l.Cents), Method: method}, nil
}

// capacityCharge describes a PTU deployment's charge: PTU-Hours at the
// hourly price, or PTU-Months at the reservation's monthly price.
func capacityCharge(res *analytics.ChargebackResult, prices *pricing.Pricing, name string) (*reports.CapacityCharge, error) {
	for _, d := range res.Deployments {
		if d.Name != name {
			continue
		}
		m, ok := prices.Lookup(d.Model)
		if !ok || m.PTU == nil {
			return nil, fmt.Errorf("assemble report: deployment %s: no PTU price for %s", name, d.Model)
		}
		c := &reports.CapacityCharge{
			ID: "ptu/" + d.Model + "/" + d.Name, Model: d.Model, Deployment: d.Name, PTUs: d.PTU,
			Method:            "ptu-" + string(res.Method),
			MethodDescription: res.MethodDescription,
			BasisUnit:         "Tokens",
			Utilization:       d.Utilization,
		}
		hours := res.Period.End.Sub(res.Period.Start).Hours()
		if d.Billing == pricing.Hourly {
			c.Unit, c.UnitPrice = "PTU-Hours", reports.MoneyFromFloat(m.PTU.Hourly)
			c.Quantity = reports.Quantity(math.Round(float64(d.PTU) * hours * 1e6))
		} else {
			c.Unit, c.UnitPrice = "PTU-Months", reports.MoneyFromFloat(m.PTU.MonthlyPrice(d.Billing))
			c.Quantity = reports.Quantity(math.Round(float64(d.PTU) * months(res.Period) * 1e6))
		}
		return c, nil
	}
	return nil, fmt.Errorf("assemble report: PTU lines name deployment %q, which the bill does not list", name)
}

// months counts whole calendar months when the period is made of them,
// else hours / pricing.HoursPerMonth, as analytics bills reservations.
func months(p analytics.Period) float64 {
	if n := p.WholeMonths(); n > 0 {
		return float64(n)
	}
	return p.Hours() / pricing.HoursPerMonth
}

// notes are the per-model price sources.
func notes(res *analytics.ChargebackResult, prices *pricing.Pricing, models map[string]bool) []string {
	var names []string
	for m := range models {
		names = append(names, m)
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		if m, ok := prices.Lookup(n); ok && m.Source != "" {
			out = append(out, fmt.Sprintf("%s prices: %s", n, m.Source))
		}
	}
	return out
}

// teamLimits sums the tokens-per-minute limits of each team's
// subscriptions; a team with an unlimited subscription, or one whose limit
// applies per counter key to several keys, has no team limit (0).
func teamLimits(subs []analytics.SubscriptionSummary) map[string]int64 {
	out := map[string]int64{}
	unlimited := map[string]bool{}
	for _, s := range subs {
		if s.LimitTPM <= 0 || s.Keys > 1 {
			unlimited[s.Team] = true
		}
		out[s.Team] += s.LimitTPM
	}
	for t := range unlimited {
		out[t] = 0
	}
	return out
}

// addBusiestKeys gives each team whose limit applies per key to several
// keys the traffic of its busiest key (the subscription summary's PeakKey
// with the highest peak) against the per-key limit.
func addBusiestKeys(ctx context.Context, db *analytics.DB, dopts analytics.DemandOptions, teams []reports.TeamActivity, subs []analytics.SubscriptionSummary) error {
	busiest := map[string]analytics.SubscriptionSummary{}
	for _, s := range subs {
		if b, ok := busiest[s.Team]; s.Keys > 1 && (!ok || s.PeakTPM > b.PeakTPM) {
			busiest[s.Team] = s
		}
	}
	if len(busiest) == 0 {
		return nil
	}
	dopts.By = analytics.ByCounterKey
	series, err := analytics.Demand(ctx, db, dopts)
	if err != nil {
		return err
	}
	byKey := map[string]analytics.DemandSeries{}
	for _, s := range series {
		byKey[s.Key] = s
	}
	for i, t := range teams {
		s, ok := busiest[t.Team]
		ks, found := byKey[s.PeakKey]
		if !ok || !found {
			continue
		}
		k := &reports.KeyActivity{Key: s.PeakKey, Keys: s.Keys, Demand: make([]reports.MinutePoint, len(ks.Points))}
		for j, p := range ks.Points {
			k.Demand[j] = reports.MinutePoint{Minute: p.Minute, Demand: p.Demand, Served: p.Served, LimitTPM: s.LimitTPM}
		}
		teams[i].BusiestKey = k
	}
	return nil
}

// Activity turns per-team demand series into the teams' activity: demand,
// served tokens, the team's limit, and request and throttle counts.
func Activity(series []analytics.DemandSeries, limits map[string]int64) []reports.TeamActivity {
	return activity(series, limits, "(no team)")
}

// groupLimits are the tokens-per-minute limits drawn against a group's
// demand when the bill is split by another column than the team: a
// subscription's own limit (none when it applies per key to several
// keys); none for a product, a user or a dimension, whose requests may
// fall under several subscriptions' limits.
func groupLimits(by analytics.Grouping, series []analytics.DemandSeries, subs []analytics.SubscriptionSummary) map[string]int64 {
	out := map[string]int64{}
	for _, s := range series {
		out[s.Key] = 0
	}
	if by.Name != string(analytics.BySubscription) {
		return out
	}
	for _, s := range subs {
		if s.Keys <= 1 {
			out[s.SubscriptionID] = max(s.LimitTPM, 0)
		}
	}
	return out
}

// activity is Activity naming records without a key none.
func activity(series []analytics.DemandSeries, limits map[string]int64, none string) []reports.TeamActivity {
	var out []reports.TeamActivity
	for _, s := range series {
		limit, ok := limits[s.Key]
		if !ok {
			limit = s.LimitTPM
		}
		name := s.Key
		if name == "" {
			name = none
		}
		a := reports.TeamActivity{Team: name, Demand: make([]reports.MinutePoint, len(s.Points))}
		for i, p := range s.Points {
			a.Demand[i] = reports.MinutePoint{Minute: p.Minute, Demand: p.Demand, Served: p.Served, LimitTPM: limit}
			a.Requests += p.Requests
			a.Throttled += p.Throttled
			a.Retries += p.Retries
			a.RetriesThrottled += p.RetriesThrottled
			a.RefusedTokens += p.RefusedTokens
		}
		out = append(out, a)
	}
	return out
}

// DataPeriod is the period a run's own report covers: from the first to
// the end of the last minute with records. ok is false when the database
// has no records.
func DataPeriod(ctx context.Context, db *analytics.DB) (p analytics.Period, ok bool, err error) {
	series, err := analytics.Demand(ctx, db, analytics.DemandOptions{By: analytics.ByTeam})
	if err != nil {
		return p, false, err
	}
	for _, s := range series {
		if len(s.Points) == 0 {
			continue
		}
		first, last := s.Points[0].Minute, s.Points[len(s.Points)-1].Minute.Add(time.Minute)
		if !ok || first.Before(p.Start) {
			p.Start = first
		}
		if !ok || last.After(p.End) {
			p.End = last
		}
		ok = true
	}
	if ok {
		p.Label = "run " + p.Start.Format("2006-01-02 15:04") + "–" + p.End.Format("15:04") + " UTC"
		if p.End.Sub(p.Start) >= 24*time.Hour {
			p.Label = "run " + p.Start.Format("2006-01-02 15:04") + " – " + p.End.Format("2006-01-02 15:04") + " UTC"
		}
	}
	return p, ok, nil
}

// upperFirst capitalises the first letter of a sentence.
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// cacheUse fills r.Cache from the records' semantic cache lookups.
func cacheUse(ctx context.Context, db *analytics.DB, opts Options, r *reports.Report) error {
	stats, err := analytics.CacheStats(ctx, db, opts.Pricing)
	if err != nil {
		return err
	}
	for _, s := range stats {
		r.Cache = append(r.Cache, reports.CacheUse{Team: s.Team, Persona: s.Persona, Model: s.Model, EmbeddingModel: s.EmbeddingModel,
			Lookups: s.Lookups, Hits: s.Hits, CountedHits: s.CountedHits, CachedPromptTokens: s.CachePromptTokens, CachedCompletionTokens: s.CacheCompletionTokens,
			EmbeddingTokens: s.EmbeddingTokens, Saved: reports.MoneyFromFloat(s.Saved), EmbeddingCost: reports.MoneyFromFloat(s.EmbeddingCost)})
	}
	return nil
}
