package reports

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/aiload/aiload/pricing"
)

// syntheticReport is a month for n teams: three models each, a PTU charge
// split proportionally among all of them, a month of per-minute demand per
// team, two consumers each and three PTU plans.
func syntheticReport(n int) Report {
	p := pricing.Month(2026, time.November)
	r := Report{Period: p}
	models := []struct {
		name            string
		in, cached, out float64
	}{{"gpt-4o", 2.5, 1.25, 10}, {"gpt-4o-mini", 0.15, 0.075, 0.6}, {"gpt-4.1", 2, 0.5, 8}}
	ptu := CapacityCharge{Model: "gpt-4o", Deployment: "ptu-eastus", PTUs: 100,
		Quantity: 72_000 * 1_000_000, UnitPrice: usd(1), Cost: usd(72_000),
		Method: "ptu-proportional-input-equivalent-tokens"}
	var basisSum int64
	for i := range n {
		team := fmt.Sprintf("team-%02d", i)
		for j, m := range models {
			k := int64(i+1) * int64(j+1) * 1_000_003
			r.Usage = append(r.Usage,
				payg(team, m.name, pricing.PAYGInput, k, m.in),
				payg(team, m.name, pricing.PAYGCachedInput, k/4, m.cached),
				payg(team, m.name, pricing.PAYGOutput, k/5, m.out))
		}
		basis := int64(i+1) * 7_000_000
		basisSum += basis
		ptu.Allocations = append(ptu.Allocations, Allocation{Team: team, Basis: basis})
		a := TeamActivity{Team: team, Requests: int64(i+1) * 10_000, Throttled: int64(i) * 13}
		for m := range 30 * 24 * 60 {
			d := int64((m*7919+i*104729)%50_000) + int64(i)*100
			a.Demand = append(a.Demand, MinutePoint{Minute: p.Start.Add(time.Duration(m) * time.Minute),
				Demand: d, Served: min(d, 40_000), LimitTPM: 40_000})
		}
		a.Recommendations = []Recommendation{
			{Consumer: team + "-prod", Product: "standard", CurrentTPM: 40_000, RecommendedTPM: 45_000,
				Explanation: "p99 minute was 41k tokens; 45k throttles 0.6% of requests"},
			{Consumer: team + "-dev", Product: "developer", CurrentTPM: 10_000, RecommendedTPM: 8_000,
				Explanation: "max minute was 7.2k tokens; 8k throttles nothing"},
		}
		r.Teams = append(r.Teams, a)
	}
	// Proportional split in cents, the remainder to the largest basis.
	var given Money
	for i := range ptu.Allocations {
		a := &ptu.Allocations[i]
		a.Ratio = float64(a.Basis) / float64(basisSum)
		a.Cost = Money(ptu.Cost.Cents()*a.Basis/basisSum) * 10_000 // floor to the cent
		given += a.Cost
	}
	ptu.Allocations[n-1].Cost += ptu.Cost - given
	r.Capacity = []CapacityCharge{ptu}
	for _, m := range models {
		r.Plans = append(r.Plans, samplePlan(m.name))
	}
	return r
}

// BenchmarkPDF50Teams renders the PDF of a 50-team month, charts included
// (target: under 2 s).
func BenchmarkPDF50Teams(b *testing.B) {
	r := syntheticReport(50)
	if err := WritePDF(io.Discard, r, PDFOptions{Created: fixedTime}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		var buf bytes.Buffer
		if err := WritePDF(&buf, r, PDFOptions{Created: fixedTime}); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(buf.Len()))
	}
}

// BenchmarkChartFiles50Teams writes the PNG and SVG files of a 50-team
// month.
func BenchmarkChartFiles50Teams(b *testing.B) {
	r := syntheticReport(50)
	for range b.N {
		if _, err := WriteCharts(b.TempDir(), r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCSV50Teams writes the chargeback and FOCUS CSVs of a 50-team
// month.
func BenchmarkCSV50Teams(b *testing.B) {
	r := syntheticReport(50)
	for range b.N {
		if err := WriteCSV(io.Discard, r); err != nil {
			b.Fatal(err)
		}
		if err := WriteFOCUS(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSyntheticReportIsValid(t *testing.T) {
	t.Parallel()
	r := syntheticReport(50)
	r.Normalize()
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
}
