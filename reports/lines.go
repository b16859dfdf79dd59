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
		qty := splitQuantity(c.Quantity, c.Allocations)
		ratios := ratioDecimals(c.Allocations)
		for i, a := range c.Allocations {
			lines = append(lines, Line{
				Team: a.Team, Model: c.Model, Deployment: c.Deployment, Type: PTUShare,
				Tokens: a.Basis, Unit: c.Unit, Quantity: qty[i], UnitPrice: c.UnitPrice,
				Cost: a.Cost, Method: c.Method, Ratio: a.Ratio, RatioDecimal: ratios[i], Origin: c.ID,
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

// splitQuantity splits q by the allocations' ratios so that the parts sum to
// q exactly (largest remainder on the millionths).
func splitQuantity(q Quantity, allocs []Allocation) []Quantity {
	parts := apportion(int64(q), allocs)
	out := make([]Quantity, len(parts))
	for i, p := range parts {
		out[i] = Quantity(p)
	}
	return out
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
