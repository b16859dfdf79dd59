package analytics

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"
)

// BenchmarkRoundBill rounds a large bill: teams × (3 models × 3 PAYG lines
// + a share of each of 3 PTU deployments), amounts with awkward remainders,
// the direct way (what such a bill takes); BenchmarkRoundBillFlow the same
// with the flow the direct way falls back to.
func BenchmarkRoundBill(b *testing.B) {
	for _, teams := range []int{50, 1000} {
		b.Run(fmt.Sprintf("teams=%d", teams), func(b *testing.B) {
			exact, team, charge := benchBill(teams)
			b.ReportMetric(float64(len(exact)), "lines")
			b.ResetTimer()
			for range b.N {
				if _, ok := roundDirect(exact, team, charge); !ok {
					b.Fatal("the direct rounding failed on a bill it should round")
				}
			}
		})
	}
}

func BenchmarkRoundBillFlow(b *testing.B) {
	for _, teams := range []int{50, 200} {
		b.Run(fmt.Sprintf("teams=%d", teams), func(b *testing.B) {
			exact, team, charge := benchBill(teams)
			b.ReportMetric(float64(len(exact)), "lines")
			b.ResetTimer()
			for range b.N {
				roundFlow(exact, team, charge)
			}
		})
	}
}

func benchBill(teams int) (exact []*big.Rat, team, charge []int) {
	rng := rand.New(rand.NewPCG(1, 2))
	for t := range teams {
		for range 9 {
			exact = append(exact, big.NewRat(rng.Int64N(10_000_000), 1_000_000))
			team, charge = append(team, t), append(charge, -1)
		}
		for d := range 3 {
			exact = append(exact, big.NewRat(rng.Int64N(1_000_000_000), 7_000_003))
			team, charge = append(team, t), append(charge, d)
		}
	}
	return exact, team, charge
}
