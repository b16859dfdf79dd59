package reports

import (
	"math/big"
	"sort"
	"strconv"

	"github.com/aiload/aiload/pricing"
)

// Lines returns every chargeback line: the PAYG usage lines and one PTU
// share line per allocation, ordered by team, model and cost type. The
// report must be normalized.
func (r *Report) Lines() []Line {
	lines := append([]Line(nil), r.Usage...)
	for _, c := range r.Capacity {
		weights := shares(c.Allocations)
		ratios := apportion(big.NewInt(ratioScale), weights)
		// Quantities in 1e-18 of the unit: Quantity's millionths × 1e12.
		qty := apportion(new(big.Int).Mul(big.NewInt(int64(c.Quantity)), big.NewInt(ratioScale)), weights)
		for i, a := range c.Allocations {
			lines = append(lines, Line{
				Team: a.Team, Model: c.Model, Deployment: c.Deployment, Type: pricing.PTUShare,
				Tokens: a.Basis, Unit: c.Unit, UnitPrice: c.UnitPrice,
				Cost: a.Cost, Method: c.Method, Ratio: a.Ratio,
				RatioDecimal: trimDecimals(fixed(ratios[i], 12), 1), Origin: c.ID,
				allocatedQuantity: new(big.Rat).SetFrac(qty[i], big.NewInt(1e18)),
			})
		}
	}
	sort.SliceStable(lines, func(i, j int) bool {
		a, b := lines[i], lines[j]
		if a.Team != b.Team {
			return a.Team < b.Team
		}
		if a.Model != b.Model {
			return a.Model < b.Model
		}
		return a.Type.Order() < b.Type.Order()
	})
	return lines
}

// PricingQuantity is the quantity of Unit the line pays for, as a decimal:
// Quantity for a direct line; for an allocated line (a PTU share) its exact
// share of the origin charge's quantity, to 18 decimals (the allocated
// quantities of a charge add up to the charge's exactly).
func (l Line) PricingQuantity() string { return trimDecimals(l.pricingQuantity().FloatString(18), 0) }

// ListCost is PricingQuantity × UnitPrice, exact: for an allocated line, its
// share of the origin charge's list cost.
func (l Line) ListCost() string {
	c := new(big.Rat).Mul(l.pricingQuantity(), big.NewRat(int64(l.UnitPrice), 1_000_000))
	return trimDecimals(c.FloatString(24), 2)
}

func (l Line) pricingQuantity() *big.Rat {
	if l.allocatedQuantity != nil {
		return l.allocatedQuantity
	}
	return big.NewRat(int64(l.Quantity), 1_000_000)
}

// ratioScale is the resolution of printed allocation ratios (12 decimals).
const ratioScale = 1_000_000_000_000

// shares are the allocations' exact ratios: Exact when given, else Ratio as
// the shortest decimal that reads back as it.
func shares(allocs []Allocation) []*big.Rat {
	out := make([]*big.Rat, len(allocs))
	for i, a := range allocs {
		if a.Exact != nil {
			out[i] = a.Exact
			continue
		}
		out[i], _ = new(big.Rat).SetString(strconv.FormatFloat(a.Ratio, 'g', -1, 64))
	}
	return out
}

// apportion splits total into integer parts proportional to the weights
// (normalised by their sum) that add up to total exactly: each part is
// rounded down and the units left over go to the largest remainders,
// earlier weights first on ties.
func apportion(total *big.Int, weights []*big.Rat) []*big.Int {
	sum := new(big.Rat)
	for _, w := range weights {
		sum.Add(sum, w)
	}
	parts := make([]*big.Int, len(weights))
	rems := make([]*big.Rat, len(weights))
	given := new(big.Int)
	for i, w := range weights {
		parts[i], rems[i] = new(big.Int), new(big.Rat)
		if sum.Sign() <= 0 || w.Sign() <= 0 {
			continue
		}
		exact := new(big.Rat).Mul(new(big.Rat).SetInt(total), new(big.Rat).Quo(w, sum))
		parts[i].Quo(exact.Num(), exact.Denom())
		rems[i].Sub(exact, new(big.Rat).SetInt(parts[i]))
		given.Add(given, parts[i])
	}
	if sum.Sign() <= 0 {
		return parts
	}
	order := make([]int, len(weights))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return rems[order[i]].Cmp(rems[order[j]]) > 0 })
	left := new(big.Int).Sub(total, given).Int64() // fewer than len(weights)
	for k := int64(0); k < left; k++ {
		parts[order[k]].Add(parts[order[k]], big.NewInt(1))
	}
	return parts
}

// TeamTotal is what one team pays in the period.
type TeamTotal struct {
	Team   string
	Cost   Money
	ByType map[pricing.CostType]Money
}

// TeamTotals sums lines per team, ordered by cost (highest first, then by
// name).
func TeamTotals(lines []Line) []TeamTotal {
	idx := map[string]int{}
	var out []TeamTotal
	for _, l := range lines {
		i, ok := idx[l.Team]
		if !ok {
			i = len(out)
			idx[l.Team] = i
			out = append(out, TeamTotal{Team: l.Team, ByType: map[pricing.CostType]Money{}})
		}
		out[i].Cost += l.Cost
		out[i].ByType[l.Type] += l.Cost
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Cost != out[j].Cost {
			return out[i].Cost > out[j].Cost
		}
		return out[i].Team < out[j].Team
	})
	return out
}

// Total is the sum of the lines' costs.
func Total(lines []Line) Money {
	var t Money
	for _, l := range lines {
		t += l.Cost
	}
	return t
}
