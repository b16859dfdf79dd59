package runner

import (
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aiload/aiload/reports/dashboard"
)

// circuitMetric is the gateway's gauge: 1 while a backend's breaker is open.
const circuitMetric = "aiload_gateway_circuit_open"

// breakers follows the gateway's circuit breakers through its metrics
// registry, sampling at each snapshot: a trip is a closed → open change
// between two samples.
type breakers struct {
	mu    sync.Mutex
	reg   prometheus.Gatherer
	has   map[string]bool // backends configured with a breaker
	open  map[string]bool
	trips map[string]int64
}

// sample reads the breaker states and returns the changes since the last
// sample as events.
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
	var events []dashboard.Event
	for _, f := range fams {
		if f.GetName() != circuitMetric {
			continue
		}
		for _, m := range f.GetMetric() {
			name := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "backend" {
					name = l.GetValue()
				}
			}
			open := m.GetGauge().GetValue() > 0
			if open != b.open[name] {
				state := dashboard.BreakerClosed
				if open {
					state = dashboard.BreakerOpen
					b.trips[name]++
				}
				events = append(events, dashboard.Event{At: now, Kind: dashboard.EventBreaker, Who: name,
					Text: fmt.Sprintf("%s breaker %s", name, state)})
			}
			b.open[name] = open
		}
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
