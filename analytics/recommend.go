package analytics

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aiload/aiload/gateway/policy"
)

// RecommendOptions shapes Recommend.
type RecommendOptions struct {
	// TargetThrottle is the largest share of requests a recommended limit
	// may throttle; default 0.01 (1%).
	TargetThrottle float64
	// By is the consumer a limit applies to; default ByCounterKey.
	By    Dimension
	Model string // only this model; "" = all
	// From and To bound the records used; zero = all.
	From, To time.Time
	// Unit is the granularity of proposed limits in TPM; default 1,000
	// (Azure's quota unit).
	Unit int64
	// Mode is the token limit's admission rule replayed: policy.ModeAPIM
	// (default, API Management with estimate-prompt-tokens off) or
	// policy.ModeStrict.
	Mode policy.Mode
	// EstimatePromptTokens replays estimate-prompt-tokens on: the prompt
	// must fit and is reserved at arrival (streams always are).
	EstimatePromptTokens bool
	// TierNames are the products consumers are grouped into when the
	// records carry no product; default Developer, Standard, Unlimited.
	TierNames []string
	// Caller is how callers whose persona the records do not describe
	// react to a 429 (foreign logs); zero = DefaultCaller.
	Caller Caller
	// Callers are the callers by persona name (from a scenario); they take
	// precedence over what the records show.
	Callers map[string]Caller
	// MinRequests is the fewest first attempts a consumer needs for a
	// recommendation; below it the consumer gets "not enough data" and
	// keeps its current limit. Default DefaultMinRequests; < 0 = no minimum.
	MinRequests int64
	// Resamples is the number of bootstrap resamples behind each limit's
	// interval; default 200, < 0 = no interval.
	Resamples int
}

// DefaultMinRequests is the fewest first attempts Recommend sizes a limit
// on: at a 1% target, 200 requests leave room for two refusals.
const DefaultMinRequests = 200

// Consumer statuses (ConsumerRecommendation.Status).
const (
	StatusOK = "ok"
	// StatusNotEnoughData: fewer first attempts than MinRequests; the
	// consumer keeps its current limit.
	StatusNotEnoughData = "not enough data"
)

// ConsumerRecommendation is the proposed TPM limit of one consumer.
type ConsumerRecommendation struct {
	Key             string
	Team, Product   string // the most frequent values in the consumer's records
	CurrentLimitTPM int64  // the largest limit recorded; 0 = none
	Requests        int64  // demand requests (first attempts)
	Tokens          int64  // demanded tokens
	// Per-minute demand over the zero-filled range (tokens per minute).
	P50, P95, P99, Max, Mean float64
	// PeakWindowTPM is the most tokens demanded in any sliding 60 s window.
	PeakWindowTPM int64
	// Burstiness is the peak-to-mean ratio of per-minute demand (Max /
	// Mean); 1 is perfectly steady.
	Burstiness float64
	// Status is StatusOK or StatusNotEnoughData.
	Status string
	// RecommendedTPM is the smallest multiple of the unit whose replay
	// refuses at most the target share of first attempts; with
	// StatusNotEnoughData, the current limit (0 when none).
	RecommendedTPM int64
	AtRecommended  ReplayResult
	// LowTPM and HighTPM are the 10th and 90th percentiles of the
	// recommended limit over bootstrap resamples of the consumer's demand
	// (blocks of BlockMinutes drawn with replacement); 0 when not computed.
	LowTPM, HighTPM int64
	// Callers are the callers replayed: "persona: retry_after:3 (records)".
	Callers []string
	// Curve is the replay at candidate limits, ascending.
	Curve []ReplayResult
	// Explanation says in one line why.
	Explanation string
	// Verified is what reruns of the scenario measured (nil when the
	// limits were not verified); see ApplyVerification and LimitTPM.
	Verified *VerifiedLimit `json:",omitempty"`
}

// TierRecommendation is a proposed product (tier) of consumers.
type TierRecommendation struct {
	Name      string
	Consumers []string
	// TPM is the largest limit to set (LimitTPM: verified when reruns
	// measured it, else the replay's estimate) among the tier's consumers,
	// so each meets the throttle target.
	TPM int64
	// MonthlyQuota is a per-consumer token quota (Monthly period): the
	// largest consumer's demand scaled to 30 days, plus 20%, rounded up to
	// 100,000 tokens.
	MonthlyQuota int64
	// QuotaNote warns when MonthlyQuota is extrapolated from less than a
	// day of data; "" otherwise.
	QuotaNote   string
	Explanation string
}

// Recommendation is Recommend's answer.
type Recommendation struct {
	By                   Dimension
	Mode                 policy.Mode // the admission rule replayed
	EstimatePromptTokens bool
	// TargetThrottle bounds the share of first attempts refused (429 or 403).
	TargetThrottle float64
	Minutes        int64 // length of the zero-filled range
	// From and To are the range of minutes replayed, [From, To).
	From, To time.Time
	// MinRequests is the fewest first attempts a limit is sized on.
	MinRequests int64
	// BlockMinutes is the bootstrap's block length; Resamples its count.
	BlockMinutes int64
	Resamples    int
	Consumers    []ConsumerRecommendation
	// TierSource is "product" when tiers are the records' products,
	// "default" when consumers were split into TierNames by size.
	TierSource string
	Tiers      []TierRecommendation
	// tierNames are the names consumers were split into by size
	// (RecommendOptions.TierNames), kept to recompute the tiers.
	tierNames []string
}

// Recommend proposes a TPM limit per consumer by replaying its recorded
// demand through the gateway's token limit at candidate limits, with its
// callers' retries in the loop, and groups consumers into tiers.
func Recommend(ctx context.Context, db *DB, opts RecommendOptions) (*Recommendation, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	keys, err := consumerKeys(ctx, db, opts)
	if err != nil {
		return nil, err
	}
	callers, err := inferCallers(ctx, db, opts)
	if err != nil {
		return nil, err
	}
	events, err := loadEvents(ctx, db, opts, keys, callers)
	if err != nil {
		return nil, err
	}
	rec := &Recommendation{By: opts.By, Mode: opts.Mode, EstimatePromptTokens: opts.EstimatePromptTokens,
		TargetThrottle: opts.TargetThrottle, Consumers: keys.consumers, MinRequests: opts.MinRequests, Resamples: opts.Resamples}
	if len(keys.consumers) > 0 {
		rec.Minutes = keys.hi - keys.lo + 1
		rec.From, rec.To = time.Unix(keys.lo*60, 0).UTC(), time.Unix((keys.hi+1)*60, 0).UTC()
		rec.BlockMinutes = blockMinutes(rec.Minutes)
	}
	// Largest consumers first, so the last one running is a small one.
	order := make([]int, len(rec.Consumers))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(events[order[a]]) > len(events[order[b]]) })
	parallel(len(order), func(k int) {
		i := order[k]
		c := &rec.Consumers[i]
		ev := events[i]
		byTime := func(a, b event) int { return cmp.Compare(a.atUS, b.atUS) }
		if !slices.IsSortedFunc(ev, byTime) {
			slices.SortStableFunc(ev, byTime)
		}
		minuteStats(c, ev, rec.Minutes)
		fillRefusedLatency(ev)
		c.Callers = callers.describe(ev)
		s := sizing{opts: opts, rp: &replayer{events: ev, callers: callers.callers,
			rule: replayRule{mode: opts.Mode, estimate: opts.EstimatePromptTokens}}}
		s.setBlocks(keys.lo*60_000_000, rec.BlockMinutes*60_000_000, rec.Minutes)
		s.size(c)
	})
	rec.tierNames = opts.TierNames
	rec.tiers(opts)
	return rec, nil
}

func (o *RecommendOptions) defaults() error {
	if o.TargetThrottle <= 0 {
		o.TargetThrottle = 0.01
	}
	if o.By == "" {
		o.By = ByCounterKey
	}
	if o.Unit <= 0 {
		o.Unit = 1000
	}
	if o.Mode == "" {
		o.Mode = policy.ModeAPIM
	}
	if o.MinRequests == 0 {
		o.MinRequests = DefaultMinRequests
	}
	if o.Resamples == 0 {
		o.Resamples = 200
	}
	if o.Mode != policy.ModeAPIM && o.Mode != policy.ModeStrict {
		return fmt.Errorf("recommend: unknown mode %q (want apim or strict)", o.Mode)
	}
	if _, err := ParseDimension(string(o.By)); err != nil {
		return fmt.Errorf("recommend: %w", err)
	}
	return nil
}

// blockMinutes is the bootstrap's block for a range of minutes: days over
// four weeks or more, hours over a day or more, else a tenth of the range
// up to 10 minutes (at least 1).
func blockMinutes(minutes int64) int64 {
	switch {
	case minutes >= 28*1440:
		return 1440
	case minutes >= 1440:
		return 60
	}
	return max(1, min(10, minutes/10))
}

// minuteStats fills the consumer's request and token counts and its
// per-minute demand statistics over the zero-filled range of minutes (the
// minutes without demand count as zeros). Events must be in time order.
func minuteStats(c *ConsumerRecommendation, events []event, minutes int64) {
	var sums []float64
	var cur int64
	curMinute, started := int64(0), false
	for _, e := range events {
		c.Requests++
		c.Tokens += int64(e.tokens)
		m := floorDiv(e.atUS, 60_000_000)
		if started && m != curMinute {
			sums = append(sums, float64(cur))
			cur = 0
		}
		curMinute, started = m, true
		cur += int64(e.tokens)
	}
	if started {
		sums = append(sums, float64(cur))
	}
	c.P50, c.P95, c.P99, c.Max, _ = quantilesPadded(sums, max(int(minutes)-len(sums), 0))
	if minutes > 0 {
		c.Mean = float64(c.Tokens) / float64(minutes)
	}
	if c.Mean > 0 {
		c.Burstiness = c.Max / c.Mean
	}
}

// floorDiv is a / b rounded toward minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// parallel calls f(0..n-1) on GOMAXPROCS goroutines.
func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// roundUp rounds v up to a positive multiple of unit.
func roundUp(v, unit int64) int64 {
	if v <= unit {
		return unit
	}
	return (v + unit - 1) / unit * unit
}

// kTokens renders a token count compactly: 950, 41k, 1.2M.
func kTokens(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.3gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.3gk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// pct renders a share as a percentage with up to three significant digits.
func pct(f float64) string { return strconv.FormatFloat(100*f, 'g', 3, 64) + "%" }

// tiers groups consumers into products and proposes each one's TPM and quota.
func (r *Recommendation) tiers(opts RecommendOptions) {
	groups := map[string][]int{}
	var names []string
	if len(opts.TierNames) == 0 && slices.ContainsFunc(r.Consumers,
		func(c ConsumerRecommendation) bool { return c.Product != "" }) {
		r.TierSource = "product"
	}
	if r.TierSource == "product" {
		for i, c := range r.Consumers {
			name := c.Product
			if name == "" {
				name = "(none)"
			}
			if _, ok := groups[name]; !ok {
				names = append(names, name)
			}
			groups[name] = append(groups[name], i)
		}
	} else {
		r.TierSource = "default"
		names = opts.TierNames
		if len(names) == 0 {
			names = []string{"Developer", "Standard", "Unlimited"}
		}
		order := make([]int, len(r.Consumers))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool {
			return r.Consumers[order[a]].LimitTPM() < r.Consumers[order[b]].LimitTPM()
		})
		for k, i := range order {
			name := names[k*len(names)/len(order)]
			groups[name] = append(groups[name], i)
		}
	}
	for _, name := range names {
		idx := groups[name]
		if len(idx) == 0 {
			continue
		}
		r.Tiers = append(r.Tiers, r.tier(name, idx))
	}
	if r.TierSource == "product" {
		slices.SortStableFunc(r.Tiers, func(a, b TierRecommendation) int { return cmp.Compare(a.TPM, b.TPM) })
	}
}

func (r *Recommendation) tier(name string, idx []int) TierRecommendation {
	t := TierRecommendation{Name: name}
	var maxTokens int64
	var biggest, basis string
	for _, i := range idx {
		c := &r.Consumers[i]
		t.Consumers = append(t.Consumers, c.Key)
		if l := c.LimitTPM(); l > t.TPM {
			t.TPM, biggest, basis = l, c.Key, ""
			if c.Verified != nil && c.Verified.TPM > 0 {
				basis = ", verified on reruns"
			}
		}
		maxTokens = max(maxTokens, c.Tokens)
	}
	if r.Minutes > 0 {
		monthly := float64(maxTokens) * 30 * 24 * 60 / float64(r.Minutes) * 1.2
		t.MonthlyQuota = roundUp(int64(math.Ceil(monthly)), 100_000)
		if r.Minutes < 24*60 {
			t.QuotaNote = fmt.Sprintf("extrapolated to a month from %s of data, less than a day", plural(r.Minutes, "minute"))
		}
	}
	t.Explanation = fmt.Sprintf("%s; %s needs the most (%s TPM%s)", plural(int64(len(idx)), "consumer"), biggest, kTokens(float64(t.TPM)), basis)
	return t
}
