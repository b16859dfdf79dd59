// Package gatewayview feeds the live dashboard from one gateway: a tally
// of its records (priced at PAYG list prices), its configured subscriptions
// and backends, and its circuit breakers read from its metrics registry.
// `aiload run` follows its embedded gateway with it and `aiload gateway
// serve` serves its snapshots to `aiload dash`.
package gatewayview

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/pricing"
	"github.com/aiload/aiload/record"
	"github.com/aiload/aiload/reports/dashboard"
)

// View is the dashboard's view of one gateway: a tally of its records
// (priced at PAYG list prices), its configured subscriptions and backends,
// and its circuit breakers. It is a record.Sink.
type View struct {
	tally   *dashboard.Tally
	brk     breakers
	dropped atomic.Pointer[gateway.Gateway] // the followed gateway, for its dropped-records count
}

var _ record.Sink = (*View)(nil)

// New returns the view of a gateway configured by cfg, its records priced
// with prices.
func New(cfg gateway.Config, prices *pricing.Pricing) *View {
	v := &View{
		tally: dashboard.NewTally(ListPrice(prices)),
		brk:   breakers{has: map[string]bool{}, open: map[string]bool{}, trips: map[string]int64{}},
	}
	cfg.Backends = append(cfg.Backends[:0:0], cfg.Backends...)
	cfg.Defaults()
	limits := map[string]int64{}
	for _, p := range cfg.Products {
		limits[p.Name] = subscriptionTPM(p)
	}
	for _, s := range cfg.Subscriptions {
		v.tally.AddSubscription(s.ID, s.Team, s.Product, limits[s.Product])
	}
	for _, b := range cfg.Backends {
		row := dashboard.BackendRow{Name: b.Name, Tier: b.Tier, Priority: b.Priority}
		if b.Mock != nil && b.URL == "" {
			row.CapacityTPM = b.Mock.PTUTPM
		}
		v.tally.AddBackend(row)
		v.brk.has[b.Name] = b.CircuitBreaker != nil
	}
	return v
}

// Write adds a record to the tally.
func (v *View) Write(r *record.Record) error { return v.tally.Write(r) }

// Follow reads the breakers of gw from its metrics registry, and its
// dropped-records count.
func (v *View) Follow(gw *gateway.Gateway) {
	v.dropped.Store(gw)
	v.brk.mu.Lock()
	defer v.brk.mu.Unlock()
	v.brk.reg = gw.Registry()
}

// Snapshot is the gateway-side snapshot at now, breaker changes included
// as events.
func (v *View) Snapshot(now time.Time) dashboard.Snapshot {
	for _, e := range v.brk.sample(now) {
		v.tally.AddEvent(e)
	}
	s := v.tally.Snapshot(now)
	v.brk.apply(s.Backends)
	if gw := v.dropped.Load(); gw != nil {
		s.Totals.RecordsDropped = gw.RecordsDropped()
	}
	return s
}

// subscriptionTPM is the tokens-per-minute limit a product's subscription
// rows start with: the shorthand, else a subscription-keyed token limit,
// else the tightest other one (per IP, user…); 0 when it has none. Once
// records arrive a row shows the limit its busiest counter met.
func subscriptionTPM(p gateway.Product) int64 {
	if p.TokensPerMinute > 0 {
		return p.TokensPerMinute
	}
	var tightest int64
	for _, l := range p.TokenLimits {
		if l.TokensPerMinute <= 0 {
			continue
		}
		if l.CounterKey == "" || l.CounterKey == "subscription" {
			return l.TokensPerMinute
		}
		if tightest == 0 || l.TokensPerMinute < tightest {
			tightest = l.TokensPerMinute
		}
	}
	return tightest
}

// ListPrice values ok records at the pricing file's PAYG list prices.
func ListPrice(p *pricing.Pricing) dashboard.PriceFunc {
	return func(r *record.Record) (float64, bool) {
		m, ok := p.Lookup(r.Model)
		if !ok {
			return 0, false
		}
		price := dashboard.Price{Input: m.Input, CachedInput: m.CachedPrice(), Output: m.Output}
		return price.Cost(r.PromptTokens, r.CachedTokens, r.CompletionTokens), true
	}
}

// Serve is what `aiload gateway serve` needs to feed `aiload dash`: a sink for the gateway's records, the admin handler of GET
// /admin/snapshot, and follow, to be called with the gateway once it is
// built so that breaker states show. The snapshot is named after the
// gateway's id and its elapsed time is the time since this call.
func Serve(cfg gateway.Config) (sink record.Sink, admin http.Handler, follow func(*gateway.Gateway)) {
	v := New(cfg, pricing.Default())
	start := time.Now()
	id := cfg.ID
	if id == "" {
		id = "gateway"
	}
	snap := func(now time.Time) dashboard.Snapshot {
		s := v.Snapshot(now)
		s.Scenario, s.Phase, s.Elapsed = id, dashboard.PhaseAttached, now.Sub(start)
		return s
	}
	return v, dashboard.Handler(snap, nil), v.Follow
}
