package dashboard

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/aiload/aiload/record"
)

// Latency histograms hold microseconds from 1 µs to 10 minutes, 3 significant digits.
const (
	histMin     = 1
	histMax     = int64(10 * time.Minute / time.Microsecond)
	histSigFigs = 3
)

// maxEvents is how many events of each kind a Tally keeps: a storm of 429s
// does not push the rare breaker trip or error out of view.
const maxEvents = 200

// Tally turns token-metric records into the gateway-side part of a
// Snapshot: rows per subscription, backend and persona, rates, totals and
// events. It is a record.Sink, safe for concurrent use. Time comes from the
// records themselves (ts + latency_ms) and from the now passed to Snapshot,
// never from the wall clock.
type Tally struct {
	mu       sync.Mutex
	price    PriceFunc
	subs     map[string]*subTally
	backends map[string]*backendTally
	personas map[string]*personaTally
	reqs     window // requests per second
	tokens   window // tokens per second
	totals   Totals
	events   map[EventKind][]Event // oldest first, per kind
}

var _ record.Sink = (*Tally)(nil)

// NewTally returns an empty Tally. price values ok requests' tokens; nil
// means cost is unknown.
func NewTally(price PriceFunc) *Tally {
	return &Tally{
		price:    price,
		subs:     map[string]*subTally{},
		backends: map[string]*backendTally{},
		personas: map[string]*personaTally{},
		events:   map[EventKind][]Event{},
		totals:   Totals{CostKnown: price != nil},
	}
}

type subTally struct {
	row       TeamRow
	keys      map[string]*keyTally // by counter key value
	throttled window               // 429s
	hist      *hdrhistogram.Histogram
}

// keyTally is one counter of a token limit (a subscription, an IP, a user…).
type keyTally struct {
	used  window // tokens charged
	limit int64
}

type backendTally struct {
	row    BackendRow
	tokens window
	util   *hdrhistogram.Histogram // reported utilization, hundredths of a percent; nil until one
}

type personaTally struct {
	row  PersonaRow
	hist *hdrhistogram.Histogram
	ips  map[string]time.Time // client IP → last 429 (zero: never)
}

// AddSubscription makes a subscription's row appear before its first request.
func (t *Tally) AddSubscription(id, team, product string, limitTPM int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sub(id)
	s.row.Team, s.row.Product, s.row.TPMLimit = team, product, limitTPM
}

// AddBackend makes a backend's row appear before its first request, with
// what the configuration knows: tier, priority and capacity.
func (t *Tally) AddBackend(row BackendRow) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.backend(row.Name)
	b.row.Tier, b.row.Priority, b.row.CapacityTPM = row.Tier, row.Priority, row.CapacityTPM
}

// AddPersona makes a persona's row appear before its first request.
func (t *Tally) AddPersona(name, team, kind string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.persona(name)
	p.row.Team, p.row.Kind = team, kind
}

// AddEvent records an event that is not a request, e.g. a breaker trip.
func (t *Tally) AddEvent(e Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.event(e)
}

func (t *Tally) sub(id string) *subTally {
	s := t.subs[id]
	if s == nil {
		s = &subTally{row: TeamRow{Subscription: id}, keys: map[string]*keyTally{}, hist: hdrhistogram.New(histMin, histMax, histSigFigs)}
		t.subs[id] = s
	}
	return s
}

func (s *subTally) key(k string) *keyTally {
	kt := s.keys[k]
	if kt == nil {
		kt = &keyTally{limit: s.row.TPMLimit}
		s.keys[k] = kt
	}
	return kt
}

// hottest is the subscription's counter closest to its limit over the last
// minute: its tokens, its limit and its key. With one counter per
// subscription (a subscription-keyed limit) that is the subscription's own
// window; with per-IP or per-user keys it is the busiest of them, and keys
// counts them. Without any request the configured limit shows.
func (s *subTally) hottest(now time.Time) (used, limit int64, key string, keys int) {
	limit = s.row.TPMLimit
	best := -1.0
	for k, kt := range s.keys {
		u := kt.used.sum(now, windowSeconds)
		share := float64(u)
		if kt.limit > 0 {
			share = float64(u) / float64(kt.limit)
		}
		if share > best || (share == best && k < key) {
			best, used, limit, key = share, u, kt.limit, k
		}
	}
	return used, limit, key, len(s.keys)
}

func (t *Tally) backend(name string) *backendTally {
	b := t.backends[name]
	if b == nil {
		b = &backendTally{row: BackendRow{Name: name}}
		t.backends[name] = b
	}
	return b
}

func (t *Tally) persona(name string) *personaTally {
	p := t.personas[name]
	if p == nil {
		p = &personaTally{row: PersonaRow{Persona: name}, hist: hdrhistogram.New(histMin, histMax, histSigFigs), ips: map[string]time.Time{}}
		t.personas[name] = p
	}
	return p
}

// Write counts one record.
func (t *Tally) Write(r *record.Record) error {
	at := r.TS.Add(time.Duration(r.LatencyMS * float64(time.Millisecond)))
	ok := r.Outcome == record.OutcomeOK
	var tokens int64
	if ok {
		tokens = cmp.Or(r.TotalTokens, r.PromptTokens+r.CompletionTokens)
	}
	cost, costKnown := 0.0, false
	if ok && t.price != nil {
		cost, costKnown = t.price(r)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reqs.add(at, 1)
	t.tokens.add(at, tokens)
	t.countTotals(r, tokens, cost, costKnown)
	t.countCache(r)
	t.countSub(r, at, tokens, cost, costKnown)
	t.countBackend(r, at, tokens)
	t.countPersona(r, at)
	t.recordEvent(r, at)
	return nil
}

func (t *Tally) countTotals(r *record.Record, tokens int64, cost float64, costKnown bool) {
	t.totals.Requests++
	t.totals.Tokens += tokens
	t.totals.CostUSD += cost
	if r.Outcome == record.OutcomeOK && !costKnown {
		t.totals.CostKnown = false
	}
	switch r.Outcome {
	case record.OutcomeOK, record.OutcomeCacheHit:
		t.totals.OK++
	case record.OutcomeThrottled:
		t.totals.Throttled++
	default:
		t.totals.Errors++
	}
}

// countCache counts a semantic cache lookup and what a hit served (t.mu
// held).
func (t *Tally) countCache(r *record.Record) {
	if r.EmbeddingModel == "" && r.Outcome != record.OutcomeCacheHit {
		return
	}
	t.totals.CacheLookups++
	if r.Outcome != record.OutcomeCacheHit {
		return
	}
	t.totals.CacheHits++
	t.totals.CachedTokens += r.CachePromptTokens + r.CacheCompletionTokens
	if t.price != nil {
		served := *r
		served.PromptTokens, served.CompletionTokens = r.CachePromptTokens, r.CacheCompletionTokens
		served.TotalTokens, served.CachedTokens = r.CachePromptTokens+r.CacheCompletionTokens, 0
		if c, ok := t.price(&served); ok {
			t.totals.CacheSavedUSD += c
		}
	}
}

func (t *Tally) countSub(r *record.Record, at time.Time, tokens int64, cost float64, costKnown bool) {
	id := r.SubscriptionID
	if id == "" {
		id = "(no subscription)"
	}
	s := t.sub(id)
	if s.row.Requests == 0 && s.row.Tokens == 0 {
		s.row.CostKnown = true
	}
	s.row.Requests++
	if r.Team != "" {
		s.row.Team, s.row.Product = r.Team, r.Product
	}
	k := s.key(cmp.Or(r.CounterKey, id))
	if r.LimitTPM > 0 {
		k.limit = r.LimitTPM
	}
	switch r.Outcome {
	case record.OutcomeOK:
		k.used.add(at, tokens)
		s.row.Tokens += tokens
		s.row.CostUSD += cost
		s.row.CostKnown = s.row.CostKnown && costKnown
		_ = s.hist.RecordValue(max(int64(r.LatencyMS*1000), histMin))
	case record.OutcomeCacheHit:
		_ = s.hist.RecordValue(max(int64(r.LatencyMS*1000), histMin))
	case record.OutcomeThrottled:
		s.throttled.add(at, 1)
		s.row.ThrottledTotal++
	default:
		s.row.Errors++
	}
}

func (t *Tally) countBackend(r *record.Record, at time.Time, tokens int64) {
	if r.Backend == "" {
		return
	}
	b := t.backend(r.Backend)
	if r.BackendTier != "" {
		b.row.Tier = r.BackendTier
	}
	b.row.Requests++
	b.row.Tokens += tokens
	b.tokens.add(at, tokens)
	if u := r.UtilizationPct; u != nil {
		if b.util == nil {
			b.util = hdrhistogram.New(1, 1_000_000, histSigFigs) // 0.01 % to 10,000 %
		}
		_ = b.util.RecordValue(min(max(int64(*u*100+0.5), 1), 1_000_000))
	}
	if r.Outcome != record.OutcomeOK {
		b.row.Errors++
	}
}

func (t *Tally) countPersona(r *record.Record, at time.Time) {
	if r.Persona == "" {
		return
	}
	p := t.persona(r.Persona)
	if p.row.Team == "" {
		p.row.Team = r.Team
	}
	p.row.Requests++
	if r.Attempt > 1 {
		p.row.Retries++
	}
	if r.ClientIP != "" {
		if _, seen := p.ips[r.ClientIP]; !seen {
			p.ips[r.ClientIP] = time.Time{}
		}
	}
	switch r.Outcome {
	case record.OutcomeOK, record.OutcomeCacheHit:
		p.row.OK++
		_ = p.hist.RecordValue(max(int64(r.LatencyMS*1000), histMin))
	case record.OutcomeThrottled:
		p.row.Throttled++
		if r.ClientIP != "" {
			p.ips[r.ClientIP] = at
		}
	default:
		p.row.Errors++
	}
}

// Snapshot fills the gateway-side fields of a snapshot as of now: Totals,
// rates, Teams, Backends, Personas and Events. Rows are sorted by team and
// subscription, tier and name, team and persona.
func (t *Tally) Snapshot(now time.Time) Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := Snapshot{
		At:          now,
		RequestRate: float64(t.reqs.sum(now, rateSeconds)) / rateSeconds,
		TokenRate:   float64(t.tokens.sum(now, rateSeconds)) / rateSeconds,
		Totals:      t.totals,
	}
	for _, st := range t.subs {
		row := st.row
		row.TPMUsed, row.TPMLimit, row.CounterKey, row.Keys = st.hottest(now)
		row.Throttled1m = st.throttled.sum(now, windowSeconds)
		row.P50MS, row.P99MS = quantiles(st.hist)
		s.Teams = append(s.Teams, row)
	}
	slices.SortFunc(s.Teams, func(a, b TeamRow) int {
		return cmp.Or(cmp.Compare(a.Team, b.Team), cmp.Compare(a.Subscription, b.Subscription))
	})
	s.Backends = t.backendRows(now)
	s.Personas = t.personaRows(now)
	s.Events = t.newestEvents()
	return s
}

func (t *Tally) backendRows(now time.Time) []BackendRow {
	var rows []BackendRow
	for _, b := range t.backends {
		row := b.row
		row.TPM = b.tokens.sum(now, windowSeconds)
		if b.util != nil {
			row.UtilizationCount = b.util.TotalCount()
			row.UtilizationAvg, row.UtilizationP95 = b.util.Mean()/100, float64(b.util.ValueAtQuantile(95))/100
		}
		if t.totals.Tokens > 0 {
			row.Share = float64(row.Tokens) / float64(t.totals.Tokens)
		}
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b BackendRow) int {
		return cmp.Or(cmp.Compare(prio(a.Priority), prio(b.Priority)), cmp.Compare(tierOrder(a.Tier), tierOrder(b.Tier)), cmp.Compare(a.Name, b.Name))
	})
	return rows
}

// prio orders unknown priorities (0) last.
func prio(p int) int {
	if p <= 0 {
		return 1 << 30
	}
	return p
}

// tierOrder puts PTU before PAYG.
func tierOrder(tier string) int {
	if tier == "ptu" {
		return 0
	}
	return 1
}

func (t *Tally) personaRows(now time.Time) []PersonaRow {
	var rows []PersonaRow
	for _, p := range t.personas {
		row := p.row
		row.P50MS, row.P99MS = quantiles(p.hist)
		row.NATIPs = len(p.ips)
		for _, last := range p.ips {
			if !last.IsZero() && now.Sub(last) < windowSeconds*time.Second {
				row.NATIPsThrottled++
			}
		}
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b PersonaRow) int {
		return cmp.Or(cmp.Compare(a.Team, b.Team), cmp.Compare(a.Persona, b.Persona))
	})
	return rows
}

func quantiles(h *hdrhistogram.Histogram) (p50, p99 float64) {
	if h.TotalCount() == 0 {
		return 0, 0
	}
	return float64(h.ValueAtQuantile(50)) / 1000, float64(h.ValueAtQuantile(99)) / 1000
}
