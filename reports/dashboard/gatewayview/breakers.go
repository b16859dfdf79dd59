package gatewayview

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aiload/aiload/reports/dashboard"
)

// The gateway's breaker metrics: a gauge that is 1 while a backend's
// breaker is open, and a counter of its trips.
const (
	circuitMetric = "aiload_gateway_circuit_open"
	tripsMetric   = "aiload_gateway_circuit_trips_total"
)

// breakers follows the gateway's circuit breakers through its metrics
// registry, sampling at each snapshot: the state is the gauge's, the trips
// the counter's, so a breaker that opened and closed again between two
// samples (a trip shorter than the dashboard's polling) is still counted.
type breakers struct {
	mu    sync.Mutex
	reg   prometheus.Gatherer
	has   map[string]bool // backends configured with a breaker
	open  map[string]bool
	trips map[string]int64
}

// sample reads the breaker states and trip counts and returns the changes
// since the last sample as events.
func (b *breakers) sample(now time.Time) []dashboard.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.reg == nil {
		return nil
	}
	fams, err := b.reg.Gather()
	if err != nil {
		return nil
	}
	open, trips := map[string]bool{}, map[string]int64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			name := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "backend" {
					name = l.GetValue()
				}
			}
			switch f.GetName() {
			case circuitMetric:
				open[name] = m.GetGauge().GetValue() > 0
			case tripsMetric:
				trips[name] = int64(m.GetCounter().GetValue())
			}
		}
	}
	var events []dashboard.Event
	event := func(name, text string) {
		events = append(events, dashboard.Event{At: now, Kind: dashboard.EventBreaker, Who: name, Text: name + " breaker " + text})
	}
	for _, name := range slices.Sorted(maps.Keys(open)) {
		was, is := b.open[name], open[name]
		n := max(trips[name], b.trips[name]) // a gateway without the counter: count openings
		if is && !was && n == b.trips[name] {
			n++
		}
		switch missed := n - b.trips[name]; {
		case is != was && is:
			event(name, dashboard.BreakerOpen)
			if missed > 1 {
				event(name, fmt.Sprintf("tripped %d times since the last look", missed))
			}
		case is != was:
			event(name, dashboard.BreakerClosed)
		case missed > 0:
			event(name, fmt.Sprintf("tripped %d times since the last look", missed))
		}
		b.open[name], b.trips[name] = is, n
	}
	return events
}

// apply writes the breaker states into the backend rows.
func (b *breakers) apply(rows []dashboard.BackendRow) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range rows {
		name := rows[i].Name
		if !b.has[name] {
			continue
		}
		rows[i].Breaker, rows[i].Trips = dashboard.BreakerClosed, b.trips[name]
		if b.open[name] {
			rows[i].Breaker = dashboard.BreakerOpen
		}
	}
}
