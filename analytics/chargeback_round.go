package analytics

import (
	"math/big"
	"sort"
)

// roundBill rounds a bill's exact line amounts to cents so that the money
// adds up at every level at once (controlled rounding of the team × charge
// table):
//
//   - every line is its exact amount rounded down or up to the cent;
//   - the lines of one charge (charge[i] >= 0: the PTU lines of one
//     deployment) add up to that charge's cents, which is its exact cost
//     rounded down or up, half-up whenever the other rules allow;
//   - every team's lines (team[i]) add up to the team's exact cost rounded
//     down or up, so a team total is within a cent of what it used;
//   - the bill, the sum of all lines, is the exact total rounded down or up,
//     half-up whenever the rules above allow.
//
// Such a rounding always exists: the exact amounts are a fractional
// solution of a network flow with those bounds, and a flow network with
// integer bounds has an integer solution. roundBill finds the one that
// rounds half-up where it can, in this order of importance: the charges,
// the bill, the team totals, then each line; among lines that must take a
// cent, the largest remainders take it (earlier lines first on ties). That
// is a min-cost flow, solved by successive shortest paths; costs are
// compared lexicographically so no preference can outweigh a bound or a
// more important preference. Amounts are non-negative.
//
// The flow takes a path search per cent to give out, which grows with the
// square of the lines; most bills are rounded first by the direct way
// (roundDirect, linear), and the flow only runs when that breaks a bound.
func roundBill(exact []*big.Rat, team, charge []int) []int64 {
	if cents, ok := roundDirect(exact, team, charge); ok {
		return cents
	}
	return roundFlow(exact, team, charge)
}

// roundDirect rounds the bill step by step: each charge half-up, its cents
// to its lines' largest remainders; the bill half-up, its cents to the teams'
// largest remainders among the totals each team's pay-as-you-go lines can
// reach; each team's cents to its pay-as-you-go lines' largest remainders.
// ok is false when a team total or the bill cannot then stay within a cent.
func roundDirect(exact []*big.Rat, team, charge []int) (cents []int64, ok bool) {
	n := len(exact)
	cents = make([]int64, n)
	frac := make([]*big.Rat, n)
	hundred := big.NewRat(100, 1)
	nTeams, nCharges := 0, 0
	for i, e := range exact {
		c := new(big.Rat).Mul(e, hundred)
		q := new(big.Int).Quo(c.Num(), c.Denom())
		cents[i] = q.Int64()
		frac[i] = c.Sub(c, new(big.Rat).SetInt(q))
		nTeams = max(nTeams, team[i]+1)
		nCharges = max(nCharges, charge[i]+1)
	}
	// giveLargest adds a cent to each of the k lines of idx with the
	// largest remainders (earlier lines first on ties).
	giveLargest := func(idx []int, k int64) bool {
		if k < 0 || k > int64(len(idx)) {
			return false
		}
		sort.SliceStable(idx, func(a, b int) bool { return frac[idx[a]].Cmp(frac[idx[b]]) > 0 })
		for _, i := range idx[:k] {
			cents[i]++
		}
		return true
	}
	byCharge := make([][]int, nCharges)
	byTeam := make([][]int, nTeams) // fractional PAYG lines
	chargeExact := make([]*big.Rat, nCharges)
	teamExact := make([]*big.Rat, nTeams)
	for c := range chargeExact {
		chargeExact[c] = new(big.Rat)
	}
	for t := range teamExact {
		teamExact[t] = new(big.Rat)
	}
	total := new(big.Rat)
	for i, e := range exact {
		teamExact[team[i]].Add(teamExact[team[i]], e)
		total.Add(total, e)
		if charge[i] >= 0 {
			byCharge[charge[i]] = append(byCharge[charge[i]], i)
			chargeExact[charge[i]].Add(chargeExact[charge[i]], e)
		} else if frac[i].Sign() > 0 {
			byTeam[team[i]] = append(byTeam[team[i]], i)
		}
	}
	for c, idx := range byCharge {
		var floors int64
		for _, i := range idx {
			floors += cents[i]
		}
		if !giveLargest(idx, halfUpCents(chargeExact[c])-floors) {
			return nil, false
		}
	}
	// Each team's total so far (charges rounded, PAYG lines down), and the
	// totals within a cent of its exact cost its PAYG lines can reach.
	sofar := make([]int64, nTeams)
	for i, c := range cents {
		sofar[team[i]] += c
	}
	target := make([]int64, nTeams)
	var sum int64
	var up []int // teams that may take one more cent
	for t := range nTeams {
		c := new(big.Rat).Mul(teamExact[t], hundred)
		lo := new(big.Int).Quo(c.Num(), c.Denom()).Int64()
		hi := lo
		if !c.IsInt() {
			hi++
		}
		reachLo, reachHi := sofar[t], sofar[t]+int64(len(byTeam[t]))
		lo, hi = max(lo, reachLo), min(hi, reachHi)
		if lo > hi {
			return nil, false
		}
		target[t] = lo
		sum += lo
		if hi > lo {
			up = append(up, t)
		}
	}
	extra := halfUpCents(total) - sum
	if extra < 0 || extra > int64(len(up)) {
		return nil, false
	}
	teamFrac := make(map[int]*big.Rat, len(up))
	for _, t := range up {
		c := new(big.Rat).Mul(teamExact[t], hundred)
		teamFrac[t] = c.Sub(c, new(big.Rat).SetInt(new(big.Int).Quo(c.Num(), c.Denom())))
	}
	sort.SliceStable(up, func(a, b int) bool { return teamFrac[up[a]].Cmp(teamFrac[up[b]]) > 0 })
	for _, t := range up[:extra] {
		target[t]++
	}
	for t, idx := range byTeam {
		if !giveLargest(idx, target[t]-sofar[t]) {
			return nil, false
		}
	}
	return cents, true
}

// halfUpCents rounds a non-negative amount to cents, halves up.
func halfUpCents(r *big.Rat) int64 {
	c := new(big.Rat).Mul(r, big.NewRat(100, 1))
	c.Add(c, big.NewRat(1, 2))
	return new(big.Int).Quo(c.Num(), c.Denom()).Int64()
}

// roundFlow rounds the bill as a min-cost flow (see roundBill).
func roundFlow(exact []*big.Rat, team, charge []int) []int64 {
	n := len(exact)
	cents := make([]int64, n)
	frac := make([]*big.Rat, n)
	hundred := big.NewRat(100, 1)
	nTeams, nCharges := 0, 0
	for i, e := range exact {
		c := new(big.Rat).Mul(e, hundred)
		q := new(big.Int).Quo(c.Num(), c.Denom()) // floor for c >= 0
		cents[i] = q.Int64()
		frac[i] = c.Sub(c, new(big.Rat).SetInt(q))
		nTeams = max(nTeams, team[i]+1)
		nCharges = max(nCharges, charge[i]+1)
	}
	// Sums of the fractional parts: what is left to give out per team, per
	// charge and in total, in cents.
	teamFrac := make([]*big.Rat, nTeams)
	for t := range teamFrac {
		teamFrac[t] = new(big.Rat)
	}
	chargeFrac := make([]*big.Rat, nCharges)
	for c := range chargeFrac {
		chargeFrac[c] = new(big.Rat)
	}
	total := new(big.Rat)
	for i, f := range frac {
		teamFrac[team[i]].Add(teamFrac[team[i]], f)
		if charge[i] >= 0 {
			chargeFrac[charge[i]].Add(chargeFrac[charge[i]], f)
		}
		total.Add(total, f)
	}

	// Nodes: source, hub (the bill), one per charge, one per team, sink.
	g := newFlowGraph(2 + nCharges + nTeams + 1)
	src, hub := 0, 1
	chargeNode := func(c int) int { return 2 + c }
	teamNode := func(t int) int { return 2 + nCharges + t }
	sink := 2 + nCharges + nTeams
	g.bounded(src, hub, total, prefBill)
	for c, f := range chargeFrac {
		g.bounded(hub, chargeNode(c), f, prefCharge)
	}
	lineEdge := make([]int, n)
	for i, f := range frac {
		lineEdge[i] = -1
		if f.Sign() == 0 {
			continue
		}
		from := hub
		if charge[i] >= 0 {
			from = chargeNode(charge[i])
		}
		var cost flowCost
		cost[prefLine] = preference(f)
		lineEdge[i] = g.edge(from, teamNode(team[i]), 1, cost)
	}
	for t, f := range teamFrac {
		g.bounded(teamNode(t), sink, f, prefTeam)
	}
	g.minCostFlow(src, sink)
	for i, e := range lineEdge {
		if e >= 0 {
			cents[i] += g.flow(e)
		}
	}
	return cents
}

// flowCost is a cost compared lexicographically: first the bounds (-1 per
// unit of a mandatory cent), then the preferences in order of importance.
type flowCost [5]int64

// Components of flowCost.
const (
	mandatory = iota
	prefCharge
	prefBill
	prefTeam
	prefLine
)

func (a flowCost) add(b flowCost) flowCost {
	for i := range a {
		a[i] += b[i]
	}
	return a
}

func (a flowCost) neg() flowCost {
	for i := range a {
		a[i] = -a[i]
	}
	return a
}

func (a flowCost) less(b flowCost) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// preference is the cost of giving a cent to an amount whose fractional
// part is f (in [0, 1)): negative (wanted) from a half up, positive below,
// larger remainders cheaper, to a billionth of a cent.
func preference(f *big.Rat) int64 {
	// (1 - 2f) × 1e9, rounded towards the nearest rounding's side.
	x := new(big.Rat).Mul(f, big.NewRat(2, 1))
	x.Sub(big.NewRat(1, 1), x)
	x.Mul(x, big.NewRat(1_000_000_000, 1))
	v := new(big.Int).Quo(x.Num(), x.Denom()).Int64() // truncated towards zero
	switch {
	case x.Sign() <= 0 && v >= 0: // f >= 1/2: round up
		return v - 1
	case x.Sign() > 0 && v <= 0:
		return 1
	}
	return v
}

// flowGraph is a small residual graph for min-cost flow.
type flowGraph struct {
	adj  [][]int
	to   []int
	cap  []int64
	cost []flowCost // edges come in pairs: e and its residual twin e^1
}

func newFlowGraph(nodes int) *flowGraph { return &flowGraph{adj: make([][]int, nodes)} }

// edge adds an edge with its residual twin and returns its index.
func (g *flowGraph) edge(from, to int, capacity int64, cost flowCost) int {
	e := len(g.to)
	g.to = append(g.to, to, from)
	g.cap = append(g.cap, capacity, 0)
	g.cost = append(g.cost, cost, cost.neg())
	g.adj[from] = append(g.adj[from], e)
	g.adj[to] = append(g.adj[to], e+1)
	return e
}

// bounded lets floor(f) to ceil(f) units through: floor(f) of them
// mandatory, and the last one, when f is not whole, at the preference for
// rounding f's fractional part up.
func (g *flowGraph) bounded(from, to int, f *big.Rat, pref int) {
	whole := new(big.Int).Quo(f.Num(), f.Denom())
	if whole.Sign() > 0 {
		var c flowCost
		c[mandatory] = -1
		g.edge(from, to, whole.Int64(), c)
	}
	rest := new(big.Rat).Sub(f, new(big.Rat).SetInt(whole))
	if rest.Sign() > 0 {
		var c flowCost
		c[pref] = preference(rest)
		g.edge(from, to, 1, c)
	}
}

// flow is the flow through edge e (the capacity of its twin).
func (g *flowGraph) flow(e int) int64 { return g.cap[e^1] }

// minCostFlow augments along cheapest paths (Bellman-Ford with a queue) as
// long as a path lowers the cost. Every edge from the source side carries
// at most a cent, so each path carries one.
func (g *flowGraph) minCostFlow(src, sink int) {
	n := len(g.adj)
	dist := make([]flowCost, n)
	reached := make([]bool, n)
	inQueue := make([]bool, n)
	via := make([]int, n)
	for {
		clear(reached)
		reached[src] = true
		dist[src] = flowCost{}
		queue := []int{src}
		inQueue[src] = true
		for len(queue) > 0 {
			u := queue[0]
			queue = queue[1:]
			inQueue[u] = false
			for _, e := range g.adj[u] {
				if g.cap[e] == 0 {
					continue
				}
				v, d := g.to[e], dist[u].add(g.cost[e])
				if !reached[v] || d.less(dist[v]) {
					reached[v], dist[v], via[v] = true, d, e
					if !inQueue[v] {
						inQueue[v] = true
						queue = append(queue, v)
					}
				}
			}
		}
		if !reached[sink] || !dist[sink].less(flowCost{}) {
			return
		}
		push := int64(1 << 62)
		for v := sink; v != src; v = g.to[via[v]^1] {
			push = min(push, g.cap[via[v]])
		}
		for v := sink; v != src; v = g.to[via[v]^1] {
			g.cap[via[v]] -= push
			g.cap[via[v]^1] += push
		}
	}
}
