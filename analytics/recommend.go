package analytics

import (
	"cmp"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
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
	// TierNames are the products consumers are grouped into when the
	// records carry no product; default Developer, Standard, Unlimited.
	TierNames []string
}

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
	// RecommendedTPM is the smallest multiple of the unit whose replay
	// throttles at most the target share of requests.
	RecommendedTPM int64
	AtRecommended  ReplayResult
	// Curve is the replay at candidate limits, ascending.
	Curve []ReplayResult
	// Explanation says in one line why.
	Explanation string
}

// TierRecommendation is a proposed product (tier) of consumers.
type TierRecommendation struct {
	Name      string
	Consumers []string
	// TPM is the largest recommended TPM among the tier's consumers, so
	// each meets the throttle target.
	TPM int64
	// MonthlyQuota is a per-consumer token quota (Monthly period): the
	// largest consumer's demand scaled to 30 days, plus 20%, rounded up to
	// 100,000 tokens.
	MonthlyQuota int64
	Explanation  string
}

// Recommendation is Recommend's answer.
type Recommendation struct {
	By             Dimension
	Mode           policy.Mode // the admission rule replayed
	TargetThrottle float64
	Minutes        int64 // length of the zero-filled range
	Consumers      []ConsumerRecommendation
	// TierSource is "product" when tiers are the records' products,
	// "default" when consumers were split into TierNames by size.
	TierSource string
	Tiers      []TierRecommendation
}

// Recommend proposes a TPM limit per consumer by replaying its recorded
// demand through the gateway's token limit at candidate limits, and groups
// consumers into tiers.
func Recommend(ctx context.Context, db *DB, opts RecommendOptions) (*Recommendation, error) {
	if opts.TargetThrottle <= 0 {
		opts.TargetThrottle = 0.01
	}
	if opts.By == "" {
		opts.By = ByCounterKey
	}
	if opts.Unit <= 0 {
		opts.Unit = 1000
	}
	if opts.Mode == "" {
		opts.Mode = policy.ModeAPIM
	}
	if opts.Mode != policy.ModeAPIM && opts.Mode != policy.ModeStrict {
		return nil, fmt.Errorf("recommend: unknown mode %q (want apim or strict)", opts.Mode)
	}
	keys, err := consumerKeys(ctx, db, opts)
	if err != nil {
		return nil, err
	}
	events, err := loadEvents(ctx, db, opts, keys)
	if err != nil {
		return nil, err
	}
	rec := &Recommendation{By: opts.By, Mode: opts.Mode, TargetThrottle: opts.TargetThrottle, Consumers: keys.consumers}
	if len(keys.consumers) > 0 {
		rec.Minutes = keys.hi - keys.lo + 1
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
		sizeLimit(c, ev, opts)
	})
	rec.tiers(opts)
	return rec, nil
}

// consumerSet is the consumers of a recommendation and their shared range
// of Unix minutes [lo, hi].
type consumerSet struct {
	consumers []ConsumerRecommendation
	events    []int64        // demand events per consumer, to size the slices they are read into
	index     map[uint64]int // key hash → index in consumers
	lo, hi    int64
}

func consumerKeys(ctx context.Context, db *DB, opts RecommendOptions) (*consumerSet, error) {
	rows, err := db.db.QueryContext(ctx, query("consumer_keys.sql"),
		string(opts.By), opts.Model, nullTime(opts.From), nullTime(opts.To))
	if err != nil {
		return nil, fmt.Errorf("recommend: consumers: %w", err)
	}
	defer rows.Close()
	set := &consumerSet{index: map[uint64]int{}}
	for rows.Next() {
		var c ConsumerRecommendation
		var h uint64
		var n int64
		if err := rows.Scan(&c.Key, &h, &c.Team, &c.Product, &c.CurrentLimitTPM, &n, &set.lo, &set.hi); err != nil {
			return nil, fmt.Errorf("recommend: consumers: %w", err)
		}
		if _, dup := set.index[h]; dup {
			return nil, fmt.Errorf("recommend: two consumer keys share the hash %x", h)
		}
		set.index[h] = len(set.consumers)
		set.consumers = append(set.consumers, c)
		set.events = append(set.events, n)
	}
	return set, rows.Err()
}

// loadEvents reads every consumer's demand events in table order. Reading
// ten million rows through database/sql (a conversion by reflection per
// value) took longer than replaying them, so the table is read in one
// rowid range per core, each on its own connection straight from the
// driver's rows, and the parts are joined in order.
func loadEvents(ctx context.Context, db *DB, opts RecommendOptions, keys *consumerSet) ([][]event, error) {
	var end int64
	if err := db.db.QueryRowContext(ctx, `SELECT coalesce(max(rowid) + 1, 0) FROM records`).Scan(&end); err != nil {
		return nil, fmt.Errorf("recommend: events: %w", err)
	}
	parts := int(max(1, min(int64(runtime.GOMAXPROCS(0)), end)))
	got := make([][][]event, parts)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for p := range parts {
		wg.Go(func() {
			from, to := end*int64(p)/int64(parts), end*int64(p+1)/int64(parts)
			got[p], errs[p] = loadEventRange(ctx, db, opts, keys, from, to, end)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("recommend: events: %w", err)
	}
	out := got[0]
	for _, part := range got[1:] {
		for i := range out {
			out[i] = append(out[i], part[i]...)
		}
	}
	return out, nil
}

// loadEventRange reads the demand events of rows with rowid in [from, to)
// of [0, end). The first part's slices are made large enough for all of a
// consumer's events, so the later parts are appended to them without
// copying twice; the later parts' slices are sized by their share of rows.
func loadEventRange(ctx context.Context, db *DB, opts RecommendOptions, keys *consumerSet, from, to, end int64) ([][]event, error) {
	out := make([][]event, len(keys.consumers))
	for i, n := range keys.events {
		if from > 0 {
			n = n*(to-from)/end + n/8
		}
		out[i] = make([]event, 0, n)
	}
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	args := []driver.NamedValue{
		{Ordinal: 1, Value: string(opts.By)}, {Ordinal: 2, Value: opts.Model},
		{Ordinal: 3, Value: nullTime(opts.From)}, {Ordinal: 4, Value: nullTime(opts.To)},
		{Ordinal: 5, Value: from}, {Ordinal: 6, Value: to},
	}
	err = conn.Raw(func(dc any) error {
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("driver connection %T cannot query", dc)
		}
		rows, err := qc.QueryContext(ctx, query("replay_events.sql"), args)
		if err != nil {
			return err
		}
		defer rows.Close()
		row := make([]driver.Value, 3)
		for {
			if err := rows.Next(row); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			h, ok1 := row[0].(uint64)
			at, ok2 := row[1].(int64)
			tokens, ok3 := row[2].(int64)
			if !ok1 || !ok2 || !ok3 {
				return fmt.Errorf("unexpected row types %T, %T, %T", row[0], row[1], row[2])
			}
			i, ok := keys.index[h]
			if !ok {
				return fmt.Errorf("unknown consumer hash %x", h)
			}
			out[i] = append(out[i], event{atUS: at, tokens: tokens})
		}
	})
	return out, err
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
		c.Tokens += e.tokens
		m := floorDiv(e.atUS, 60_000_000)
		if started && m != curMinute {
			sums = append(sums, float64(cur))
			cur = 0
		}
		curMinute, started = m, true
		cur += e.tokens
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

// sizeLimit finds the consumer's recommended limit and its curve.
//
// The smallest limit L (a multiple of the unit) whose replay throttles at
// most the target share of requests is found by bisection between one unit
// and the peak 60 s window rounded up (a limit above the peak throttles
// nothing: the window never holds the limit). The curve adds the replay at
// the per-minute p50, p95, p99 and max, and at ½, ¾, 1¼, 1½ and 2 times L.
func sizeLimit(c *ConsumerRecommendation, events []event, opts RecommendOptions) {
	unit := opts.Unit
	c.PeakWindowTPM = peakWindow(events)
	hi := roundUp(c.PeakWindowTPM+1, unit)
	lo := unit
	queue := make([]event, 0, 1024)
	budget := throttleBudget(int64(len(events)), opts.TargetThrottle)
	for lo < hi {
		mid := roundUp((lo+hi)/2, unit)
		if mid >= hi {
			mid = hi - unit
		}
		if replayFast(events, mid, opts.Mode, queue, budget).ThrottledRequests <= budget {
			hi = mid
		} else {
			lo = mid + unit
		}
	}
	cache := map[int64]ReplayResult{}
	run := func(l int64) ReplayResult {
		r, ok := cache[l]
		if !ok {
			r = replayAbovePeak(events, l, c.PeakWindowTPM, opts.Mode)
			cache[l] = r
		}
		return r
	}
	c.RecommendedTPM = hi
	c.AtRecommended = run(hi)
	if hi > unit {
		run(hi - unit)
	}
	run(roundUp(int64(math.Ceil(c.P99)), unit))
	for _, f := range []float64{0.5, 1.25, 1.5, 2} {
		run(roundUp(int64(f*float64(hi)), unit))
	}
	c.Curve = make([]ReplayResult, 0, len(cache))
	for _, r := range cache {
		c.Curve = append(c.Curve, r)
	}
	sort.Slice(c.Curve, func(i, j int) bool { return c.Curve[i].LimitTPM < c.Curve[j].LimitTPM })
	c.Explanation = explain(c, opts.TargetThrottle)
}

// roundUp rounds v up to a positive multiple of unit.
func roundUp(v, unit int64) int64 {
	if v <= unit {
		return unit
	}
	return (v + unit - 1) / unit * unit
}

func explain(c *ConsumerRecommendation, target float64) string {
	r := c.AtRecommended
	s := fmt.Sprintf("p99 minute was %s tokens (max %s, peak 60 s window %s); %s throttles %s of requests and %s of tokens (target %s)",
		kTokens(c.P99), kTokens(c.Max), kTokens(float64(c.PeakWindowTPM)), kTokens(float64(c.RecommendedTPM)),
		pct(r.RequestShare()), pct(r.TokenShare()), pct(target))
	if c.CurrentLimitTPM > 0 {
		s += fmt.Sprintf("; now %s", kTokens(float64(c.CurrentLimitTPM)))
	}
	return s
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
			return r.Consumers[order[a]].RecommendedTPM < r.Consumers[order[b]].RecommendedTPM
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
	var biggest string
	for _, i := range idx {
		c := r.Consumers[i]
		t.Consumers = append(t.Consumers, c.Key)
		if c.RecommendedTPM > t.TPM {
			t.TPM, biggest = c.RecommendedTPM, c.Key
		}
		maxTokens = max(maxTokens, c.Tokens)
	}
	if r.Minutes > 0 {
		monthly := float64(maxTokens) * 30 * 24 * 60 / float64(r.Minutes) * 1.2
		t.MonthlyQuota = roundUp(int64(math.Ceil(monthly)), 100_000)
	}
	t.Explanation = fmt.Sprintf("%s; %s needs the most (%s TPM)", plural(int64(len(idx)), "consumer"), biggest, kTokens(float64(t.TPM)))
	return t
}
