package reports

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aiload/aiload/pricing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// usd is a test shorthand: usd(2.5) = $2.50 as Money.
func usd(f float64) Money { return MoneyFromFloat(f) }

// payg builds a PAYG line whose cost is tokens × price / 1e6, exact.
func payg(team, model string, t pricing.CostType, tokens int64, price float64) Line {
	l := Line{Team: team, Model: model, Type: t, Tokens: tokens, UnitPrice: usd(price)}
	l.Cost = Quantity(tokens).timesMoney(l.UnitPrice)
	return l
}

// sampleReport is a hand-checkable November 2026 report for three teams.
//
// Team totals (derived by hand):
//
//	support:         gpt-4o 3.00 in + 0.50 cached + 3.00 out; gpt-4o-mini 0.75 in + 0.60 out;
//	                 PTU gpt-4o 6,480.00 (ratio 0.6); PTU gpt-4o-mini 33.34 (1/3)  = 6,521.19
//	research:        gpt-4o 5.864195 in + 1.23457 out; PTU gpt-4o 3,240.00 (0.3);
//	                 PTU gpt-4o-mini 33.33                                         = 3,280.428765 → 3,280.43
//	Équipe Données:  gpt-4o-mini 0.0015 in; PTU gpt-4o 1,080.00 (0.1); PTU mini 33.33 = 1,113.3315 → 1,113.33
//
// Total 10,914.950265 → $10,914.95 (= 7.25 + 0.6 + ... the sum of the lines).
func sampleReport() Report {
	p := pricing.Month(2026, time.November)
	r := Report{
		Period: p,
		Usage: []Line{
			payg("support", "gpt-4o", pricing.PAYGInput, 1_200_000, 2.50),      // 3.00
			payg("support", "gpt-4o", pricing.PAYGCachedInput, 400_000, 1.25),  // 0.50
			payg("support", "gpt-4o", pricing.PAYGOutput, 300_000, 10.00),      // 3.00
			payg("support", "gpt-4o-mini", pricing.PAYGInput, 5_000_000, 0.15), // 0.75
			payg("support", "gpt-4o-mini", pricing.PAYGOutput, 1_000_000, 0.60),
			payg("research", "gpt-4o", pricing.PAYGInput, 2_345_678, 2.50), // 5.864195
			payg("research", "gpt-4o", pricing.PAYGOutput, 123_457, 10.00), // 1.23457
			payg("Équipe Données", "gpt-4o-mini", pricing.PAYGInput, 10_000, 0.15),
		},
		Capacity: []CapacityCharge{{
			Model: "gpt-4o", Deployment: "ptu-eastus", PTUs: 15,
			Quantity: 10_800 * 1_000_000, UnitPrice: usd(1), Cost: usd(10_800),
			Method:            "ptu-proportional-input-equivalent-tokens",
			MethodDescription: "proportional to input-equivalent tokens served on the PTU deployment",
			Allocations: []Allocation{
				{Team: "support", Ratio: 0.6, Basis: 600_000, Cost: usd(6_480)},
				{Team: "research", Ratio: 0.3, Basis: 300_000, Cost: usd(3_240)},
				{Team: "Équipe Données", Ratio: 0.1, Basis: 100_000, Cost: usd(1_080)},
			},
		}, {
			Model: "gpt-4o-mini", Deployment: "ptu-mini", PTUs: 15,
			Quantity: 100 * 1_000_000, UnitPrice: usd(1), Cost: usd(100),
			Method: "ptu-even", MethodDescription: "split evenly among the teams that used it",
			Allocations: []Allocation{
				{Team: "support", Ratio: 1.0 / 3, Basis: 50_000, Cost: usd(33.34)},
				{Team: "research", Ratio: 1.0 / 3, Basis: 20_000, Cost: usd(33.33)},
				{Team: "Équipe Données", Ratio: 1.0 / 3, Basis: 1_000, Cost: usd(33.33)},
			},
		}},
		Method: Methodology{
			PricingSource: "pricing.yaml: Azure OpenAI Global Standard list prices (checked 2026-11-01)",
			Allocation:    "PTU cost split proportionally to input-equivalent tokens served on PTU",
			Rounding:      "lines exact to 1e-6; team totals rounded half away from zero to the cent",
			Warnings:      []string{`no price for model "llama-3": 2 requests of team research not charged`},
		},
	}
	for i, team := range []string{"support", "research", "Équipe Données"} {
		r.Teams = append(r.Teams, sampleActivity(team, p.Start, int64(i+1)))
	}
	r.Plans = []PTUPlan{samplePlan("gpt-4o"), samplePlan("gpt-4o-mini")}
	return r
}

// sampleActivity is 90 minutes of demand that rises over the team's limit.
func sampleActivity(team string, start time.Time, k int64) TeamActivity {
	a := TeamActivity{Team: team, Requests: 1000 * k, Throttled: 17 * k, Retries: 25 * k, RetriesThrottled: 9 * k,
		RefusedTokens: 17_000 * k}
	limit := 40_000 * k
	for m := range 90 {
		d := int64(m) * 600 * k
		a.Demand = append(a.Demand, MinutePoint{
			Minute: start.Add(time.Duration(m) * time.Minute),
			Demand: d, Served: min(d, limit), LimitTPM: limit,
		})
	}
	a.Recommendations = []Recommendation{{
		Consumer: team + "-sub", Product: "standard", CurrentTPM: limit, RecommendedTPM: 55_000 * k,
		Explanation: fmt.Sprintf("p99 minute was %dk tokens; %dk throttles 0.6%% of requests", 53*k, 55*k),
	}}
	return a
}

func samplePlan(model string) PTUPlan {
	p := PTUPlan{Model: model, Recommended: 30, Cheapest: 25, PeakEstimate: 50, PAYGOnly: usd(20_000),
		Explanation: "30 PTU keeps spill under 5% of tokens at $22,260/month"}
	for n := 15; n <= 60; n += 5 {
		spill := int64(60-n) * 1_000_000
		p.Points = append(p.Points, PlanPoint{
			PTUs: n, PTUCost: usd(float64(n) * 730), SpillTokens: spill,
			SpillCost: Quantity(spill).timesMoney(usd(2.5)) * 40, PTUShare: float64(n) / 60,
		})
	}
	return p
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden %s (run go test -update to create it): %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden (go test ./reports -update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
