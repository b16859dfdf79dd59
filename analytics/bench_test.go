package analytics

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aiload/aiload/analytics/synth"
	"github.com/aiload/aiload/pricing"
)

// benchRecords is the size of the synthetic log (AILOAD_BENCH_RECORDS
// overrides the default 10,000,000).
func benchRecords() int {
	if n, err := strconv.Atoi(os.Getenv("AILOAD_BENCH_RECORDS")); err == nil && n > 0 {
		return n
	}
	return 10_000_000
}

const benchPricing = `
ptu_deployments:
  - {name: gpt-4o-ptu, model: gpt-4o, ptu: 100, billing: monthly_reservation}
  - {name: gpt-4o-mini-ptu, model: gpt-4o-mini, ptu: 15, billing: hourly}
  - {name: gpt-4.1-ptu, model: gpt-4.1, ptu: 50, billing: yearly_reservation}
`

// BenchmarkPipeline ingests a synthetic log (7 days, 100 subscriptions of
// 50 teams, 3 models, PTU and PAYG backends, 2% throttled) into a fresh
// DuckDB file and runs every analysis on it, reporting ingest records/s and
// the seconds each analysis takes (wall, and CPU seconds of the process:
// the machine is shared, so wall time depends on the neighbours). Run with
// make bench; figures are kept in docs/benchmarks.md.
func BenchmarkPipeline(b *testing.B) {
	n := benchRecords()
	dir := b.TempDir()
	log := filepath.Join(dir, "synth.jsonl")
	f, err := os.Create(log)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if _, err := synth.Write(f, synth.Options{Records: n, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	f.Close()
	b.Logf("generated %d records in %v", n, time.Since(t0))
	prices, err := pricing.Parse("bench", []byte(benchPricing))
	if err != nil {
		b.Fatal(err)
	}
	period, _ := ParsePeriod("2026-11")
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		db, err := Open(ctx, filepath.Join(dir, fmt.Sprintf("bench%d.duckdb", i)))
		if err != nil {
			b.Fatal(err)
		}
		step := func(name string, f func() error) float64 {
			t, c := time.Now(), cpuSeconds()
			if err := f(); err != nil {
				b.Fatalf("%s: %v", name, err)
			}
			s := time.Since(t).Seconds()
			b.ReportMetric(s, name+"_s")
			b.ReportMetric(cpuSeconds()-c, name+"_cpu_s")
			return s
		}
		var added int64
		s := step("ingest", func() (err error) { added, err = db.IngestJSONL(ctx, log); return err })
		if added != int64(n) {
			b.Fatalf("ingested %d of %d records", added, n)
		}
		b.ReportMetric(float64(added)/s, "records/s")
		step("demand", func() error { _, err := Demand(ctx, db, DemandOptions{By: ByTeam}); return err })
		step("recommend", func() error { _, err := Recommend(ctx, db, RecommendOptions{}); return err })
		step("ptuplan", func() error { _, err := PTUPlan(ctx, db, prices, PTUPlanOptions{}); return err })
		step("chargeback", func() error { _, err := Chargeback(ctx, db, prices, period, Allocation{}); return err })
		db.Close()
	}
}
