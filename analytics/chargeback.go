package analytics

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/aiload/aiload/pricing"
)

// Method is how a PTU deployment's fixed cost is split among teams.
type Method string

// Split methods.
const (
	// Proportional splits the cost by each team's input-equivalent tokens
	// served on the deployment (prompt − cached + output × output ratio).
	// Idle capacity is absorbed pro rata. The default.
	Proportional Method = "proportional"
	// Even splits the cost equally among the teams that used the deployment.
	Even Method = "even"
	// Fixed splits the cost by fixed weights (Allocation.Shares, else the
	// deployment's shares in the pricing file).
	Fixed Method = "fixed"
	// Used charges each team its input-equivalent tokens at the cost of one
	// token of capacity (PTU × input TPM per PTU × minutes in the period);
	// the unused remainder goes to the idle line (Allocation.IdleTo).
	Used Method = "used"
)

// Methods lists the split methods.
func Methods() []Method { return []Method{Proportional, Even, Fixed, Used} }

// ParseMethod reads a split method's name; "" is the default, Proportional.
func ParseMethod(s string) (Method, error) {
	if s == "" {
		return Proportional, nil
	}
	if m := Method(s); slices.Contains(Methods(), m) {
		return m, nil
	}
	return "", fmt.Errorf("unknown split method %q (want proportional, even, fixed or used)", s)
}

// Allocation chooses the split method and its parameters.
type Allocation struct {
	// By is the column the bill is split by (the team when zero); the
	// lines' and totals' Team fields hold its values, and Shares and
	// IdleTo name them.
	By     Grouping
	Method Method // default Proportional
	// Shares are fixed weights per team for Fixed; they override the
	// pricing file's per-deployment shares.
	Shares map[string]float64
	// IdleTo names the line that receives idle capacity under Used, and any
	// PTU cost no team used; default "(unallocated)".
	IdleTo string
}

// Tier says how a line's tokens were served.
type Tier string

// Tiers.
const (
	TierPAYG  Tier = "payg"  // pay-as-you-go, for a model without a PTU deployment
	TierSpill Tier = "spill" // pay-as-you-go for a model that has a PTU deployment: spilled over
	TierPTU   Tier = "ptu"   // a share of a PTU deployment's fixed cost
)

// ChargeLine is one team × model × cost type amount.
type ChargeLine struct {
	// Team is the group charged: the team, or the value of the column the
	// bill is split by (ChargebackResult.By).
	Team     string
	Model    string // as priced (pricing.Resolve of the logged model)
	Tier     Tier
	CostType pricing.CostType
	// Idle marks the PTU line of capacity no team used (Method Used, or a
	// deployment nobody used), charged to Allocation.IdleTo.
	Idle       bool   `json:",omitempty"`
	Deployment string // PTU deployment name; "" for PAYG lines
	// Tokens are the tokens charged: input, cached input or output for PAYG
	// lines; input-equivalent tokens served on PTU for PTU lines.
	Tokens   int64
	Requests int64 // requests behind a PAYG line (0 on PTU lines)
	// UnitPrice is the price per 1,000,000 tokens (PAYG lines only).
	UnitPrice float64
	// Share is the line's fraction of its deployment's cost (PTU lines);
	// ShareExact the same, exactly.
	Share      float64
	ShareExact *big.Rat `json:"-"`
	// Amount is the exact, unrounded cost; Cents is the rounded cost that
	// adds up to the bill (see RoundingRule): the PTU lines of a deployment
	// add up to its Cents, the lines of a team to its TeamTotal.
	Amount float64
	Cents  int64
}

// TeamTotal is one team's bill, in cents. Idle PTU capacity appears as a
// team named after Allocation.IdleTo.
type TeamTotal struct {
	Team                                   string
	PAYGCents, SpillCents, PTUCents, Cents int64
}

// DeploymentCost is one PTU deployment's cost for the period.
type DeploymentCost struct {
	Name, Model string
	PTU         int
	Billing     pricing.Billing
	Cents       int64 // the deployment's cost, rounded to the cent: the sum of its PTU lines
	// CapacityTokens is PTU × input TPM per PTU × minutes in the period;
	// UsedTokens the input-equivalent tokens served on it.
	CapacityTokens, UsedTokens int64
	Utilization                float64 // UsedTokens / CapacityTokens
}

// ChargebackResult is a period's bill split per team.
type ChargebackResult struct {
	Period Period
	// By names the column the bill is split by ("team", "user",
	// "cost_center", "dims.region"); Team fields hold its values.
	By       string
	Currency string
	Method   Method
	// MethodDescription says in words how PTU cost was split.
	MethodDescription string
	// RoundingRule states how exact amounts became cents.
	RoundingRule string
	Lines        []ChargeLine // ordered by team, model, tier, cost type
	Teams        []TeamTotal  // ordered by team; Cents add up to TotalCents exactly
	Deployments  []DeploymentCost
	TotalCents   int64
	// Warnings name usage that could not be priced.
	Warnings []string
}

// RoundingRule is the rule Chargeback applies, as printed with a bill.
const RoundingRule = "every line is its exact amount rounded down or up to the cent; " +
	"the lines of a PTU charge add up to that charge exactly, and the charge is its exact cost rounded half-up; " +
	"each team total is within a cent of the team's exact cost, and the team totals add up to the bill, " +
	"the exact total rounded half-up; the cents left over after rounding down go to the largest remainders " +
	"(ties in line order). Should these rules conflict (rare), a charge or the bill may round the other way " +
	"by a cent, never a team by more than a cent"

// usageRow is one row of chargeback_usage.sql.
type usageRow struct {
	team, model, backend, tier      string
	requests, uncached, cached, out int64
}

// Chargeback prices the period's served usage and splits PTU cost among
// teams by the allocation's method.
func Chargeback(ctx context.Context, db *DB, prices *pricing.Pricing, period Period, alloc Allocation) (*ChargebackResult, error) {
	method, err := ParseMethod(string(alloc.Method))
	if err != nil {
		return nil, fmt.Errorf("chargeback: %w", err)
	}
	alloc.Method = method
	alloc.By = alloc.By.orTeam()
	if alloc.IdleTo == "" {
		alloc.IdleTo = "(unallocated)"
	}
	if err := checkGrouping(ctx, db, alloc.By, period); err != nil {
		return nil, fmt.Errorf("chargeback: %w", err)
	}
	rows, err := loadUsage(ctx, db, period, alloc.By)
	if err != nil {
		return nil, err
	}
	b := newBill(prices, period, alloc)
	if len(rows) == 0 {
		b.warnings = append(b.warnings, fmt.Sprintf("no requests answered ok between %s and %s",
			period.Start.Format(time.DateOnly), period.End.Format(time.DateOnly)))
	}
	for _, r := range rows {
		b.add(r)
	}
	if err := b.splitPTU(); err != nil {
		return nil, err
	}
	return b.result(), nil
}

func loadUsage(ctx context.Context, db *DB, period Period, by Grouping) ([]usageRow, error) {
	grp, dim := by.sqlArgs()
	rs, err := db.db.QueryContext(ctx, query("chargeback_usage.sql"), period.Start, period.End, grp, dim, by.None())
	if err != nil {
		return nil, fmt.Errorf("chargeback usage: %w", err)
	}
	defer rs.Close()
	var out []usageRow
	for rs.Next() {
		var r usageRow
		if err := rs.Scan(&r.team, &r.model, &r.backend, &r.tier, &r.requests, &r.uncached, &r.cached, &r.out); err != nil {
			return nil, fmt.Errorf("chargeback usage: %w", err)
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

// lineKey identifies a ChargeLine.
type lineKey struct {
	team, model string
	tier        Tier
	cost        pricing.CostType
	deployment  string
	idle        bool
}

// bill accumulates exact amounts.
type bill struct {
	prices *pricing.Pricing
	period Period
	alloc  Allocation
	lines  map[lineKey]*pendingLine
	// ptuUse is input-equivalent tokens per deployment index per team.
	ptuUse   []map[string]int64
	warnings []string
	deps     []DeploymentCost
}

type pendingLine struct {
	ChargeLine
	exact *big.Rat
}

func newBill(p *pricing.Pricing, period Period, alloc Allocation) *bill {
	b := &bill{prices: p, period: period, alloc: alloc, lines: map[lineKey]*pendingLine{}}
	b.ptuUse = make([]map[string]int64, len(p.Deployments))
	for i := range b.ptuUse {
		b.ptuUse[i] = map[string]int64{}
	}
	return b
}

// deploymentFor returns the index of the PTU deployment serving a usage row,
// or -1. A row is on PTU when its backend_tier is ptu or its backend is one
// a deployment lists.
func (b *bill) deploymentFor(r usageRow, model string) int {
	fallback := -1
	for i, d := range b.prices.Deployments {
		if b.prices.Resolve(d.Model) != model {
			continue
		}
		if slices.Contains(d.Backends, r.backend) {
			return i
		}
		if len(d.Backends) == 0 && r.tier == "ptu" && fallback < 0 {
			fallback = i
		}
	}
	return fallback
}

func (b *bill) hasDeployment(model string) bool {
	for _, d := range b.prices.Deployments {
		if b.prices.Resolve(d.Model) == model {
			return true
		}
	}
	return false
}

func (b *bill) add(r usageRow) {
	model := b.prices.Resolve(r.model)
	if model == "" {
		b.warnings = append(b.warnings, fmt.Sprintf("no price for model %q: %s of %s %s not charged",
			r.model, plural(r.requests, "request"), b.alloc.By.Name, r.team))
		return
	}
	m := b.prices.Models[model]
	if i := b.deploymentFor(r, model); i >= 0 {
		ratio := m.PTU.OutputRatio
		b.ptuUse[i][r.team] += r.uncached + int64(float64(r.out)*ratio+0.5)
		return
	}
	if r.tier == "ptu" {
		b.warnings = append(b.warnings, fmt.Sprintf("model %s: %s of %s %s served on PTU backend %q with no ptu_deployments entry; charged at PAYG prices",
			model, plural(r.requests, "request"), b.alloc.By.Name, r.team, r.backend))
	}
	tier := TierPAYG
	if b.hasDeployment(model) {
		tier = TierSpill
	}
	b.payg(r, model, tier, pricing.PAYGInput, r.uncached, m.Input)
	b.payg(r, model, tier, pricing.PAYGCachedInput, r.cached, m.CachedPrice())
	b.payg(r, model, tier, pricing.PAYGOutput, r.out, m.Output)
}

func (b *bill) payg(r usageRow, model string, tier Tier, cost pricing.CostType, tokens int64, price float64) {
	if tokens == 0 {
		return
	}
	l := b.line(lineKey{r.team, model, tier, cost, "", false})
	l.Tokens += tokens
	l.Requests += r.requests
	l.UnitPrice = price
	amt := new(big.Rat).Mul(big.NewRat(tokens, 1_000_000), ratOf(price))
	l.exact.Add(l.exact, amt)
}

func (b *bill) line(k lineKey) *pendingLine {
	l, ok := b.lines[k]
	if !ok {
		l = &pendingLine{ChargeLine: ChargeLine{Team: k.team, Model: k.model, Tier: k.tier, CostType: k.cost,
			Deployment: k.deployment, Idle: k.idle}, exact: new(big.Rat)}
		b.lines[k] = l
	}
	return l
}

// ratOf converts a price to the exact decimal it was written as (the
// shortest decimal that reads back as f).
func ratOf(f float64) *big.Rat {
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(f, 'g', -1, 64))
	if !ok {
		return new(big.Rat)
	}
	return r
}

func methodDescription(a Allocation) string {
	switch a.Method {
	case Even:
		return "PTU cost split evenly among the teams that used each deployment"
	case Fixed:
		return "PTU cost split by fixed shares per team"
	case Used:
		return "PTU cost charged by use: input-equivalent tokens at the cost of one token of capacity; idle capacity to " + a.IdleTo
	}
	return "PTU cost split proportional to input-equivalent tokens (prompt - cached + output x output ratio) served on PTU"
}

// sortedKeys returns a map's keys, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// plural renders a count with its noun: "1 request", "3 requests".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.FormatInt(n, 10) + " " + noun + "s"
}
