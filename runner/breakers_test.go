package runner

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aiload/aiload/reports/dashboard"
)

// TestBreakersSample follows a breaker gauge through open and closed and
// counts the trip; a backend without a breaker shows none.
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
	b := breakers{reg: reg, has: map[string]bool{"ptu": true}, open: map[string]bool{}, trips: map[string]int64{}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		open   bool
		events []string
		state  string
		trips  int64
	}{
		{false, nil, dashboard.BreakerClosed, 0},                            // closed from the start: no event
		{true, []string{"ptu breaker open"}, dashboard.BreakerOpen, 1},      // a trip
		{true, nil, dashboard.BreakerOpen, 1},                               // still open
		{false, []string{"ptu breaker closed"}, dashboard.BreakerClosed, 1}, // closed again
		{true, []string{"ptu breaker open"}, dashboard.BreakerOpen, 2},      // a second trip
	}
	for i, s := range steps {
		open.Store(s.open)
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
