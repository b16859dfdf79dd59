package gateway

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

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

	mu    sync.Mutex
	known map[seriesKey]*series
}

func newMetrics(g *Gateway) *metrics {
	m := &metrics{
		reg:   prometheus.NewRegistry(),
		known: map[seriesKey]*series{},
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aiload_gateway_tokens_total",
			Help: "Tokens by subscription, product, backend, outcome and type (prompt, completion, total); estimated ones included.",
		}, []string{"subscription", "product", "backend", "outcome", "type"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aiload_gateway_requests_total",
			Help: "Requests by subscription, product, backend, HTTP status and outcome (throttled = 429, quota_exceeded = 403).",
		}, []string{"subscription", "product", "backend", "status", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aiload_gateway_request_duration_seconds",
			Help:    "Time from receiving a request to finishing its answer, by backend and outcome.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"backend", "outcome"}),
		ttft: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aiload_gateway_time_to_first_token_seconds",
			Help:    "Time to the first streamed token, by backend.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"backend"}),
	}
	m.trips = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aiload_gateway_circuit_trips_total",
		Help: "Times each backend's circuit breaker tripped.",
	}, []string{"backend", "tier"})
	m.dropped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "aiload_gateway_records_dropped_total",
		Help: "Token-metric records lost because the record log could not take them (a full disk; see the gateway's log).",
	})
	circuit := prometheus.NewGaugeFunc // one gauge per backend
	m.reg.MustRegister(m.tokens, m.requests, m.latency, m.ttft, m.trips, m.dropped)
	for _, b := range g.pool.members {
		name := b.cfg.Name
		m.reg.MustRegister(circuit(prometheus.GaugeOpts{
			Name:        "aiload_gateway_circuit_open",
			Help:        "1 while the backend's circuit breaker is open, else 0.",
			ConstLabels: prometheus.Labels{"backend": name, "tier": b.cfg.Tier},
		}, func() float64 { return g.pool.states(g.opts.Clock.Now())[name] }))
	}
	return m
}

// seriesKey names the series one record adds to.
type seriesKey struct {
	sub, product, backend string
	status                int
	outcome               record.Outcome
}

// series are the metrics of one seriesKey, looked up once (resolving
// label values costs more than counting); a token type's counter and the
// time-to-first-token histogram only once they have something to show.
type series struct {
	tokens   [3]prometheus.Counter // prompt, completion, total
	ttft     prometheus.Observer
	requests prometheus.Counter
	latency  prometheus.Observer
}

var tokenTypes = [3]string{"prompt", "completion", "total"}

func (m *metrics) observe(r *record.Record) {
	k := seriesKey{r.SubscriptionID, r.Product, r.Backend, r.Status, r.Outcome}
	o := string(r.Outcome)
	m.mu.Lock()
	s, ok := m.known[k]
	if !ok {
		s = &series{requests: m.requests.WithLabelValues(r.SubscriptionID, r.Product, r.Backend, strconv.Itoa(r.Status), o),
			latency: m.latency.WithLabelValues(r.Backend, o)}
		m.known[k] = s
	}
	for i, n := range [3]int64{r.PromptTokens, r.CompletionTokens, r.TotalTokens} {
		if n > 0 && s.tokens[i] == nil {
			s.tokens[i] = m.tokens.WithLabelValues(r.SubscriptionID, r.Product, r.Backend, o, tokenTypes[i])
		}
	}
	if r.TTFTMS > 0 && s.ttft == nil {
		s.ttft = m.ttft.WithLabelValues(r.Backend)
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
