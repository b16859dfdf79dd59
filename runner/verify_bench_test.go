package runner

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/loadgen"
	"github.com/aiload/aiload/record"
	"github.com/aiload/aiload/scenario"
)

// BenchmarkRecommendVerifyMixedDay is aiload recommend with verification
// on scenarios/mixed-day.yaml stretched to 24 hours (duration: 24h, day:
// 24h in its daily shapes, about 800,000 requests): the run's records are
// simulated and ingested first (not timed), then the replay's
// recommendation and its verification by reruns with 3 seeds are timed.
// AILOAD_SIM_HOURS shortens it.
func BenchmarkRecommendVerifyMixedDay(b *testing.B) {
	hours := 24
	if v := os.Getenv("AILOAD_SIM_HOURS"); v != "" {
		d, err := time.ParseDuration(v + "h")
		if err != nil {
			b.Fatal(err)
		}
		hours = int(d.Hours())
	}
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
	ctx := context.Background()
	dir := b.TempDir()
	log := filepath.Join(dir, "tokens.jsonl")
	w, err := record.Create(log, 0)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Simulate(ctx, sc, w, virtualRunID(sc), nil); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	db, err := analytics.Open(ctx, filepath.Join(dir, "aiload.duckdb"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	n, err := db.IngestJSONL(ctx, log)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		start, cpu := time.Now(), cpuSeconds()
		rec, err := analytics.Recommend(ctx, db, analytics.RecommendOptions{})
		if err != nil {
			b.Fatal(err)
		}
		replay := time.Since(start)
		v, err := Verify(ctx, VerifyOptions{Scenario: sc, Recommendation: rec})
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		b.ReportMetric(el.Seconds(), "wall-s")
		b.ReportMetric(cpuSeconds()-cpu, "cpu-s")
		b.ReportMetric(float64(v.Simulations), "reruns")
		b.Logf("%d records; recommend %v, verification %d rounds, %d reruns of %v: %v in all (%.1f s CPU)",
			n, replay.Round(time.Millisecond), v.Rounds, v.Simulations, sc.Duration.D(), el.Round(time.Millisecond), cpuSeconds()-cpu)
		for _, c := range v.Consumers {
			b.Logf("  %s: replay %d (%.2f%%) → %d TPM: %.2f%% [%.2f–%.2f%%] met %v %s", c.Key, c.EstimateTPM, 100*c.EstimateShare,
				c.RecommendedTPM, 100*c.Mean, 100*c.Min, 100*c.Max, c.Met, c.Note)
		}
	}
}
