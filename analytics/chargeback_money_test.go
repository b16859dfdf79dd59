package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/pricing"
)

// The money tests bill awkward workloads under every split method and check
// the cents against an exact bill recomputed here from the raw records and
// the prices, written out independently of the code under test.

// moneyModel is a test model's prices, written as decimals.
type moneyModel struct {
	name                  string
	input, cached, output string
	ptu                   *moneyPTU
}

type moneyPTU struct {
	tpmPerPTU, outputRatio int64
	hourly, monthly        string
}

type moneyDeployment struct {
	name, model string
	ptu         int64
	billing     string // hourly or monthly_reservation
	backend     string
}

type moneyRecord struct {
	team, model, backend, tier string
	prompt, cached, out        int64
	ok                         bool
	ts                         time.Time
}

type moneyCase struct {
	name        string
	period      string
	models      []moneyModel
	deployments []moneyDeployment
	records     []moneyRecord
	shares      map[string]float64 // for Fixed
}

func dec(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("bad decimal " + s)
	}
	return r
}

func (c moneyCase) pricingYAML() string {
	var b strings.Builder
	b.WriteString("currency: USD\nmodels:\n")
	for _, m := range c.models {
		fmt.Fprintf(&b, "  %s:\n    input: %s\n    output: %s\n    source: test\n", m.name, m.input, m.output)
		if m.cached != "" {
			fmt.Fprintf(&b, "    cached_input: %s\n", m.cached)
		}
		if p := m.ptu; p != nil {
			fmt.Fprintf(&b, "    ptu: {input_tpm_per_ptu: %d, output_ratio: %d, min_ptu: 1, increment: 1, hourly: %s, monthly_reservation: %s, yearly_reservation: %s}\n",
				p.tpmPerPTU, p.outputRatio, p.hourly, p.monthly, p.monthly)
		}
	}
	if len(c.deployments) > 0 {
		b.WriteString("ptu_deployments:\n")
		for _, d := range c.deployments {
			fmt.Fprintf(&b, "  - {name: %s, model: %s, ptu: %d, billing: %s, backends: [%s]}\n", d.name, d.model, d.ptu, d.billing, d.backend)
		}
	}
	return b.String()
}

func (c moneyCase) recordsJSONL() string {
	var b strings.Builder
	for i, r := range c.records {
		m := map[string]any{"schema": 1, "ts": r.ts.Format(time.RFC3339), "request_id": fmt.Sprintf("r%d", i),
			"team": r.team, "model": r.model, "backend": r.backend, "backend_tier": r.tier,
			"prompt_tokens": r.prompt, "cached_tokens": r.cached, "completion_tokens": r.out,
			"total_tokens": r.prompt + r.out, "status": 200, "outcome": "ok"}
		if !r.ok {
			m["status"], m["outcome"], m["completion_tokens"], m["total_tokens"] = 429, "throttled", 0, r.prompt
		}
		line, _ := json.Marshal(m)
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// exactBill is the bill recomputed from the records: each team's exact
// cost, each deployment's exact cost, the exact total.
type exactBill struct {
	teams       map[string]*big.Rat
	deployments map[string]*big.Rat
	total       *big.Rat
}

func (c moneyCase) exact(t *testing.T, period Period, alloc Allocation) exactBill {
	t.Helper()
	models := map[string]moneyModel{}
	for _, m := range c.models {
		models[m.name] = m
	}
	eb := exactBill{teams: map[string]*big.Rat{}, deployments: map[string]*big.Rat{}, total: new(big.Rat)}
	charge := func(team string, amt *big.Rat) {
		if eb.teams[team] == nil {
			eb.teams[team] = new(big.Rat)
		}
		eb.teams[team].Add(eb.teams[team], amt)
		eb.total.Add(eb.total, amt)
	}
	perMillion := func(tokens int64, price string) *big.Rat {
		return new(big.Rat).Mul(big.NewRat(tokens, 1_000_000), dec(price))
	}
	// use[deployment][team] = input-equivalent tokens on PTU; output tokens
	// are converted per team and model, as the provider meters them.
	use := map[string]map[string]int64{}
	outByTeam := map[string]map[string]int64{}
	for _, r := range c.records {
		if !r.ok || r.ts.Before(period.Start) || !r.ts.Before(period.End) {
			continue
		}
		m := models[r.model]
		onPTU := ""
		for _, d := range c.deployments {
			if d.model == r.model && d.backend == r.backend {
				onPTU = d.name
			}
		}
		if onPTU == "" {
			cachedPrice := m.cached
			if cachedPrice == "" {
				cachedPrice = m.input
			}
			charge(r.team, perMillion(r.prompt-r.cached, m.input))
			charge(r.team, perMillion(r.cached, cachedPrice))
			charge(r.team, perMillion(r.out, m.output))
			continue
		}
		if use[onPTU] == nil {
			use[onPTU], outByTeam[onPTU] = map[string]int64{}, map[string]int64{}
		}
		use[onPTU][r.team] += r.prompt - r.cached
		outByTeam[onPTU][r.team] += r.out
	}
	hours := big.NewRat(int64(period.End.Sub(period.Start)/time.Hour), 1)
	whole := period.Start.Day() == 1 && period.Start.AddDate(0, 1, 0).Equal(period.End)
	for _, d := range c.deployments {
		m := models[d.model]
		var cost *big.Rat
		if d.billing == "hourly" {
			cost = new(big.Rat).Mul(big.NewRat(d.ptu, 1), dec(m.ptu.hourly))
			cost.Mul(cost, hours)
		} else {
			months := big.NewRat(1, 1)
			if !whole {
				months = new(big.Rat).Quo(hours, big.NewRat(730, 1))
			}
			cost = new(big.Rat).Mul(big.NewRat(d.ptu, 1), dec(m.ptu.monthly))
			cost.Mul(cost, months)
		}
		eb.deployments[d.name] = cost
		weights := map[string]*big.Rat{}
		sum := new(big.Rat)
		var used int64
		for team, u := range use[d.name] {
			u += outByTeam[d.name][team] * m.ptu.outputRatio
			used += u
			if u == 0 {
				continue
			}
			switch alloc.Method {
			case Even:
				weights[team] = big.NewRat(1, 1)
			case Fixed:
			default:
				weights[team] = big.NewRat(u, 1)
			}
		}
		if alloc.Method == Fixed {
			for team, s := range alloc.Shares {
				if s > 0 {
					weights[team] = dec(strconv.FormatFloat(s, 'g', -1, 64)) // the weight as typed
				}
			}
		}
		for _, w := range weights {
			sum.Add(sum, w)
		}
		idle := new(big.Rat)
		capacity := d.ptu * m.ptu.tpmPerPTU * int64(period.End.Sub(period.Start)/time.Minute)
		if alloc.Method == Used && capacity > used {
			idle.SetInt64(capacity - used)
		}
		if len(weights) == 0 {
			idle.SetInt64(1)
		}
		sum.Add(sum, idle)
		for team, w := range weights {
			charge(team, new(big.Rat).Mul(cost, new(big.Rat).Quo(w, sum)))
		}
		if idle.Sign() > 0 {
			charge(alloc.IdleTo, new(big.Rat).Mul(cost, new(big.Rat).Quo(idle, sum)))
		}
	}
	return eb
}

// cents returns an exact amount in cents, as a rational.
func cents(r *big.Rat) *big.Rat { return new(big.Rat).Mul(r, big.NewRat(100, 1)) }

// withinCent reports whether got cents are the exact amount rounded down or
// up to the cent.
func withinCent(got int64, exact *big.Rat) bool {
	d := new(big.Rat).Sub(big.NewRat(got, 1), cents(exact))
	return d.Cmp(big.NewRat(-1, 1)) > 0 && d.Cmp(big.NewRat(1, 1)) < 0
}

// halfUp rounds an exact amount to cents, halves up.
func halfUp(exact *big.Rat) int64 {
	c := cents(exact)
	c.Add(c, big.NewRat(1, 2))
	return new(big.Int).Quo(c.Num(), c.Denom()).Int64()
}

func moneyCases() []moneyCase {
	nov := func(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 0, 0, 0, time.UTC) }
	dollar := moneyModel{name: "m-dollar", input: "1", output: "1",
		ptu: &moneyPTU{tpmPerPTU: 1, outputRatio: 1, hourly: "1", monthly: "1.00"}}
	third := moneyCase{
		name: "a 1.00 PTU charge split three ways", period: "2026-11",
		models:      []moneyModel{dollar, {name: "m-payg", input: "0.9", output: "0.9"}},
		deployments: []moneyDeployment{{"dep", "m-dollar", 1, "monthly_reservation", "ptu-1"}},
		records: []moneyRecord{
			{team: "a", model: "m-dollar", backend: "ptu-1", tier: "ptu", prompt: 100, ok: true, ts: nov(2, 0)},
			{team: "b", model: "m-dollar", backend: "ptu-1", tier: "ptu", prompt: 100, ok: true, ts: nov(2, 1)},
			{team: "c", model: "m-dollar", backend: "ptu-1", tier: "ptu", prompt: 100, ok: true, ts: nov(2, 2)},
			// 5,000 tokens at 0.90/1M = 0.0045: a larger remainder than the thirds',
			// and a bill of 1.0045 that rounds to 1.00.
			{team: "d", model: "m-payg", backend: "payg-1", tier: "payg", prompt: 5_000, ok: true, ts: nov(3, 0)},
		},
		shares: map[string]float64{"a": 1, "b": 1, "c": 1},
	}

	awkward := moneyModel{name: "m-awk", input: "0.37", cached: "0.185", output: "1.13",
		ptu: &moneyPTU{tpmPerPTU: 7, outputRatio: 3, hourly: "0.0733", monthly: "53.47"}}
	other := moneyModel{name: "m-other", input: "2.71", output: "3.14",
		ptu: &moneyPTU{tpmPerPTU: 11, outputRatio: 4, hourly: "1.01", monthly: "99.99"}}
	small := moneyModel{name: "m-small", input: "0.07", output: "0.29"}
	rng := rand.New(rand.NewPCG(7, 11))
	many := moneyCase{
		name: "many teams, three deployments, a partial month", period: "2026-11-03..2026-11-20",
		models: []moneyModel{awkward, other, small},
		deployments: []moneyDeployment{
			{"awk-hourly", "m-awk", 3, "hourly", "ptu-a"},
			{"other-monthly", "m-other", 2, "monthly_reservation", "ptu-o"},
			{"idle-dep", "m-other", 1, "hourly", "ptu-nobody"},
		},
		shares: map[string]float64{},
	}
	for range 600 {
		team := fmt.Sprintf("team-%02d", rng.IntN(41))
		r := moneyRecord{team: team, ok: rng.IntN(10) > 0, ts: nov(3+rng.IntN(17), rng.IntN(24)),
			prompt: 1 + rng.Int64N(5_000), out: rng.Int64N(900)}
		r.cached = rng.Int64N(r.prompt + 1)
		switch rng.IntN(5) {
		case 0:
			r.model, r.backend, r.tier = "m-awk", "ptu-a", "ptu"
		case 1:
			r.model, r.backend, r.tier = "m-awk", "payg-a", "payg" // spill-over
		case 2:
			r.model, r.backend, r.tier = "m-other", "ptu-o", "ptu"
		case 3:
			r.model, r.backend, r.tier = "m-other", "payg-o", "payg"
		default:
			r.model, r.backend, r.tier = "m-small", "payg-s", "payg"
		}
		many.records = append(many.records, r)
		many.shares[team] = float64(1 + rng.IntN(7))
	}

	tiny := moneyCase{
		name: "tiny usage beside a big team", period: "2026-11",
		models:      []moneyModel{awkward, small},
		deployments: []moneyDeployment{{"dep", "m-awk", 5, "hourly", "ptu-a"}},
		shares:      map[string]float64{"big": 0.999, "t1": 0.0005, "t2": 0.0005},
	}
	tiny.records = append(tiny.records, moneyRecord{team: "big", model: "m-awk", backend: "ptu-a", tier: "ptu",
		prompt: 20_000_000, out: 3_000_000, ok: true, ts: nov(9, 9)})
	for i := range 9 {
		tiny.records = append(tiny.records,
			moneyRecord{team: fmt.Sprintf("t%d", i), model: "m-awk", backend: "ptu-a", tier: "ptu", prompt: 1, ok: true, ts: nov(10, i)},
			moneyRecord{team: fmt.Sprintf("t%d", i), model: "m-small", backend: "payg-s", tier: "payg", prompt: 1, out: 1, ok: true, ts: nov(10, i)})
	}
	return []moneyCase{third, many, tiny}
}

func TestChargebackMoney(t *testing.T) {
	t.Parallel()
	for _, c := range moneyCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			pricingPath, logPath := filepath.Join(dir, "pricing.yaml"), filepath.Join(dir, "records.jsonl")
			if err := os.WriteFile(pricingPath, []byte(c.pricingYAML()), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(logPath, []byte(c.recordsJSONL()), 0o644); err != nil {
				t.Fatal(err)
			}
			prices, err := pricing.Load(pricingPath)
			if err != nil {
				t.Fatal(err)
			}
			db := openTestDB(t)
			ingest(t, db, logPath, FormatAiload)
			period, err := ParsePeriod(c.period)
			if err != nil {
				t.Fatal(err)
			}
			firstTeam := c.records[0].team
			for _, alloc := range []Allocation{
				{Method: Proportional}, {Method: Even}, {Method: Fixed, Shares: c.shares},
				{Method: Used}, {Method: Used, IdleTo: firstTeam},
			} {
				if alloc.IdleTo == "" {
					alloc.IdleTo = "(unallocated)"
				}
				res, err := Chargeback(context.Background(), db, prices, period, alloc)
				if err != nil {
					t.Fatalf("%s: %v", alloc.Method, err)
				}
				checkMoney(t, fmt.Sprintf("%s, idle to %s", alloc.Method, alloc.IdleTo), res, c.exact(t, period, alloc))
			}
		})
	}
}

func checkMoney(t *testing.T, name string, res *ChargebackResult, want exactBill) {
	t.Helper()
	ptuLines := map[string]int64{}
	for _, l := range res.Lines {
		if l.Tier == TierPTU {
			ptuLines[l.Deployment] += l.Cents
		}
	}
	if len(res.Deployments) != len(want.deployments) {
		t.Errorf("%s: %d deployments billed, want %d", name, len(res.Deployments), len(want.deployments))
	}
	for _, d := range res.Deployments {
		exact := want.deployments[d.Name]
		if ptuLines[d.Name] != d.Cents {
			t.Errorf("%s: %s's allocated lines add up to %s, the charge is %s",
				name, d.Name, FormatCents(ptuLines[d.Name]), FormatCents(d.Cents))
		}
		if d.Cents != halfUp(exact) {
			t.Errorf("%s: %s charged %s, exact %s", name, d.Name, FormatCents(d.Cents), exact.FloatString(6))
		}
	}
	var sum int64
	seen := map[string]bool{}
	for _, tt := range res.Teams {
		sum += tt.Cents
		seen[tt.Team] = true
		exact, ok := want.teams[tt.Team]
		if !ok {
			t.Errorf("%s: team %s billed %s, owes nothing", name, tt.Team, FormatCents(tt.Cents))
			continue
		}
		if !withinCent(tt.Cents, exact) {
			t.Errorf("%s: team %s billed %s, exact %s", name, tt.Team, FormatCents(tt.Cents), exact.FloatString(6))
		}
	}
	for team, exact := range want.teams {
		if !seen[team] && exact.Sign() > 0 {
			t.Errorf("%s: team %s owes %s, not billed", name, team, exact.FloatString(6))
		}
	}
	if sum != res.TotalCents || res.TotalCents != halfUp(want.total) {
		t.Errorf("%s: teams add up to %s, bill %s, exact %s", name, FormatCents(sum), FormatCents(res.TotalCents),
			want.total.FloatString(6))
	}
}
