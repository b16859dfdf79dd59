// Package reports renders chargeback reports: a plain CSV (one row per team
// × model × cost type), a FinOps FOCUS CSV, a PDF a finance team can read,
// and the charts (PNG and SVG) the PDF shows.
//
// The input is plain data (Report): costs are computed and allocated before
// they reach this package, which only checks that they add up and renders
// them. Money is fixed-point (Money, millionths of the currency), so every
// total is the exact sum of its lines.
package reports

import (
	"math/big"
	"strings"
	"time"

	"github.com/aiload/aiload/pricing"
)

// TokensUnit is the pricing unit of token lines: prices are per million
// tokens, as providers publish them (FOCUS UnitFormat "1000000 Tokens").
const TokensUnit = "1000000 Tokens"

// DirectMethod names the allocation of a line charged to the team whose
// requests used the tokens; SpilloverMethod the same for requests that
// spilled from a PTU deployment to pay-as-you-go.
const (
	DirectMethod    = "direct"
	SpilloverMethod = "direct-spillover"
)

// Line is one chargeback row: what a team paid for one model and cost type.
type Line struct {
	Team  string
	Model string
	// Deployment is the deployment (resource) that served the tokens; may be
	// empty.
	Deployment string
	Type       pricing.CostType
	// Tokens are the tokens this line pays for. For a PTU share, the team's
	// input-equivalent tokens served on the provisioned deployment (the basis
	// of the split).
	Tokens int64
	// Unit is the pricing unit (default TokensUnit for PAYG lines).
	Unit string
	// Quantity is the amount of Unit charged (default Tokens/1e6 for PAYG);
	// zero on an allocated line, whose exact quantity is PricingQuantity.
	Quantity Quantity
	// UnitPrice is the list price of one Unit.
	UnitPrice Money
	// Cost is what the team is charged.
	Cost Money
	// Method names how the cost was allocated (DirectMethod for PAYG).
	Method string
	// Ratio is the team's share of the origin charge for allocated lines
	// (0 for direct lines); RatioDecimal prints it with 12 decimals, the
	// printed ratios of one origin summing to exactly 1.
	Ratio        float64
	RatioDecimal string
	// Origin is the ID of the capacity charge an allocated line comes from.
	Origin string
	// allocatedQuantity is an allocated line's exact quantity (see
	// PricingQuantity).
	allocatedQuantity *big.Rat
}

// CapacityCharge is a fixed charge for provisioned throughput (an origin
// charge) and how it was split among teams.
type CapacityCharge struct {
	// ID identifies the charge (default "ptu/<model>/<deployment>").
	ID         string
	Model      string
	Deployment string
	// PTUs is the number of provisioned throughput units billed.
	PTUs int
	// Unit is the pricing unit (default "PTU-Hours"); Quantity how many were
	// billed; UnitPrice the list price of one.
	Unit      string
	Quantity  Quantity
	UnitPrice Money
	// Cost is the amount split among teams. It normally equals Quantity ×
	// UnitPrice; a reservation's amortized cost may be lower.
	Cost Money
	// Method identifies the allocation method (e.g.
	// "ptu-proportional-input-equivalent-tokens"); MethodDescription says it
	// in words.
	Method            string
	MethodDescription string
	// BasisUnit is the unit of Allocation.Basis (default "Tokens").
	BasisUnit   string
	Allocations []Allocation
	// Utilization is the share of the capacity the teams used, in [0, 1]
	// (0 when unknown).
	Utilization float64
}

// BackendUtilization is one provisioned backend's reported utilization:
// how many answers carried it, their average and 95th percentile, in
// percent.
type BackendUtilization struct {
	Backend        string
	Answers        int64
	AvgPct, P95Pct float64
}

// BackendAttempts is what one backend answered to the gateway's attempts:
// how many, its 429s, its failures (5xx, no answer), and how many of those
// the gateway tried again on the pool (spill-over).
type BackendAttempts struct {
	Backend                            string
	Attempts, Refused, Failed, Retried int64
}

// CacheUse is the semantic cache's effect on one team's persona's
// requests to one model: lookups, hits, the tokens served from the cache
// (no model processed them), what they would have cost and what the
// lookups' embeddings calls cost.
type CacheUse struct {
	Team, Persona, Model, EmbeddingModel string
	Lookups, Hits                        int64
	// CountedHits counted against a token limit (lookup after the limit).
	CountedHits            int64
	CachedPromptTokens     int64
	CachedCompletionTokens int64
	EmbeddingTokens        int64
	Saved, EmbeddingCost   Money
}

// Allocation is one team's part of a capacity charge.
type Allocation struct {
	Team string
	// Ratio is the team's share of the charge, in [0, 1]; the ratios of a
	// charge sum to 1.
	Ratio float64
	// Basis is the quantity the ratio was computed from (for the default
	// method, the team's input-equivalent tokens served on the deployment).
	Basis int64
	// Cost is the team's part; the costs of a charge sum to its Cost.
	Cost Money
	// Exact is the exact ratio when known (Ratio is its float64); it makes
	// the allocated quantities and list costs exact shares of the charge's.
	Exact *big.Rat
}

// Report is everything a chargeback report shows.
type Report struct {
	// Title heads the PDF (default "AI usage chargeback").
	Title string
	// GroupBy names the column the bill is split by (default "team"): the
	// lines' and allocations' Team fields hold its values. It heads the
	// CSV's third column ("cost_center"), names FOCUS's x_ column and tag
	// (x_CostCenter) and the PDF's pages ("Cost center: cc-42").
	GroupBy string
	Period  pricing.Period
	// Currency is the ISO 4217 billing currency (default "USD").
	Currency string
	Account  Account
	// Usage are the PAYG lines (Type pricing.PAYGInput, PAYGCachedInput or PAYGOutput).
	Usage []Line
	// Capacity are the provisioned-throughput charges with their split.
	Capacity []CapacityCharge
	// Utilization is what provisioned backends reported of their own load
	// (azure-openai-deployment-utilization), per backend; empty when none did.
	Utilization []BackendUtilization
	// Attempts is what each backend answered to the gateway's attempts
	// (the records' backend_attempts); empty when none are recorded.
	Attempts []BackendAttempts
	// Cache is the semantic cache's effect per team, persona and model;
	// empty when no request was looked up.
	Cache []CacheUse
	// Teams carry the per-team activity shown on the team pages.
	Teams []TeamActivity
	// Plans are the capacity (PTU) plans per model.
	Plans  []PTUPlan
	Method Methodology
	// Limits say what the team pages' TPM recommendations rest on.
	Limits LimitsBasis
}

// LimitsBasis is what the TPM recommendations rest on: the target, the
// range of data replayed and whether reruns verified the limits.
type LimitsBasis struct {
	// Target is the largest share of first attempts refused (429 or 403).
	Target float64
	// From and To are the minutes replayed, [From, To).
	From, To time.Time
	// Verified is true when reruns of the scenario verified the limits.
	Verified bool
	// Note says in words how they were verified, or that they are the
	// replay's estimate, why not verified and how to verify them.
	Note string
}

// Account describes who bills whom, for the FOCUS columns.
type Account struct {
	BillingAccountID   string // default "aiload"
	BillingAccountName string // default "AI gateway chargeback"
	ProviderName       string // default "Microsoft"
	PublisherName      string // default "Microsoft"
	InvoiceIssuerName  string // default "Microsoft"
	ServiceName        string // default "Azure OpenAI"
	RegionID           string // optional
}

// TeamActivity is what a team did during the period.
type TeamActivity struct {
	Team string
	// Requests counts first attempts; Throttled those refused (429 or 403:
	// token limit, quota), so Throttled/Requests is the share of requests
	// throttled. Retries counts later attempts; RetriesThrottled those
	// refused.
	Requests, Throttled       int64
	Retries, RetriesThrottled int64
	// RefusedTokens are the tokens the refused first attempts asked for;
	// the minutes' Demand adds up to the tokens all first attempts asked for.
	RefusedTokens int64
	// Demand is the team's per-minute token demand (zero-filled), in time
	// order.
	Demand []MinutePoint
	// BusiestKey is set when the team's limit applies per counter key (a
	// client IP, a user…) and its requests were counted under several keys:
	// the busiest key's traffic against the per-key limit. Demand then
	// carries no limit: no single line bounds the team's sum.
	BusiestKey      *KeyActivity
	Recommendations []Recommendation
}

// KeyActivity is one counter key's per-minute traffic.
type KeyActivity struct {
	Key string
	// Keys is how many keys the team's requests were counted under.
	Keys int64
	// Demand is the key's per-minute demand, served tokens and limit (per
	// key), aligned with the team's.
	Demand []MinutePoint
}

// MinutePoint is one minute of a team's traffic.
type MinutePoint struct {
	Minute time.Time
	// Demand counts the tokens asked for, including throttled requests.
	Demand int64
	// Served counts the tokens served.
	Served int64
	// LimitTPM is the team's tokens-per-minute limit in that minute (the sum
	// over its consumers); 0 means none.
	LimitTPM int64
}

// Recommendation is a TPM limit proposal for one consumer.
type Recommendation struct {
	Consumer   string // subscription or counter key
	Product    string
	CurrentTPM int64 // 0 means unlimited
	// RecommendedTPM is the limit to set: the verified one when reruns
	// measured it (VerifiedTPM), else the replay's estimate (EstimateTPM).
	RecommendedTPM int64
	// NotEnoughData: too few first attempts to size a limit on; the
	// consumer keeps its current limit.
	NotEnoughData bool
	// Requests are the consumer's first attempts.
	Requests int64
	// EstimateTPM is the replay's limit and EstimateShare the share of
	// first attempts its replay refused there.
	EstimateTPM   int64
	EstimateShare float64
	// LowTPM and HighTPM are the replay's 80% interval (0 when none).
	LowTPM, HighTPM int64
	// Verified is set when reruns tried this consumer: VerifiedTPM is the
	// limit they settled on (0 when it could not be verified) and Mean,
	// Min, Max the share of first attempts refused over Reruns reruns.
	Verified       bool
	VerifiedTPM    int64
	Mean, Min, Max float64
	Reruns         int
	// VerifyNote says in words why the target is not met or the consumer
	// could not be verified.
	VerifyNote string
	// Explanation is one line, e.g. "p99 minute was 41k tokens; 45k
	// throttles 0.6% of requests".
	Explanation string
}

// PTUPlan is the capacity curve and the plan recommended for one model.
type PTUPlan struct {
	Model string
	// Points are candidate PTU counts in increasing order, from 0 (all
	// pay-as-you-go).
	Points []PlanPoint
	// Recommended and Cheapest are PTU counts (0 = stay on pay-as-you-go,
	// -1 = none): the plan proposed and the cheapest on the curve.
	// PeakEstimate is the calculator-style peak estimate (0 = none).
	Recommended  int
	Cheapest     int
	PeakEstimate int
	// PAYGOnly is the monthly cost of serving all the demand pay-as-you-go
	// (0 = unknown), the baseline every PTU count is compared with.
	PAYGOnly Money
	// Billing is how the PTUs are priced (hourly, monthly_reservation,
	// yearly_reservation).
	Billing string
	// Verdict is the decision in words; Explanation adds the figures.
	Verdict     string
	Explanation string
	// Tentative marks monthly figures extrapolated from less than a day of
	// data; Evidence says how much data they come from.
	Tentative bool
	Evidence  string
}

// PlanPoint is the monthly cost of one PTU count.
type PlanPoint struct {
	PTUs        int
	PTUCost     Money   // the provisioned units' cost
	SpillCost   Money   // PAYG cost of the demand above capacity
	SpillTokens int64   // tokens spilled to PAYG
	PTUShare    float64 // share of tokens served on PTU, in [0, 1]
}

// Total is PTUCost + SpillCost.
func (p PlanPoint) Total() Money { return p.PTUCost + p.SpillCost }

// Methodology states where the numbers come from.
type Methodology struct {
	PricingSource string // e.g. "pricing.yaml (Azure retail prices, 2026-11-01)"
	Allocation    string // how fixed costs were split
	Rounding      string // the rounding rule
	Notes         []string
	// Warnings name usage that could not be billed (a model without a price).
	Warnings []string
}

// groupName is the column the bill is split by, as data names it:
// "team", "cost_center", "dims.region".
func (r Report) groupName() string {
	if r.GroupBy == "" {
		return "team"
	}
	return r.GroupBy
}

// groupWords names that column in words, lower case: "team", "cost
// center", "region" (for dims.region).
func (r Report) groupWords() string {
	name := strings.TrimPrefix(r.groupName(), "dims.")
	return strings.Join(strings.FieldsFunc(name, func(c rune) bool { return c == '_' || c == '-' || c == '.' || c == ' ' }), " ")
}

// groupTitle is groupWords with a capital: "Team", "Cost center".
func (r Report) groupTitle() string {
	w := r.groupWords()
	if w == "" {
		return w
	}
	return strings.ToUpper(w[:1]) + w[1:]
}

// focusGroupColumn is FOCUS's x_ column of the group: x_Team,
// x_CostCenter, x_Region.
func (r Report) focusGroupColumn() string {
	var b strings.Builder
	b.WriteString("x_")
	for _, w := range strings.Fields(r.groupWords()) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}
