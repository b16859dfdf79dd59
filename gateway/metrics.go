package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aiload/aiload/gateway/otelmetrics"
	"github.com/aiload/aiload/record"
)

// metrics are the gateway's Prometheus metrics, on a registry it owns.
type metrics struct {
	reg      *prometheus.Registry
	tokens   *prometheus.CounterVec
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	ttft     *prometheus.HistogramVec
	trips    *prometheus.CounterVec
	dropped  prometheus.Counter
	// remaining and remainingQuota follow the token limit of each
	// subscription's latest request (see observeLimits).
	remaining      *prometheus.GaugeVec
	remainingQuota *prometheus.GaugeVec
	// cacheHits and cacheMisses count llm-semantic-cache-lookup results
	// (aiload_gateway_semantic_cache_lookups_total): the cache's code
	// counts each lookup with cacheLookup.
	cacheHits, cacheMisses prometheus.Counter

	// otlp, when set, exports token metrics over OTLP (gateway.otlp).
	otlp *otelmetrics.Exporter

	// dims are the names of the configured llm-emit-token-metric
	// dimensions, in order; their label names are in the counters' labels.
	dims []string

	mu    sync.Mutex
	known map[seriesKey]*series
	team  *labelGuard
	guard []*labelGuard // one per dimension
}

func newMetrics(g *Gateway) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), known: map[seriesKey]*series{}}
	var dimLabels []string
	for _, d := range g.dims {
		m.dims = append(m.dims, d.name)
	}
	dimLabels = dimensionLabels(m.dims)
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aiload_gateway_tokens_total",
		Help: "Tokens by subscription, product, team, backend, outcome, type (prompt, completion, total) and each emit_token_metric dimension; estimated ones included.",
	}, append([]string{"subscription", "product", "team", "backend", "outcome", "type"}, dimLabels...))
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aiload_gateway_requests_total",
		Help: "Requests by subscription, product, team, backend, HTTP status, outcome (throttled = 429, quota_exceeded = 403) and each emit_token_metric dimension.",
	}, append([]string{"subscription", "product", "team", "backend", "status", "outcome"}, dimLabels...))
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "aiload_gateway_request_duration_seconds",
		Help:    "Time from receiving a request to finishing its answer, by backend and outcome.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
	}, []string{"backend", "outcome"})
	m.ttft = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "aiload_gateway_time_to_first_token_seconds",
		Help:    "Time to the first streamed token, by backend.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
	}, []string{"backend"})
	m.trips = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aiload_gateway_circuit_trips_total",
		Help: "Times each backend's circuit breaker tripped.",
	}, []string{"backend", "tier"})
	m.dropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "aiload_gateway_records_dropped_total",
		Help: "Token-metric records lost because the record log could not take them (a full disk; see the gateway's log).",
	})
	m.remaining = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "aiload_gateway_remaining_tokens",
		Help: "Tokens left in the tokens-per-minute window of the subscription's latest request that had a token limit.",
	}, []string{"subscription", "product", "team"})
	m.remainingQuota = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "aiload_gateway_remaining_quota_tokens",
		Help: "Tokens left of the period quota of the subscription's latest request that had a quota.",
	}, []string{"subscription", "product", "team"})
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aiload_gateway_semantic_cache_lookups_total",
		Help: "Semantic cache lookups by result: hit (answered from the cache) or miss.",
	}, []string{"result"})
	m.cacheHits, m.cacheMisses = lookups.WithLabelValues("hit"), lookups.WithLabelValues("miss")
	folded := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aiload_gateway_label_values_folded_total",
		Help: "Observations whose team or dimension label value was counted as \"other\" because the label already had gateway.metrics.max_label_values distinct values.",
	}, []string{"label"})
	max := defaultMaxLabelValues
	if c := g.cfg.Metrics; c != nil && c.MaxLabelValues > 0 {
		max = c.MaxLabelValues
	}
	m.team = newLabelGuard(max, folded, "team")
	for _, l := range dimLabels {
		m.guard = append(m.guard, newLabelGuard(max, folded, l))
	}
	m.reg.MustRegister(m.tokens, m.requests, m.latency, m.ttft, m.trips, m.dropped,
		m.remaining, m.remainingQuota, lookups, folded)
	m.registerCircuits(g)
	return m
}

// registerCircuits adds aiload_gateway_circuit_open, one gauge per backend.
func (m *metrics) registerCircuits(g *Gateway) {
	for _, b := range g.pool.members {
		name := b.cfg.Name
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "aiload_gateway_circuit_open",
			Help:        "1 while the backend's circuit breaker is open, else 0.",
			ConstLabels: prometheus.Labels{"backend": name, "tier": b.cfg.Tier},
		}, func() float64 { return g.pool.states(g.opts.Clock.Now())[name] }))
	}
}

// cacheLookup counts one semantic cache lookup, a hit or a miss.
func (m *metrics) cacheLookup(hit bool) {
	if hit {
		m.cacheHits.Inc()
		return
	}
	m.cacheMisses.Inc()
}

// seriesKey names the series one record adds to: its label values, the
// team's and the dimensions' (joined by NUL) after folding.
type seriesKey struct {
	sub, product, backend string
	status                int
	outcome               record.Outcome
	team, dims            string
}

// series are the metrics of one seriesKey, looked up once (resolving
// label values costs more than counting); a token type's counter, the
// time-to-first-token histogram and the limit gauges only once they have
// something to show.
type series struct {
	labels   []string              // dimension label values
	tokens   [3]prometheus.Counter // prompt, completion, total
	ttft     prometheus.Observer
	requests prometheus.Counter
	latency  prometheus.Observer
	// remaining and quota are the subscription's limit gauges.
	remaining, quota prometheus.Gauge
}

var tokenTypes = [3]string{"prompt", "completion", "total"}

func (m *metrics) observe(r *record.Record) {
	o := string(r.Outcome)
	m.mu.Lock()
	k, labels := m.key(r)
	s, ok := m.known[k]
	if !ok {
		s = &series{labels: labels,
			requests: m.requests.WithLabelValues(append([]string{r.SubscriptionID, r.Product, k.team, r.Backend, strconv.Itoa(r.Status), o}, labels...)...),
			latency:  m.latency.WithLabelValues(r.Backend, o)}
		m.known[k] = s
	}
	for i, n := range [3]int64{r.PromptTokens, r.CompletionTokens, r.TotalTokens} {
		if n > 0 && s.tokens[i] == nil {
			s.tokens[i] = m.tokens.WithLabelValues(append([]string{r.SubscriptionID, r.Product, k.team, r.Backend, o, tokenTypes[i]}, s.labels...)...)
		}
	}
	if r.TTFTMS > 0 && s.ttft == nil {
		s.ttft = m.ttft.WithLabelValues(r.Backend)
	}
	if r.LimitTPM > 0 && s.remaining == nil {
		s.remaining = m.remaining.WithLabelValues(r.SubscriptionID, r.Product, k.team)
	}
	if r.RemainingQuotaTokens >= 0 && s.quota == nil {
		s.quota = m.remainingQuota.WithLabelValues(r.SubscriptionID, r.Product, k.team)
	}
	m.mu.Unlock()
	for i, n := range [3]int64{r.PromptTokens, r.CompletionTokens, r.TotalTokens} {
		if n > 0 {
			s.tokens[i].Add(float64(n))
		}
	}
	s.requests.Inc()
	s.latency.Observe(r.LatencyMS / 1000)
	if r.TTFTMS > 0 {
		s.ttft.Observe(r.TTFTMS / 1000)
	}
	m.observeLimits(r, s)
	if m.otlp != nil {
		_ = m.otlp.Write(r)
	}
}

// key is the series key of r with its team and dimension values folded
// by their guards, and the dimension label values. Called with m.mu held.
func (m *metrics) key(r *record.Record) (seriesKey, []string) {
	k := seriesKey{sub: r.SubscriptionID, product: r.Product, backend: r.Backend,
		status: r.Status, outcome: r.Outcome, team: m.team.value(r.Team)}
	if len(m.dims) == 0 {
		return k, nil
	}
	labels := make([]string, len(m.dims))
	for i, d := range m.dims {
		labels[i] = m.guard[i].value(r.Dims[d])
	}
	k.dims = strings.Join(labels, "\x00")
	return k, labels
}

// observeLimits sets the subscription's limit gauges from r. Requests that
// were refused before a limit was checked (no key, a bad request) carry
// no limit and leave them as they were.
func (m *metrics) observeLimits(r *record.Record, s *series) {
	if r.LimitTPM > 0 {
		s.remaining.Set(float64(r.RemainingTokens))
	}
	if r.RemainingQuotaTokens >= 0 {
		s.quota.Set(float64(r.RemainingQuotaTokens))
	}
}

// startOTLP starts the OTLP export of gateway.otlp, if it has an endpoint.
func (g *Gateway) startOTLP() error {
	c := g.cfg.OTLP
	if c == nil || c.Endpoint == "" {
		return nil
	}
	o := otelmetrics.Options{Config: *c, GatewayID: g.cfg.ID, Logf: g.opts.Logf}
	if m := g.cfg.EmitTokenMetric; m != nil {
		o.Namespace = m.Namespace
	}
	exp, err := otelmetrics.New(o)
	if err != nil {
		return fmt.Errorf("gateway config: otlp: %w", err)
	}
	g.metrics.otlp = exp
	return nil
}

// Shutdown sends what the gateway counted to the places it exports to (the
// OTLP collector of gateway.otlp) and stops exporting; ctx bounds that
// last export. It closes the semantic cache's Redis connection when the
// gateway opened one. Call it once the gateway serves no more requests.
func (g *Gateway) Shutdown(ctx context.Context) error {
	var err error
	if g.ownStore != nil {
		err = g.ownStore.Close()
	}
	if g.metrics.otlp == nil {
		return err
	}
	return errors.Join(g.metrics.otlp.Shutdown(ctx), err)
}

// Registry returns the registry holding the gateway's metrics.
func (g *Gateway) Registry() *prometheus.Registry { return g.metrics.reg }

// AdminHandler serves GET /metrics (Prometheus text format) and GET /healthz.
// Serve it on a separate, by default loopback, listener.
func (g *Gateway) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.metrics.reg, promhttp.HandlerOpts{Registry: g.metrics.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}
