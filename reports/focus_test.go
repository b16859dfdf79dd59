package reports

import (
	"bytes"
	"encoding/json"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aiload/aiload/reports/reporttest"

	"github.com/aiload/aiload/pricing"
)

// focusMandatory are the FOCUS 1.2 Cost and Usage columns whose feature
// level is Mandatory (specification/columns/*.md at tag v1.2).
var focusMandatory = []string{
	"BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
	"BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass",
	"ChargeDescription", "ChargePeriodEnd", "ChargePeriodStart", "ContractedCost",
	"EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity", "PricingUnit",
	"ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
}

var (
	focusDateTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$`)
	// Numeric format: a plain number or E notation, no symbols or units.
	focusNumeric  = regexp.MustCompile(`^-?\d+(\.\d+)?([eE][-+]?\d+)?$`)
	focusCurrency = regexp.MustCompile(`^[A-Z]{3}$`)
	pascalCase    = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
	customColumn  = regexp.MustCompile(`^x_[A-Z][A-Za-z0-9]*$`)
)

// focusAllowed are the allowed values of the normalized columns used here.
var focusAllowed = map[string][]string{
	"ChargeCategory":  {"Usage", "Purchase", "Tax", "Credit", "Adjustment"},
	"ChargeClass":     {"", "Correction"},
	"ChargeFrequency": {"One-Time", "Recurring", "Usage-Based"},
	"PricingCategory": {"", "Standard", "Committed", "Dynamic", "Other"},
	"ServiceCategory": {"AI and Machine Learning", "Analytics", "Business Applications", "Compute",
		"Databases", "Developer Tools", "Multicloud", "Identity", "Integration", "Internet of Things",
		"Management and Governance", "Media", "Migration", "Mobile", "Networking", "Security",
		"Storage", "Web", "Other"},
	"ServiceSubcategory": {"AI Platforms", "Bots", "Generative AI", "Machine Learning",
		"Natural Language Processing", "Other (AI and Machine Learning)"},
}

func TestWriteFOCUS(t *testing.T) {
	t.Parallel()
	r := sampleReport()
	var buf bytes.Buffer
	if err := WriteFOCUS(&buf, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "focus.golden.csv", buf.Bytes())
	header, rows := readCSV(t, buf.Bytes())
	checkFocusHeader(t, header)
	for i, row := range rows {
		checkFocusRow(t, i, row)
	}
	checkAllocations(t, r, rows)

	// Team totals from BilledCost match the chargeback CSV's.
	want := map[string]string{"support": "6521.19", "research": "3280.43", "Équipe Données": "1113.33"}
	for team, got := range reporttest.CSVTeamTotals(t, buf.Bytes(), "x_Team", "BilledCost") {
		if got != want[team] {
			t.Errorf("FOCUS BilledCost for %s = %s, want %s", team, got, want[team])
		}
	}
}

func checkFocusHeader(t *testing.T, header []string) {
	t.Helper()
	for _, c := range focusMandatory {
		if !slices.Contains(header, c) {
			t.Errorf("mandatory column %s missing", c)
		}
	}
	for _, c := range []string{"AllocatedMethodId", "AllocatedMethodDetails", "Tags",
		"ServiceSubcategory", "ConsumedQuantity", "ConsumedUnit", "ListUnitPrice"} {
		if !slices.Contains(header, c) {
			t.Errorf("column %s missing", c)
		}
	}
	seenCustom := false
	for _, c := range header {
		switch {
		case strings.HasPrefix(c, "x_"):
			seenCustom = true
			if !customColumn.MatchString(c) {
				t.Errorf("custom column %q is not x_PascalCase", c)
			}
		case seenCustom:
			t.Errorf("FOCUS column %s after custom columns", c)
		case !pascalCase.MatchString(c) || len(c) > 50:
			t.Errorf("column %q is not a PascalCase FOCUS id", c)
		}
	}
}

func checkFocusRow(t *testing.T, i int, row map[string]string) {
	t.Helper()
	for _, c := range focusMandatory {
		if row[c] == "" && c != "ChargeClass" {
			t.Errorf("row %d: mandatory %s is null", i, c)
		}
	}
	for _, c := range []string{"BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd"} {
		if !focusDateTime.MatchString(row[c]) {
			t.Errorf("row %d: %s = %q, want YYYY-MM-DDTHH:mm:ssZ", i, c, row[c])
		}
	}
	if row["ChargePeriodStart"] >= row["ChargePeriodEnd"] {
		t.Errorf("row %d: charge period %s..%s is empty", i, row["ChargePeriodStart"], row["ChargePeriodEnd"])
	}
	for _, c := range []string{"BilledCost", "EffectiveCost", "ListCost", "ContractedCost",
		"PricingQuantity", "ConsumedQuantity", "ListUnitPrice", "ContractedUnitPrice"} {
		if !focusNumeric.MatchString(row[c]) {
			t.Errorf("row %d: %s = %q is not a FOCUS number", i, c, row[c])
		}
	}
	if !focusCurrency.MatchString(row["BillingCurrency"]) {
		t.Errorf("row %d: BillingCurrency %q", i, row["BillingCurrency"])
	}
	for c, allowed := range focusAllowed {
		if !slices.Contains(allowed, row[c]) {
			t.Errorf("row %d: %s = %q not an allowed value", i, c, row[c])
		}
	}
	if row["ServiceCategory"] != "AI and Machine Learning" || row["ServiceSubcategory"] != "Generative AI" {
		t.Errorf("row %d: service %q / %q", i, row["ServiceCategory"], row["ServiceSubcategory"])
	}
	// ListCost = ListUnitPrice × PricingQuantity, exactly.
	list := new(big.Rat).Mul(rat(t, row["ListUnitPrice"]), rat(t, row["PricingQuantity"]))
	if list.Cmp(rat(t, row["ListCost"])) != 0 || row["ContractedCost"] != row["ListCost"] {
		t.Errorf("row %d: ListCost %s ≠ %s × %s", i, row["ListCost"], row["ListUnitPrice"], row["PricingQuantity"])
	}
	if row["x_CostType"] != string(pricing.PTUShare) {
		if row["PricingUnit"] != "1000000 Tokens" || row["ConsumedUnit"] != "Tokens" ||
			row["ConsumedQuantity"] != row["x_Tokens"] {
			t.Errorf("row %d: token units %q/%q qty %s", i, row["PricingUnit"], row["ConsumedUnit"], row["ConsumedQuantity"])
		}
		if row["AllocatedMethodId"] != "" || row["AllocatedMethodDetails"] != "" {
			t.Errorf("row %d: a direct charge carries allocation columns", i)
		}
	}
	var tags map[string]any
	if err := json.Unmarshal([]byte(row["Tags"]), &tags); err != nil || tags["team"] != row["x_Team"] {
		t.Errorf("row %d: Tags %q want JSON with team %q (%v)", i, row["Tags"], row["x_Team"], err)
	}
	var spd map[string]any
	if err := json.Unmarshal([]byte(row["SkuPriceDetails"]), &spd); err != nil {
		t.Errorf("row %d: SkuPriceDetails %q: %v", i, row["SkuPriceDetails"], err)
	}
}

type allocDetails struct {
	Elements []struct {
		AllocatedRatio *json.Number
		UsageUnit      string
		UsageQuantity  *float64
	}
}

// checkAllocations checks the split cost allocation rules: per origin charge
// the allocated costs and quantities sum to the origin's, the ratios sum to
// 1, and dimensions and unit prices equal across the allocated rows.
func checkAllocations(t *testing.T, r Report, rows []map[string]string) {
	t.Helper()
	r.Normalize()
	for _, c := range r.Capacity {
		var group []map[string]string
		for _, row := range rows {
			if row["x_OriginChargeId"] == c.ID {
				group = append(group, row)
			}
		}
		if len(group) != len(c.Allocations) {
			t.Fatalf("origin %s: %d allocated rows, want %d", c.ID, len(group), len(c.Allocations))
		}
		sums := map[string]*big.Rat{}
		ratios := new(big.Rat)
		qty := new(big.Rat).SetFrac64(int64(c.Quantity), 1_000_000)
		listOrigin := new(big.Rat).Mul(qty, new(big.Rat).SetFrac64(int64(c.UnitPrice), 1_000_000))
		for _, row := range group {
			for _, m := range []string{"BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "PricingQuantity", "ConsumedQuantity"} {
				if sums[m] == nil {
					sums[m] = new(big.Rat)
				}
				sums[m].Add(sums[m], rat(t, row[m]))
			}
			var d allocDetails
			if err := json.Unmarshal([]byte(row["AllocatedMethodDetails"]), &d); err != nil || len(d.Elements) != 1 || d.Elements[0].AllocatedRatio == nil {
				t.Fatalf("origin %s: AllocatedMethodDetails %q: %v", c.ID, row["AllocatedMethodDetails"], err)
			}
			ratio := rat(t, string(*d.Elements[0].AllocatedRatio))
			ratios.Add(ratios, ratio)
			// An allocated row's list cost is its share of the origin's: the
			// printed ratio has 12 decimals, so within 1e-12 of the origin's.
			diff := new(big.Rat).Sub(new(big.Rat).Mul(ratio, listOrigin), rat(t, row["ListCost"]))
			if diff.Abs(diff).Cmp(new(big.Rat).Mul(listOrigin, big.NewRat(1, 1e12))) > 0 {
				t.Errorf("origin %s: %s's ListCost %s, want its ratio %s × %s", c.ID, row["x_Team"],
					row["ListCost"], ratio.FloatString(12), listOrigin.FloatString(6))
			}
			if d.Elements[0].UsageUnit == "" || d.Elements[0].UsageQuantity == nil {
				t.Errorf("origin %s: element without UsageUnit/UsageQuantity: %s", c.ID, row["AllocatedMethodDetails"])
			}
			if row["AllocatedMethodId"] != c.Method {
				t.Errorf("origin %s: AllocatedMethodId %q, want %q", c.ID, row["AllocatedMethodId"], c.Method)
			}
			for _, col := range FocusColumns {
				if sameOnAllocatedRows(col) && row[col] != group[0][col] {
					t.Errorf("origin %s: %s differs across allocated rows: %q vs %q", c.ID, col, row[col], group[0][col])
				}
			}
		}
		origin := new(big.Rat).SetFrac64(int64(c.Cost), 1_000_000)
		for _, m := range []string{"BilledCost", "EffectiveCost"} {
			if sums[m].Cmp(origin) != 0 {
				t.Errorf("origin %s: %s sums to %s, want %s", c.ID, m, sums[m].FloatString(6), origin.FloatString(6))
			}
		}
		if sums["PricingQuantity"].Cmp(qty) != 0 || sums["ConsumedQuantity"].Cmp(qty) != 0 || sums["ListCost"].Cmp(listOrigin) != 0 {
			t.Errorf("origin %s: quantities sum to %s/%s list %s, want %s list %s", c.ID,
				sums["PricingQuantity"].FloatString(6), sums["ConsumedQuantity"].FloatString(6),
				sums["ListCost"].FloatString(6), qty.FloatString(6), listOrigin.FloatString(6))
		}
		if ratios.Cmp(big.NewRat(1, 1)) != 0 {
			t.Errorf("origin %s: AllocatedRatio sums to %s, want exactly 1", c.ID, ratios.FloatString(15))
		}
	}
}

// sameOnAllocatedRows reports whether a column must carry the origin's value
// on every allocated row: dimensions and unit prices do; summable metrics,
// the allocation details, tags (a superset of the origin's) and custom
// columns do not.
func sameOnAllocatedRows(col string) bool {
	switch col {
	case "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "PricingQuantity",
		"ConsumedQuantity", "CommitmentDiscountQuantity", "PricingCurrencyEffectiveCost",
		"AllocatedMethodDetails", "Tags":
		return false
	}
	return !strings.HasPrefix(col, "x_")
}
