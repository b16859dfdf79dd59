package analytics

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiload/aiload/pricing"
)

// testdata/chargeback.jsonl priced with testdata/chargeback_pricing.yaml,
// period 2026-11 (30 days = 43,200 minutes):
//
//	dep1: 3 PTU of m-ptu on a monthly reservation at 100 → 300.00.
//	  capacity = 3 PTU × 1 input TPM/PTU × 43,200 min = 129,600 tokens.
//	c1 alpha on PTU: 10,000 prompt − 2,000 cached + 4 × 1,000 output = 12,000 input-equivalent
//	c2 beta  on PTU:  5,000 prompt − 0 + 4 × 250                    =  6,000
//	c3 beta  PAYG of a model with a PTU deployment: spill.
//	  input 800,000 × 2.00/1M = 1.60; cached 200,000 × 0.50/1M = 0.10; output 100,000 × 8.00/1M = 0.80
//	c4 gamma PAYG m-payg (no cached price: input price):
//	  input 333,333 × 1.00/1M = 0.333333; output 111,111 × 3.00/1M = 0.333333
//	c5 throttled, c6 in October: not billed. c7 llama-3: no price, a warning.
//
// Proportional: alpha 300 × 12,000/18,000 = 200.00, beta 100.00.
// Exact bill 300 + 2.50 + 0.666666 = 303.166666 → 303.17. Floors: 200.00,
// 100.00, 1.60, 0.10, 0.80, 0.33, 0.33 = 303.16; the missing cent goes to
// the largest remainder, a tie between gamma's input and output (0.3333
// each): input comes first → 0.34.
func TestChargeback(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	ingest(t, db, filepath.Join("testdata", "chargeback.jsonl"), FormatAiload)
	prices, err := pricing.Load(filepath.Join("testdata", "chargeback_pricing.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	period, _ := ParsePeriod("2026-11")
	tests := []struct {
		alloc Allocation
		teams string // team=total(payg/spill/ptu) …
		total int64
	}{
		// default: proportional to input-equivalent tokens on PTU
		{Allocation{}, "alpha=20000(0/0/20000) beta=10250(0/250/10000) gamma=67(67/0/0)", 30317},
		// even: 150.00 each to the two teams that used dep1
		{Allocation{Method: Even}, "alpha=15000(0/0/15000) beta=15250(0/250/15000) gamma=67(67/0/0)", 30317},
		// fixed shares from the pricing file, alpha 2 : beta 1
		{Allocation{Method: Fixed}, "alpha=20000(0/0/20000) beta=10250(0/250/10000) gamma=67(67/0/0)", 30317},
		// fixed shares given: 1 : 1 : 2 → 75 / 75 / 150
		{Allocation{Method: Fixed, Shares: map[string]float64{"alpha": 1, "beta": 1, "gamma": 2}},
			"alpha=7500(0/0/7500) beta=7750(0/250/7500) gamma=15067(67/0/15000)", 30317},
		// used: alpha 300 × 12,000/129,600 = 27.777…, beta 300 × 6,000/129,600 = 13.888…,
		// idle 300 × 111,600/129,600 = 258.333… to "platform". The charge's floors 27.77 + 13.88 +
		// 258.33 = 299.98: its 2 cents go to beta (.888) and alpha (.777), so the lines add up to
		// the 300.00 charge. Exact bill 303.1666… → 303.17: gamma's 0.6666 rounds up to 0.67.
		{Allocation{Method: Used, IdleTo: "platform"},
			"alpha=2778(0/0/2778) beta=1639(0/250/1389) gamma=67(67/0/0) platform=25833(0/0/25833)", 30317},
	}
	for _, tc := range tests {
		res, err := Chargeback(context.Background(), db, prices, period, tc.alloc)
		if err != nil {
			t.Fatalf("Chargeback(%+v): %v", tc.alloc, err)
		}
		if got := formatTeams(res.Teams); got != tc.teams || res.TotalCents != tc.total {
			t.Errorf("Chargeback(%+v):\n got %s total %d\nwant %s total %d", tc.alloc, got, res.TotalCents, tc.teams, tc.total)
		}
		var sum int64
		for _, l := range res.Lines {
			sum += l.Cents
		}
		if sum != res.TotalCents {
			t.Errorf("%s: lines add up to %d, bill is %d", tc.alloc.Method, sum, res.TotalCents)
		}
		if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], `"llama-3"`) {
			t.Errorf("warnings = %q, want one about llama-3", res.Warnings)
		}
	}
}

func TestChargebackLines(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	ingest(t, db, filepath.Join("testdata", "chargeback.jsonl"), FormatAiload)
	prices, _ := pricing.Load(filepath.Join("testdata", "chargeback_pricing.yaml"))
	period, _ := ParsePeriod("2026-11")
	res, err := Chargeback(context.Background(), db, prices, period, Allocation{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range res.Lines {
		got = append(got, fmt.Sprintf("%s %s %s %s %s %d %d", l.Team, l.Model, l.Tier, l.CostType, l.Deployment, l.Tokens, l.Cents))
	}
	want := []string{
		"alpha m-ptu ptu ptu_share dep1 12000 20000",
		"beta m-ptu ptu ptu_share dep1 6000 10000",
		"beta m-ptu spill payg_input  800000 160",
		"beta m-ptu spill payg_cached_input  200000 10",
		"beta m-ptu spill payg_output  100000 80",
		"gamma m-payg payg payg_input  333333 34",
		"gamma m-payg payg payg_output  111111 33",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	d := res.Deployments[0]
	if d.Cents != 30000 || d.CapacityTokens != 129600 || d.UsedTokens != 18000 {
		t.Errorf("deployment = %+v; want 30000 cents, capacity 129600, used 18000", d)
	}
	if res.Method != Proportional || !strings.Contains(res.MethodDescription, "proportional") {
		t.Errorf("method %q %q", res.Method, res.MethodDescription)
	}
}

func TestRoundBill(t *testing.T) {
	t.Parallel()
	r := func(a, b int64) *big.Rat { return big.NewRat(a, b) }
	tests := []struct {
		name         string
		in           []*big.Rat
		team, charge []int
		want         []int64
	}{
		{"a 1.00 charge split three ways: 33.33… each, the extra cent to the first",
			[]*big.Rat{r(1, 3), r(1, 3), r(1, 3)}, []int{0, 1, 2}, []int{0, 0, 0}, []int64{34, 33, 33}},
		{"a larger remainder outside the charge (0.49 of a cent; bill 1.0049 → 1.00) does not take the charge's cent",
			[]*big.Rat{r(1, 3), r(1, 3), r(1, 3), r(49, 10000)}, []int{0, 1, 2, 3}, []int{0, 0, 0, -1},
			[]int64{34, 33, 33, 0}},
		{"0.005 + 0.005 = 0.01 of one PAYG team: one cent, to the first of two equal halves",
			[]*big.Rat{r(5, 1000), r(5, 1000)}, []int{0, 0}, []int{-1, -1}, []int64{1, 0}},
		{"two half-cent charges of one team: the team's exact cent wins over rounding both up",
			[]*big.Rat{r(5, 1000), r(5, 1000)}, []int{0, 0}, []int{0, 1}, []int64{1, 0}},
		{"exact cents stay as they are",
			[]*big.Rat{r(125, 100), r(75, 100)}, []int{0, 1}, []int{-1, -1}, []int64{125, 75}},
		{"0.004 alone rounds to 0", []*big.Rat{r(4, 1000)}, []int{0}, []int{-1}, []int64{0}},
	}
	for _, tc := range tests {
		if got := roundBill(tc.in, tc.team, tc.charge); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: roundBill(%v) = %v, want %v", tc.name, tc.in, got, tc.want)
		}
	}
}

func formatTeams(ts []TeamTotal) string {
	var parts []string
	for _, t := range ts {
		parts = append(parts, fmt.Sprintf("%s=%d(%d/%d/%d)", t.Team, t.Cents, t.PAYGCents, t.SpillCents, t.PTUCents))
	}
	return strings.Join(parts, " ")
}

func TestChargebackEmptyPeriod(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	ingest(t, db, filepath.Join("testdata", "chargeback.jsonl"), FormatAiload)
	period, _ := ParsePeriod("2027-01")
	res, err := Chargeback(context.Background(), db, pricing.Default(), period, Allocation{})
	if err != nil {
		t.Fatal(err)
	}
	if res.TotalCents != 0 || len(res.Lines) != 0 || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "no requests answered ok") {
		t.Errorf("empty period: %+v", res)
	}
}

// TestRoundBillBounds rounds random bills, awkward on purpose (teams on
// several PTU charges with few or no pay-as-you-go lines, half-cent
// amounts), with the direct rounding (when it succeeds) and with the flow,
// and checks the bounds a user relies on: every line, charge, team total
// and the bill within a cent of exact, charge lines adding up to the charge.
func TestRoundBillBounds(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	within := func(got int64, exact *big.Rat) bool {
		d := new(big.Rat).Sub(big.NewRat(got, 1), new(big.Rat).Mul(exact, big.NewRat(100, 1)))
		return d.Cmp(big.NewRat(-1, 1)) > 0 && d.Cmp(big.NewRat(1, 1)) < 0
	}
	directUsed, flowOnly := 0, 0
	for trial := range 400 {
		teams, charges := 1+rng.IntN(6), rng.IntN(4)
		var exact []*big.Rat
		var team, charge []int
		for tm := range teams {
			for range rng.IntN(3) { // PAYG lines, sometimes none
				exact = append(exact, big.NewRat(rng.Int64N(2000), 1000*int64(1+rng.IntN(3))))
				team, charge = append(team, tm), append(charge, -1)
			}
			for d := range charges {
				if rng.IntN(3) > 0 {
					exact = append(exact, big.NewRat(rng.Int64N(400), 200)) // half cents and whole ones
					team, charge = append(team, tm), append(charge, d)
				}
			}
		}
		if len(exact) == 0 {
			continue
		}
		check := func(name string, cents []int64) {
			chargeC, chargeE := map[int]int64{}, map[int]*big.Rat{}
			teamC, teamE := map[int]int64{}, map[int]*big.Rat{}
			var bill int64
			totalE := new(big.Rat)
			add := func(m map[int]*big.Rat, k int, e *big.Rat) {
				if m[k] == nil {
					m[k] = new(big.Rat)
				}
				m[k].Add(m[k], e)
			}
			for i, e := range exact {
				if !within(cents[i], e) {
					t.Fatalf("trial %d %s: line %d %d cents for %s", trial, name, i, cents[i], e.FloatString(4))
				}
				teamC[team[i]] += cents[i]
				add(teamE, team[i], e)
				if charge[i] >= 0 {
					chargeC[charge[i]] += cents[i]
					add(chargeE, charge[i], e)
				}
				bill += cents[i]
				totalE.Add(totalE, e)
			}
			for d, c := range chargeC {
				if !within(c, chargeE[d]) {
					t.Errorf("trial %d %s: charge %d %d cents for %s", trial, name, d, c, chargeE[d].FloatString(4))
				}
			}
			for tm, c := range teamC {
				if !within(c, teamE[tm]) {
					t.Errorf("trial %d %s: team %d %d cents for %s", trial, name, tm, c, teamE[tm].FloatString(4))
				}
			}
			if !within(bill, totalE) {
				t.Errorf("trial %d %s: bill %d cents for %s", trial, name, bill, totalE.FloatString(4))
			}
		}
		if cents, ok := roundDirect(exact, team, charge); ok {
			directUsed++
			check("direct", cents)
		} else {
			flowOnly++
		}
		check("flow", roundFlow(exact, team, charge))
	}
	if directUsed == 0 || flowOnly == 0 {
		t.Errorf("direct rounding used %d times, flow alone %d: the cases exercise only one", directUsed, flowOnly)
	}
}
