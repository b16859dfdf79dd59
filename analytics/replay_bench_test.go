package analytics

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/aiload/aiload/gateway/policy"
)

// BenchmarkReplay measures one replay of 100,000 events (about 10 per
// minute) through the gateway's token limit.
func BenchmarkReplay(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	ev := make([]event, 100_000)
	at := int64(0)
	for i := range ev {
		at += int64(rng.ExpFloat64() * 6e6)
		ev[i] = event{atUS: at, tokens: 200 + int64(rng.ExpFloat64()*800)}
	}
	b.Run("policy", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			replay(ev, 5000, policy.ModeAPIM)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ev)), "ns/event")
	})
	b.Run("fast", func(b *testing.B) {
		q := make([]event, 0, 1024)
		for i := 0; i < b.N; i++ {
			replayFast(ev, 5000, policy.ModeAPIM, q, math.MaxInt64)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ev)), "ns/event")
	})
}
