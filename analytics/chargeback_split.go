package analytics

import (
	"fmt"
	"math/big"
	"sort"

	"github.com/aiload/aiload/pricing"
)

// deploymentCost returns a deployment's exact cost for the period: PTU ×
// hourly price × hours, or PTU × monthly price × months, where a period of
// whole calendar months counts them and any other period counts hours/730.
func deploymentCost(d pricing.Deployment, m pricing.Model, p Period) *big.Rat {
	ptu := big.NewRat(int64(d.PTU), 1)
	if d.Billing == pricing.Hourly {
		hours := new(big.Rat).SetFrac64(int64(p.End.Sub(p.Start).Seconds()), 3600)
		return ptu.Mul(ptu, hours).Mul(ptu, ratOf(m.PTU.Hourly))
	}
	months := big.NewRat(int64(p.WholeMonths()), 1)
	if months.Sign() == 0 {
		months.SetFrac64(int64(p.End.Sub(p.Start).Seconds()), 3600*pricing.HoursPerMonth)
	}
	return ptu.Mul(ptu, months).Mul(ptu, ratOf(m.PTU.MonthlyPrice(d.Billing)))
}

// splitPTU turns each deployment's cost into PTU lines by the method.
func (b *bill) splitPTU() error {
	for i, d := range b.prices.Deployments {
		model := b.prices.Resolve(d.Model)
		m := b.prices.Models[model]
		cost := deploymentCost(d, m, b.period)
		use := b.ptuUse[i]
		var used int64
		for _, w := range use {
			used += w
		}
		capacity := int64(float64(d.PTU)*m.PTU.InputTPMPerPTU) * b.period.Minutes()
		dc := DeploymentCost{Name: d.Name, Model: model, PTU: d.PTU, Billing: d.Billing,
			CapacityTokens: capacity, UsedTokens: used}
		if capacity > 0 {
			dc.Utilization = float64(used) / float64(capacity)
		}
		b.deps = append(b.deps, dc)
		weights, idle, err := b.weights(d, use, used, capacity)
		if err != nil {
			return err
		}
		total := new(big.Rat)
		for _, w := range weights {
			total.Add(total, w)
		}
		total.Add(total, idle)
		for _, team := range sortedKeys(weights) {
			b.ptuLine(team, model, false, d.Name, use[team], cost, weights[team], total)
		}
		if idle.Sign() > 0 {
			b.ptuLine(b.alloc.IdleTo, model, true, d.Name, 0, cost, idle, total)
		}
	}
	return nil
}

// weights returns each team's weight in a deployment's cost and the idle
// weight, in the same unit.
func (b *bill) weights(d pricing.Deployment, use map[string]int64, used, capacity int64) (map[string]*big.Rat, *big.Rat, error) {
	w := map[string]*big.Rat{}
	idle := new(big.Rat)
	switch b.alloc.Method {
	case Proportional:
		for team, u := range use {
			if u > 0 {
				w[team] = big.NewRat(u, 1)
			}
		}
	case Even:
		for team, u := range use {
			if u > 0 {
				w[team] = big.NewRat(1, 1)
			}
		}
	case Fixed:
		shares := b.alloc.Shares
		if len(shares) == 0 {
			shares = d.Shares
		}
		if len(shares) == 0 {
			return nil, nil, fmt.Errorf("chargeback: method fixed needs shares (--shares, or ptu_deployments[].shares for %s)", d.Name)
		}
		for team, s := range shares {
			if s > 0 {
				w[team] = ratOf(s)
			}
		}
	case Used:
		for team, u := range use {
			if u > 0 {
				w[team] = big.NewRat(u, 1)
			}
		}
		if capacity > used {
			idle.SetInt64(capacity - used) // used above capacity (bursts) falls back to proportional
		}
	}
	if len(w) == 0 {
		idle.SetInt64(1) // nobody used it: all of it is idle
	}
	return w, idle, nil
}

func (b *bill) ptuLine(team, model string, idle bool, dep string, tokens int64, total, weight, sum *big.Rat) {
	l := b.line(lineKey{team, model, TierPTU, pricing.PTUShare, dep, idle})
	l.Tokens += tokens
	share := new(big.Rat).Quo(weight, sum)
	l.Share, _ = share.Float64()
	l.ShareExact = share
	l.exact.Add(l.exact, new(big.Rat).Mul(total, share))
}

// result rounds the bill (see RoundingRule and roundBill) and orders it.
func (b *bill) result() *ChargebackResult {
	res := &ChargebackResult{Period: b.period, By: b.alloc.By.Name, Currency: b.prices.Currency, Method: b.alloc.Method,
		MethodDescription: methodDescription(b.alloc), RoundingRule: RoundingRule,
		Deployments: b.deps, Warnings: b.warnings}
	pending := make([]*pendingLine, 0, len(b.lines))
	for _, l := range b.lines {
		pending = append(pending, l)
	}
	sort.Slice(pending, func(i, j int) bool { return lineLess(&pending[i].ChargeLine, &pending[j].ChargeLine) })
	exact := make([]*big.Rat, len(pending))
	team := make([]int, len(pending))
	charge := make([]int, len(pending))
	teamIdx, chargeIdx := map[string]int{}, map[string]int{}
	index := func(m map[string]int, k string) int {
		i, ok := m[k]
		if !ok {
			i = len(m)
			m[k] = i
		}
		return i
	}
	for i, l := range pending {
		exact[i] = l.exact
		team[i] = index(teamIdx, l.Team)
		charge[i] = -1
		if l.Tier == TierPTU {
			charge[i] = index(chargeIdx, l.Deployment)
		}
	}
	cents := roundBill(exact, team, charge)
	teams := map[string]*TeamTotal{}
	for i, l := range pending {
		l.Cents = cents[i]
		l.Amount, _ = l.exact.Float64()
		res.Lines = append(res.Lines, l.ChargeLine)
		t := teams[l.Team]
		if t == nil {
			t = &TeamTotal{Team: l.Team}
			teams[l.Team] = t
		}
		switch l.Tier {
		case TierPAYG:
			t.PAYGCents += l.Cents
		case TierSpill:
			t.SpillCents += l.Cents
		case TierPTU:
			t.PTUCents += l.Cents
		}
		t.Cents += l.Cents
		res.TotalCents += l.Cents
	}
	for _, name := range sortedKeys(teams) {
		res.Teams = append(res.Teams, *teams[name])
	}
	for i := range res.Deployments {
		d := &res.Deployments[i]
		for _, l := range res.Lines {
			if l.Deployment == d.Name {
				d.Cents += l.Cents
			}
		}
	}
	return res
}

func lineLess(a, b *ChargeLine) bool {
	if a.Team != b.Team {
		return a.Team < b.Team
	}
	if a.Model != b.Model {
		return a.Model < b.Model
	}
	if a.Tier != b.Tier {
		return a.Tier < b.Tier
	}
	if a.CostType != b.CostType {
		return a.CostType.Order() < b.CostType.Order()
	}
	if a.Deployment != b.Deployment {
		return a.Deployment < b.Deployment
	}
	return !a.Idle && b.Idle
}

// FormatCents renders cents as a decimal amount: 123456 → "1234.56".
func FormatCents(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
}
