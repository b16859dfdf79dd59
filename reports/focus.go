package reports

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/aiload/aiload/pricing"
)

// FocusColumns are the columns of the FOCUS CSV, in order: the 57 FinOps
// FOCUS 1.2 Cost and Usage columns (alphabetical, as the specification lists
// them), FOCUS 1.3's split-cost-allocation columns, then aiload's own
// columns, prefixed x_ as the specification requires.
var FocusColumns = []string{
	"AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName",
	"BillingAccountType", "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart",
	"CapacityReservationId", "CapacityReservationStatus", "ChargeCategory", "ChargeClass",
	"ChargeDescription", "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart",
	"CommitmentDiscountCategory", "CommitmentDiscountId", "CommitmentDiscountName",
	"CommitmentDiscountQuantity", "CommitmentDiscountStatus", "CommitmentDiscountType",
	"CommitmentDiscountUnit", "ConsumedQuantity", "ConsumedUnit", "ContractedCost",
	"ContractedUnitPrice", "EffectiveCost", "InvoiceId", "InvoiceIssuerName", "ListCost",
	"ListUnitPrice", "PricingCategory", "PricingCurrency", "PricingCurrencyContractedUnitPrice",
	"PricingCurrencyEffectiveCost", "PricingCurrencyListUnitPrice", "PricingQuantity",
	"PricingUnit", "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceId",
	"ResourceName", "ResourceType", "ServiceCategory", "ServiceName", "ServiceSubcategory",
	"SkuId", "SkuMeter", "SkuPriceDetails", "SkuPriceId", "SubAccountId", "SubAccountName",
	"SubAccountType", "Tags",
	// FOCUS 1.3: data-generator-calculated split cost allocation.
	"AllocatedMethodId", "AllocatedMethodDetails",
	// aiload's own; x_Team is named after Report.GroupBy (x_CostCenter)
	// when the bill is split by another column.
	"x_Team", "x_Model", "x_CostType", "x_Tokens", "x_AllocationMethod", "x_OriginChargeId",
}

// FOCUS allowed values used here.
const (
	focusServiceCategory    = "AI and Machine Learning"
	focusServiceSubcategory = "Generative AI"
	focusChargeCategory     = "Usage"
	focusChargeFrequency    = "Usage-Based"
	focusPricingStandard    = "Standard"
)

// WriteFOCUS writes the report as a FinOps FOCUS Cost and Usage CSV.
//
// PAYG lines become Usage rows priced per "1000000 Tokens" (ConsumedUnit
// "Tokens"). A capacity charge is written as its allocated charges (FOCUS
// 1.3 split cost allocation): one row per team whose costs and quantities
// sum to the origin charge, whose dimensions and unit prices equal the
// origin's, and whose AllocatedMethodDetails carry the team's AllocatedRatio
// (12 decimals; the ratios of one origin sum to exactly 1). x_OriginChargeId groups them.
// Empty cells are nulls. BilledCost and EffectiveCost are the charged
// amounts, to the cent; ListCost and ContractedCost are PricingQuantity ×
// unit price, exact. An allocated row's PricingQuantity is exactly its
// AllocatedRatio of the origin's, so its ListCost is exactly that share of
// the origin's list cost.
func WriteFOCUS(w io.Writer, r Report) error {
	r.Normalize()
	if err := r.Validate(); err != nil {
		return fmt.Errorf("write focus csv: %w", err)
	}
	cw := csv.NewWriter(w)
	header := slices.Clone(FocusColumns)
	header[slices.Index(header, "x_Team")] = r.focusGroupColumn()
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("write focus csv: %w", err)
	}
	origins := capacityOrigins(r)
	for _, l := range r.Lines() {
		row, err := focusRow(r, l, origins[l.Origin])
		if err != nil {
			return fmt.Errorf("write focus csv: %w", err)
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("write focus csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write focus csv: %w", err)
	}
	return nil
}

// origin is what the allocated rows of one capacity charge share.
type origin struct {
	desc      string // ChargeDescription, the same on every allocated row
	basisUnit string // AllocatedMethodDetails UsageUnit
}

func capacityOrigins(r Report) map[string]origin {
	out := map[string]origin{}
	for _, c := range r.Capacity {
		dep := ""
		if c.Deployment != "" {
			dep = " (deployment " + c.Deployment + ")"
		}
		desc := fmt.Sprintf("Provisioned throughput for %s%s: %d PTU, %s %s at %s %s per %s, split among %ss: %s",
			c.Model, dep, c.PTUs, c.Quantity, c.Unit, c.UnitPrice.Exact(), r.Currency, singular(c.Unit), r.groupWords(), c.Method)
		out[c.ID] = origin{desc: desc, basisUnit: c.BasisUnit}
	}
	return out
}

func singular(unit string) string { return strings.TrimSuffix(unit, "s") }

type focusSku struct{ id, meter, token string }

func skuOf(l Line) focusSku {
	switch l.Type {
	case pricing.PAYGInput:
		return focusSku{l.Model + "-input", "Input Tokens", "Input"}
	case pricing.PAYGCachedInput:
		return focusSku{l.Model + "-cached-input", "Cached Input Tokens", "CachedInput"}
	case pricing.PAYGOutput:
		return focusSku{l.Model + "-output", "Output Tokens", "Output"}
	}
	return focusSku{l.Model + "-ptu", "Provisioned Throughput Unit", ""}
}

func focusRow(r Report, l Line, o origin) ([]string, error) {
	sku := skuOf(l)
	v := map[string]string{
		"BilledCost": l.Cost.Exact(), "EffectiveCost": l.Cost.Exact(),
		"ListCost": l.ListCost(), "ContractedCost": l.ListCost(),
		"ListUnitPrice": l.UnitPrice.Exact(), "ContractedUnitPrice": l.UnitPrice.Exact(),
		"BillingAccountId": r.Account.BillingAccountID, "BillingAccountName": r.Account.BillingAccountName,
		"BillingCurrency":    r.Currency,
		"BillingPeriodStart": utc(r.Period.Start), "BillingPeriodEnd": utc(r.Period.End),
		"ChargePeriodStart": utc(r.Period.Start), "ChargePeriodEnd": utc(r.Period.End),
		"ChargeCategory": focusChargeCategory, "ChargeFrequency": focusChargeFrequency,
		"ConsumedQuantity": l.PricingQuantity(), "ConsumedUnit": l.Unit,
		"PricingQuantity": l.PricingQuantity(), "PricingUnit": l.Unit,
		"PricingCategory":   focusPricingStandard,
		"InvoiceIssuerName": r.Account.InvoiceIssuerName, "ProviderName": r.Account.ProviderName,
		"PublisherName": r.Account.PublisherName, "RegionId": r.Account.RegionID,
		"RegionName":      r.Account.RegionID,
		"ServiceCategory": focusServiceCategory, "ServiceSubcategory": focusServiceSubcategory,
		"ServiceName": r.Account.ServiceName,
		"SkuId":       sku.id, "SkuMeter": sku.meter,
		"x_Team": l.Team, "x_Model": l.Model, "x_CostType": string(l.Type),
		"x_Tokens": strconv.FormatInt(l.Tokens, 10), "x_AllocationMethod": l.Method, "x_OriginChargeId": l.Origin,
	}
	if l.Type != pricing.PTUShare {
		// A PAYG row counts tokens; its consumption is the token count.
		v["ConsumedQuantity"], v["ConsumedUnit"] = strconv.FormatInt(l.Tokens, 10), "Tokens"
		v["SkuPriceId"] = sku.id + "-payg"
		v["ChargeDescription"] = fmt.Sprintf("%s %s for %s %s at %s %s per 1M tokens (pay-as-you-go)",
			l.Model, strings.ToLower(sku.meter), r.groupWords(), l.Team, l.UnitPrice.Exact(), r.Currency)
	} else {
		// "PTU-Hours" → gpt-4o-ptu-hour, "PTU-Months" → gpt-4o-ptu-month.
		v["SkuPriceId"] = sku.id + "-" + strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(singular(l.Unit), "PTU-"), " ", "-"))
		v["ChargeDescription"] = o.desc
	}
	if l.Deployment != "" {
		v["ResourceId"], v["ResourceName"], v["ResourceType"] = l.Deployment, l.Deployment, "Deployment"
	}
	if err := focusJSON(v, l, sku, o.basisUnit, r.groupName()); err != nil {
		return nil, err
	}
	row := make([]string, len(FocusColumns))
	for i, c := range FocusColumns {
		row[i] = v[c]
	}
	return row, nil
}

// focusJSON fills the JSON columns: Tags, SkuPriceDetails and, on allocated
// rows, AllocatedMethodId/AllocatedMethodDetails.
func focusJSON(v map[string]string, l Line, sku focusSku, basisUnit, group string) error {
	tags, err := json.Marshal(map[string]string{group: l.Team})
	if err != nil {
		return err
	}
	v["Tags"] = string(tags)
	details := map[string]string{"x_ModelId": l.Model}
	if sku.token != "" {
		details["x_TokenType"] = sku.token
	}
	spd, err := json.Marshal(details)
	if err != nil {
		return err
	}
	v["SkuPriceDetails"] = string(spd)
	if l.Origin == "" {
		return nil
	}
	type element struct {
		AllocatedRatio json.Number
		UsageUnit      string
		UsageQuantity  int64
	}
	amd, err := json.Marshal(struct{ Elements []element }{
		[]element{{AllocatedRatio: json.Number(l.RatioDecimal), UsageUnit: basisUnit, UsageQuantity: l.Tokens}}})
	if err != nil {
		return err
	}
	v["AllocatedMethodId"], v["AllocatedMethodDetails"] = l.Method, string(amd)
	return nil
}
