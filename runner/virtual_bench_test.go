package runner

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aiload/aiload/loadgen"
	"github.com/aiload/aiload/record"
	"github.com/aiload/aiload/scenario"
)

// countSink counts records.
type countSink struct{ n int64 }

func (c *countSink) Write(*record.Record) error { c.n++; return nil }

// BenchmarkVirtualMixedDay simulates scenarios/mixed-day.yaml on the
// virtual clock for AILOAD_SIM_HOURS hours (default 24), its daily curve
// stretched to a real day, and reports the requests simulated and the
// wall time per simulated day.
func BenchmarkVirtualMixedDay(b *testing.B) {
	hours := 24
	if v := os.Getenv("AILOAD_SIM_HOURS"); v != "" {
		d, err := time.ParseDuration(v + "h")
		if err != nil {
			b.Fatal(err)
		}
		hours = int(d.Hours())
	}
	for b.Loop() {
		sc, err := scenario.Load("../scenarios/mixed-day.yaml")
		if err != nil {
			b.Fatal(err)
		}
		sc.Duration = loadgen.Duration(time.Duration(hours) * time.Hour)
		for i := range sc.Personas {
			if sc.Personas[i].Shape.Kind == loadgen.ShapeKindDaily {
				sc.Personas[i].Shape.Day = loadgen.Duration(24 * time.Hour)
			}
		}
		sink := &countSink{}
		start := time.Now()
		sim, err := Simulate(context.Background(), sc, sink, "bench", nil)
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		b.ReportMetric(float64(sink.n), "requests")
		b.ReportMetric(el.Seconds(), "wall-s")
		b.Logf("simulated %v of %s: %d requests in %v (%.0f requests/s)", sim.End.Sub(sim.Start).Round(time.Second),
			sc.Name, sink.n, el.Round(time.Millisecond), float64(sink.n)/el.Seconds())
	}
}
