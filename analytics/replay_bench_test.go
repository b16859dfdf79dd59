package analytics

import (
	"math/rand/v2"
	"testing"
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
