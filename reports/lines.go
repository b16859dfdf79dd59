package reports

import (
	"math"
	"math/big"
	"sort"
)

// Lines returns every chargeback line: the PAYG usage lines and one PTU
// share line per allocation, ordered by team, model and cost type. The
// report must be normalized.
func (r *Report) Lines() []Line {
	lines := append([]Line(nil), r.Usage...)
	for _, c := range r.Capacity {
		ratios := ratioDecimals(c.Allocations)
		for i, a := range c.Allocations {
			lines = append(lines, Line{
				Team: a.Team, Model: c.Model, Deployment: c.Deployment, Type: PTUShare,
				Tokens: a.Basis, Unit: c.Unit, UnitPrice: c.UnitPrice,
				Cost: a.Cost, Method: c.Method, Ratio: a.Ratio, RatioDecimal: ratios[i], Origin: c.ID,
				originQuantity: c.Quantity,
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
		return a.Type.order() < b.Type.order()
	})
	return lines
}

// PricingQuantity is the quantity of Unit the line pays for, as an exact
// decimal: Quantity for a direct line; for an allocated line (a PTU share)
// its printed ratio (RatioDecimal) of the origin charge's quantity, exactly,
// so that the allocated quantities of a charge add up to the charge's.
func (l Line) PricingQuantity() string { return decimal(l.pricingQuantity(), 0) }

// ListCost is PricingQuantity × UnitPrice, exact: for an allocated line,
// exactly its ratio of the origin charge's list cost.
func (l Line) ListCost() string {
	c := new(big.Rat).Mul(l.pricingQuantity(), big.NewRat(int64(l.UnitPrice), 1_000_000))
	return decimal(c, 2)
}

func (l Line) pricingQuantity() *big.Rat {
	if l.Origin == "" {
		return big.NewRat(int64(l.Quantity), 1_000_000)
	}
	ratio, ok := new(big.Rat).SetString(l.RatioDecimal)
	if !ok {
		ratio = new(big.Rat).SetFloat64(l.Ratio)
	}
	return ratio.Mul(ratio, big.NewRat(int64(l.originQuantity), 1_000_000))
}

// decimal formats a rational with a finite decimal expansion exactly,
// without trailing zeros beyond min decimals (up to 30 decimals).
func decimal(r *big.Rat, min int) string {
	return trimDecimals(r.FloatString(30), min)
}

// ratioScale is the resolution of printed allocation ratios (12 decimals).
const ratioScale = 1_000_000_000_000

// ratioDecimals prints the allocations' ratios with 12 decimals, adjusted by
// largest remainder so that the printed ratios sum to exactly 1.
func ratioDecimals(allocs []Allocation) []string {
	parts := apportion(ratioScale, allocs)
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = trimDecimals(fixed(big.NewInt(p), 12), 1)
	}
	return out
}

// apportion splits total into integer parts proportional to the
// allocations' ratios (normalised by their sum) that add up to total
// exactly: each part is rounded down and the units left over go to the
// largest remainders, earlier allocations first on ties.
func apportion(total int64, allocs []Allocation) []int64 {
	var sum float64
	for _, a := range allocs {
		sum += a.Ratio
	}
	parts := make([]int64, len(allocs))
	if sum <= 0 {
		return parts
	}
	rems := make([]float64, len(allocs))
	var given int64
	for i, a := range allocs {
		exact := float64(total) * (a.Ratio / sum)
		parts[i] = min(int64(math.Floor(exact)), total-given)
		rems[i] = exact - math.Floor(exact)
		given += parts[i]
	}
	order := make([]int, len(allocs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return rems[order[i]] > rems[order[j]] })
	for k := 0; given < total; k = (k + 1) % len(order) {
		parts[order[k]]++
		given++
	}
	return parts
}

// TeamTotal is what one team pays in the period.
type TeamTotal struct {
	Team   string
	Cost   Money
	ByType map[CostType]Money
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
			out = append(out, TeamTotal{Team: l.Team, ByType: map[CostType]Money{}})
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
