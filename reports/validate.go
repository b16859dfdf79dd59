package reports

import (
	"errors"
	"fmt"
	"math"

	"github.com/aiload/aiload/pricing"
)

// Normalize fills defaults in place: currency, account names, units and
// quantities of lines, capacity-charge IDs.
func (r *Report) Normalize() {
	if r.Title == "" {
		r.Title = "AI usage chargeback"
	}
	if r.Currency == "" {
		r.Currency = "USD"
	}
	if r.Period.Label == "" && !r.Period.Start.IsZero() {
		r.Period.Label = r.Period.Start.UTC().Format("2006-01")
	}
	r.Account.normalize()
	for i := range r.Usage {
		l := &r.Usage[i]
		if l.Unit == "" {
			l.Unit, l.Quantity = TokensUnit, Quantity(l.Tokens)
		}
		if l.Method == "" {
			l.Method = DirectMethod
		}
	}
	for i := range r.Capacity {
		c := &r.Capacity[i]
		if c.Unit == "" {
			c.Unit = "PTU-Hours"
		}
		if c.BasisUnit == "" {
			c.BasisUnit = "Tokens"
		}
		if c.ID == "" {
			c.ID = "ptu/" + c.Model + "/" + c.Deployment
		}
	}
}

func (a *Account) normalize() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&a.BillingAccountID, "aiload")
	def(&a.BillingAccountName, "AI gateway chargeback")
	def(&a.ProviderName, "Microsoft")
	def(&a.PublisherName, "Microsoft")
	def(&a.InvoiceIssuerName, "Microsoft")
	def(&a.ServiceName, "Azure OpenAI")
}

// ratioTolerance is how far the ratios of a capacity charge may sum from 1.
const ratioTolerance = 1e-9

// Validate checks that the report adds up: a period, known cost types,
// non-negative amounts, PAYG costs within a cent of tokens × unit price, and
// every capacity charge fully split (allocated costs summing exactly to the
// charge, ratios summing to 1). Renderers refuse a report that fails it.
func (r *Report) Validate() error {
	var errs []error
	if r.Period.Start.IsZero() || !r.Period.End.After(r.Period.Start) {
		errs = append(errs, errors.New("period: start must be before end"))
	}
	for i, l := range r.Usage {
		if err := l.validateUsage(); err != nil {
			errs = append(errs, fmt.Errorf("usage[%d] (%s/%s): %w", i, l.Team, l.Model, err))
		}
	}
	for i, c := range r.Capacity {
		if err := c.validate(); err != nil {
			errs = append(errs, fmt.Errorf("capacity[%d] (%s): %w", i, c.ID, err))
		}
	}
	return errors.Join(errs...)
}

func (l Line) validateUsage() error {
	switch {
	case l.Team == "" || l.Model == "":
		return errors.New("team and model are required")
	case l.Type != pricing.PAYGInput && l.Type != pricing.PAYGCachedInput && l.Type != pricing.PAYGOutput:
		return fmt.Errorf("type %q is not a PAYG cost type", l.Type)
	case l.Tokens < 0 || l.Cost < 0 || l.UnitPrice < 0:
		return errors.New("tokens, unit price and cost must be >= 0")
	}
	exact := l.Quantity.timesMoney(l.UnitPrice)
	if d := exact - l.Cost; d > 10_000 || d < -10_000 {
		return fmt.Errorf("cost %s differs from quantity %s × unit price %s = %s by more than a cent",
			l.Cost.Exact(), l.Quantity, l.UnitPrice.Exact(), exact.Exact())
	}
	return nil
}

func (c CapacityCharge) validate() error {
	if c.Cost < 0 || c.UnitPrice < 0 || c.Quantity < 0 {
		return errors.New("quantity, unit price and cost must be >= 0")
	}
	if len(c.Allocations) == 0 {
		return errors.New("no allocations: a capacity charge must be split among teams")
	}
	var sum Money
	var ratios float64
	for _, a := range c.Allocations {
		if a.Team == "" || a.Ratio < 0 || a.Ratio > 1 || a.Cost < 0 {
			return fmt.Errorf("allocation to %q: team required, ratio in [0,1], cost >= 0", a.Team)
		}
		sum += a.Cost
		ratios += a.Ratio
	}
	if sum != c.Cost {
		return fmt.Errorf("allocated costs sum to %s, not the charge's %s", sum.Exact(), c.Cost.Exact())
	}
	if math.Abs(ratios-1) > ratioTolerance {
		return fmt.Errorf("allocation ratios sum to %v, not 1", ratios)
	}
	return nil
}
