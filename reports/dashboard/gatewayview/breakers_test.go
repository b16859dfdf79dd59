package gatewayview

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aiload/aiload/reports/dashboard"
)

// TestBreakersSample follows a breaker through the gateway's gauge and trip
// counter: opening and closing are events, trips are the counter's, so
// trips that open and close between two looks are counted too; a backend
// without a breaker shows none.
func TestBreakersSample(t *testing.T) {
	t.Parallel()
	var open atomic.Bool
	reg := prometheus.NewRegistry()
	for name, f := range map[string]func() float64{
		"ptu":  func() float64 { return map[bool]float64{true: 1}[open.Load()] },
		"payg": func() float64 { return 0 },
	} {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: circuitMetric, ConstLabels: prometheus.Labels{"backend": name}}, f))
	}
	trips := prometheus.NewCounterVec(prometheus.CounterOpts{Name: tripsMetric}, []string{"backend", "tier"})
	reg.MustRegister(trips)
	b := breakers{reg: reg, has: map[string]bool{"ptu": true}, open: map[string]bool{}, trips: map[string]int64{}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		open   bool
		trip   int // trips the gateway counts before the look
		events []string
		state  string
		trips  int64
	}{
		{false, 0, nil, dashboard.BreakerClosed, 0},                                                         // closed from the start: no event
		{true, 1, []string{"ptu breaker open"}, dashboard.BreakerOpen, 1},                                   // a trip
		{true, 0, nil, dashboard.BreakerOpen, 1},                                                            // still open
		{false, 0, []string{"ptu breaker closed"}, dashboard.BreakerClosed, 1},                              // closed again
		{false, 3, []string{"ptu breaker tripped 3 times since the last look"}, dashboard.BreakerClosed, 4}, // short trips between looks
		{true, 1, []string{"ptu breaker open"}, dashboard.BreakerOpen, 5},                                   // a fifth trip
	}
	for i, s := range steps {
		open.Store(s.open)
		trips.WithLabelValues("ptu", "ptu").Add(float64(s.trip))
		evs := b.sample(now)
		var texts []string
		for _, e := range evs {
			texts = append(texts, e.Text)
		}
		rows := []dashboard.BackendRow{{Name: "ptu"}, {Name: "payg"}}
		b.apply(rows)
		if len(texts) != len(s.events) || (len(texts) > 0 && texts[0] != s.events[0]) {
			t.Errorf("step %d: events %q, want %q", i, texts, s.events)
		}
		if rows[0].Breaker != s.state || rows[0].Trips != s.trips || rows[1].Breaker != "" {
			t.Errorf("step %d: ptu %s/%d trips, payg %q; want %s/%d and none", i, rows[0].Breaker, rows[0].Trips, rows[1].Breaker, s.state, s.trips)
		}
	}
}

// TestBreakersWithoutCounter: a registry with the gauge alone counts each
// opening it sees as a trip.
func TestBreakersWithoutCounter(t *testing.T) {
	t.Parallel()
	var open atomic.Bool
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: circuitMetric, ConstLabels: prometheus.Labels{"backend": "ptu"}},
		func() float64 { return map[bool]float64{true: 1}[open.Load()] }))
	b := breakers{reg: reg, has: map[string]bool{"ptu": true}, open: map[string]bool{}, trips: map[string]int64{}}
	for _, o := range []bool{false, true, false, true} {
		open.Store(o)
		b.sample(time.Time{})
	}
	if b.trips["ptu"] != 2 {
		t.Errorf("trips %d after two openings, want 2", b.trips["ptu"])
	}
}
