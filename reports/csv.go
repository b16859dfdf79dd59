package reports

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
)

// focusTime is the FOCUS date/time format: UTC, seconds, a literal Z.
const focusTime = "2006-01-02T15:04:05Z"

func utc(t time.Time) string { return t.UTC().Format(focusTime) }

// ChargebackColumns are the columns of the chargeback CSV, in order; "team"
// is named after Report.GroupBy when the bill is split by another column.
var ChargebackColumns = []string{
	"billing_period_start", "billing_period_end", "team", "model", "deployment",
	"cost_type", "tokens", "pricing_unit", "pricing_quantity", "unit_price",
	"cost", "currency", "allocation_method", "allocation_ratio",
}

// WriteCSV writes the chargeback CSV: one row per team × model × cost type
// (PAYG input, PAYG cached input, PAYG output, PTU share), with tokens, the
// pricing unit and quantity, the unit price, the cost (exact, up to six
// decimals) and the allocation method. A PTU share row's tokens are the
// team's input-equivalent tokens on the provisioned deployment and its ratio
// is the team's share of the charge.
func WriteCSV(w io.Writer, r Report) error {
	r.Normalize()
	if err := r.Validate(); err != nil {
		return fmt.Errorf("write chargeback csv: %w", err)
	}
	cw := csv.NewWriter(w)
	header := slices.Clone(ChargebackColumns)
	header[slices.Index(header, "team")] = r.groupName()
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("write chargeback csv: %w", err)
	}
	start, end := utc(r.Period.Start), utc(r.Period.End)
	for _, l := range r.Lines() {
		row := []string{start, end, l.Team, l.Model, l.Deployment, string(l.Type),
			strconv.FormatInt(l.Tokens, 10), l.Unit, l.PricingQuantity(), l.UnitPrice.Exact(),
			l.Cost.Exact(), r.Currency, l.Method, l.RatioDecimal}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("write chargeback csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write chargeback csv: %w", err)
	}
	return nil
}
