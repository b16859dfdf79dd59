package reports

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/aiload/aiload/pricing"
)

// WriteTable writes the chargeback as text for a terminal: the team totals
// (pay-as-you-go, spill-over, PTU share), the PTU charges, then every line
// of the chargeback CSV with the same cost types and amounts, the rounding
// rule and what could not be billed.
func WriteTable(w io.Writer, r Report) error {
	r.Normalize()
	if err := r.Validate(); err != nil {
		return fmt.Errorf("write chargeback table: %w", err)
	}
	ew := &errWriter{w: w}
	lines := r.Lines()
	fmt.Fprintf(ew, "Chargeback %s (%s to %s), %s\n", r.Period.Label,
		r.Period.Start.Format("2006-01-02"), r.Period.End.Format("2006-01-02"), r.Currency)
	if r.Method.Allocation != "" {
		fmt.Fprintf(ew, "Allocation: %s\n", r.Method.Allocation)
	}
	fmt.Fprintln(ew)

	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tPAYG\tspill\tPTU\ttotal\t\n", r.groupName())
	for _, t := range TeamTotals(lines) {
		var payg, spill Money
		for _, l := range lines {
			switch {
			case l.Team != t.Team || l.Type == pricing.PTUShare:
			case l.Method == SpilloverMethod:
				spill += l.Cost
			default:
				payg += l.Cost
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", t.Team, payg.Exact(), spill.Exact(),
			t.ByType[pricing.PTUShare].Exact(), t.Cost.Exact())
	}
	fmt.Fprintf(tw, "total\t\t\t\t%s\t\n", Total(lines).Exact())
	_ = tw.Flush()

	if len(r.Capacity) > 0 {
		fmt.Fprintln(ew)
		for _, c := range r.Capacity {
			util := ""
			if c.Utilization > 0 {
				util = fmt.Sprintf(", utilization %.1f%%", 100*c.Utilization)
			}
			fmt.Fprintf(ew, "PTU deployment %s: %d PTU of %s, %s %s at %s, %s%s\n", c.Deployment, c.PTUs, c.Model,
				c.Quantity, c.Unit, c.UnitPrice.Exact(), c.Cost.Exact(), util)
		}
	}

	fmt.Fprintln(ew)
	tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\tmodel\tcost type\tallocation\ttokens\tunit price\tcost\n", r.groupName())
	for _, l := range lines {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Team, l.Model, l.Type, l.Method,
			strconv.FormatInt(l.Tokens, 10), l.UnitPrice.Exact()+" per "+unitName(l.Unit), l.Cost.Exact())
	}
	_ = tw.Flush()
	if r.Method.Rounding != "" {
		fmt.Fprintf(ew, "\nRounding: %s\n", r.Method.Rounding)
	}
	for _, warn := range r.Method.Warnings {
		fmt.Fprintf(ew, "warning: %s\n", warn)
	}
	if ew.err != nil {
		return fmt.Errorf("write chargeback table: %w", ew.err)
	}
	return nil
}

// unitName names one pricing unit: "1M tokens", "PTU-Month".
func unitName(unit string) string {
	if unit == TokensUnit {
		return "1M tokens"
	}
	return singular(unit)
}

// errWriter keeps the first write error so a renderer can check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
