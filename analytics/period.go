package analytics

import "github.com/aiload/aiload/pricing"

// Period is the billing period the chargeback bills and the reports cover
// (pricing.Period, the one definition).
type Period = pricing.Period

// ParsePeriod reads a period as pricing.ParsePeriod does.
func ParsePeriod(s string) (Period, error) { return pricing.ParsePeriod(s) }
