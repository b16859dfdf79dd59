package analytics

import (
	"context"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/aiload/aiload/analytics/synth"
)

// BenchmarkReplay measures one replay of 100,000 events (about 10 per
// minute, answered in 0.5–3 s) through the gateway's token limit, with
// callers retrying after Retry-After.
func BenchmarkReplay(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	ev := make([]event, 100_000)
	at := int64(0)
	for i := range ev {
		at += int64(rng.ExpFloat64() * 6e6)
		tok := 200 + int32(rng.ExpFloat64()*800)
		ev[i] = event{atUS: at, latUS: 500_000 + int32(rng.IntN(2_500_000)), tokens: tok, charge: tok, prompt: tok / 2}
	}
	for _, rule := range []replayRule{apim, apimEst} {
		name := "apim"
		if rule.estimate {
			name = "estimate"
		}
		b.Run(name, func(b *testing.B) {
			rp := &replayer{events: ev, callers: []Caller{DefaultCaller}, rule: rule}
			for i := 0; i < b.N; i++ {
				rp.replay(5000, 1<<62)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ev)), "ns/event")
		})
	}
}

// BenchmarkRecommend measures Recommend alone (no verification) on the
// synthetic log of BenchmarkPipeline (benchRecords records), reporting wall
// and CPU seconds per run. AILOAD_BENCH_DB names the DuckDB file to use:
// when it does not exist it is generated and ingested once and kept, so
// later runs measure Recommend only. Without it the benchmark is skipped.
func BenchmarkRecommend(b *testing.B) {
	path := os.Getenv("AILOAD_BENCH_DB")
	if path == "" {
		b.Skip("set AILOAD_BENCH_DB to a DuckDB file (created with the synthetic log when missing)")
	}
	ctx := context.Background()
	if _, err := os.Stat(path); err != nil {
		log := path + ".jsonl"
		f, err := os.Create(log)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := synth.Write(f, synth.Options{Records: benchRecords(), Seed: 1}); err != nil {
			b.Fatal(err)
		}
		f.Close()
		db, err := Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := db.IngestJSONL(ctx, log); err != nil {
			b.Fatal(err)
		}
		db.Close()
		os.Remove(log)
	}
	db, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.ResetTimer()
	c := cpuSeconds()
	for i := 0; i < b.N; i++ {
		if _, err := Recommend(ctx, db, RecommendOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/run")
	b.ReportMetric((cpuSeconds()-c)/float64(b.N), "cpu_s/run")
}
