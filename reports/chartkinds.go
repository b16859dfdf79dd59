package reports

import (
	"fmt"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/aiload/aiload/pricing"
)

// CostByTeamChart is a horizontal bar chart of each team's cost, stacked by
// cost type, the most expensive team on top; beyond maxBars teams only the
// highest are drawn.
func CostByTeamChart(lines []Line, currency string) (*Chart, error) {
	return costByGroupChart(lines, currency, "team")
}

// costByGroupChart is CostByTeamChart for the column the bill is split by,
// in words ("cost center").
func costByGroupChart(lines []Line, currency, group string) (*Chart, error) {
	totals := TeamTotals(lines)
	if len(totals) == 0 {
		totals = []TeamTotal{{Team: "(no charges)", ByType: map[pricing.CostType]Money{}}}
	}
	title := "Cost by " + group + " (" + currency + ")"
	if len(totals) > maxBars {
		// The rest would dwarf every bar as one; the table lists them all.
		title = fmt.Sprintf("Cost by %s, the %d highest of %d (%s)", group, maxBars, len(totals), currency)
		totals = totals[:maxBars]
	}
	h := 25*vg.Millimeter + vg.Length(len(totals))*5*vg.Millimeter
	c := newChart("cost-by-team", title, 170*vg.Millimeter, max(h, 60*vg.Millimeter))
	names := make([]string, len(totals))
	for i, t := range totals {
		names[len(totals)-1-i] = t.Team // highest at the top
	}
	var below *plotter.BarChart
	for _, ct := range pricing.CostTypes() {
		vals := make(plotter.Values, len(totals))
		used := false
		for i, t := range totals {
			vals[len(totals)-1-i] = t.ByType[ct].Float()
			used = used || t.ByType[ct] != 0
		}
		if !used {
			continue
		}
		bars, err := plotter.NewBarChart(vals, vg.Points(10))
		if err != nil {
			return nil, fmt.Errorf("cost-by-team chart: %w", err)
		}
		bars.Horizontal = true
		bars.LineStyle.Width = 0
		bars.Color = c.addSeries(ct.Label(), costTypeColour[ct])
		if below != nil {
			bars.StackOn(below)
		}
		below = bars
		c.plot.Add(bars)
		c.plot.Legend.Add(ct.Label(), bars)
	}
	c.plot.NominalY(names...)
	c.plot.X.Min = 0
	c.plot.X.Max = headroom(maxTotal(totals))
	c.plot.X.Tick.Marker = humanTicks{prefix: currencySymbol(currency)}
	c.plot.Legend.Left = false
	return c, nil
}

// DemandChart plots a team's per-minute token demand, the tokens served and
// its TPM limit over time.
func DemandChart(a TeamActivity, name string) (*Chart, error) {
	c := newChart(name, "Tokens per minute: "+a.Team, 180*vg.Millimeter, 75*vg.Millimeter)
	pts := bucket(a.Demand, maxPoints)
	demand, served, limit := make(plotter.XYs, len(pts)), make(plotter.XYs, len(pts)), make(plotter.XYs, len(pts))
	hasLimit := false
	for i, p := range pts {
		x := float64(p.Minute.Unix())
		demand[i] = plotter.XY{X: x, Y: float64(p.Demand)}
		served[i] = plotter.XY{X: x, Y: float64(p.Served)}
		limit[i] = plotter.XY{X: x, Y: float64(p.LimitTPM)}
		hasLimit = hasLimit || p.LimitTPM > 0
	}
	series := []lineSeries{
		// Served is drawn first and wide, under the demand line, so both
		// show where they meet.
		{name: "served", xys: served, colour: green, width: 3},
		{name: "demand (incl. throttled)", xys: demand, colour: blue, width: 1.2},
	}
	if hasLimit {
		series = append(series, lineSeries{name: "TPM limit", xys: limit, colour: red, width: 1.2, dashed: true})
	}
	if k := a.BusiestKey; k != nil { // a limit per key: the busiest key against it
		kpts := bucket(k.Demand, maxPoints)
		kserved, klimit := make(plotter.XYs, len(kpts)), make(plotter.XYs, len(kpts))
		for i, p := range kpts {
			x := float64(p.Minute.Unix())
			kserved[i], klimit[i] = plotter.XY{X: x, Y: float64(p.Served)}, plotter.XY{X: x, Y: float64(p.LimitTPM)}
		}
		series = append(series,
			lineSeries{name: fmt.Sprintf("served, busiest key %s (of %d)", k.Key, k.Keys), xys: kserved, colour: orange, width: 1.5},
			lineSeries{name: "TPM limit per key", xys: klimit, colour: red, width: 1.2, dashed: true})
		limit = append(limit, klimit...)
	}
	if err := c.addLines(series); err != nil {
		return nil, fmt.Errorf("demand chart %s: %w", a.Team, err)
	}
	c.plot.Y.Min = 0
	c.plot.Y.Max = headroom(maxY(demand, served, limit))
	c.plot.Y.Label.Text = "tokens / minute"
	c.plot.Y.Tick.Marker = humanTicks{}
	c.plot.X.Tick.Marker = timeTicks{}
	if len(pts) > 0 {
		c.plot.X.Label.Text = "UTC"
	}
	return c, nil
}

// bucket reduces a series to at most n points: each keeps its bucket's first
// minute and the busiest minute's demand, served tokens and limit (so peaks
// and throttling stay visible).
func bucket(pts []MinutePoint, n int) []MinutePoint {
	if len(pts) <= n {
		return pts
	}
	size := (len(pts) + n - 1) / n
	out := make([]MinutePoint, 0, n)
	for i := 0; i < len(pts); i += size {
		b := pts[i]
		for _, p := range pts[i:min(i+size, len(pts))] {
			b.Demand, b.Served, b.LimitTPM = max(b.Demand, p.Demand), max(b.Served, p.Served), max(b.LimitTPM, p.LimitTPM)
		}
		out = append(out, b)
	}
	return out
}

// PTUCurveChart plots monthly cost against PTU count from 0 (all
// pay-as-you-go): the provisioned units' cost, the PAYG spill, their
// total, and the recommended plan.
func PTUCurveChart(p PTUPlan, currency, name string) (*Chart, error) {
	c := newChart(name, "Monthly cost by PTU count: "+p.Model, 180*vg.Millimeter, 80*vg.Millimeter)
	ptu, spill, total := make(plotter.XYs, len(p.Points)), make(plotter.XYs, len(p.Points)), make(plotter.XYs, len(p.Points))
	var rec plotter.XYs
	for i, pt := range p.Points {
		x := float64(pt.PTUs)
		ptu[i] = plotter.XY{X: x, Y: pt.PTUCost.Float()}
		spill[i] = plotter.XY{X: x, Y: pt.SpillCost.Float()}
		total[i] = plotter.XY{X: x, Y: pt.Total().Float()}
		if pt.PTUs == p.Recommended {
			rec = append(rec, total[i])
		}
	}
	series := []lineSeries{{name: "total", xys: total, colour: blue, width: 1.5},
		{name: "PTU cost", xys: ptu, colour: purple, width: 1.5}, {name: "PAYG spill", xys: spill, colour: orange, width: 1.5}}
	if p.PAYGOnly > 0 && len(p.Points) > 0 {
		all := plotter.XYs{{X: float64(p.Points[0].PTUs), Y: p.PAYGOnly.Float()},
			{X: float64(p.Points[len(p.Points)-1].PTUs), Y: p.PAYGOnly.Float()}}
		series = append(series, lineSeries{name: "all pay-as-you-go", xys: all, colour: green, width: 1.5, dashed: true})
	}
	if err := c.addLines(series); err != nil {
		return nil, fmt.Errorf("ptu curve %s: %w", p.Model, err)
	}
	if len(rec) > 0 {
		sc, err := plotter.NewScatter(rec)
		if err != nil {
			return nil, fmt.Errorf("ptu curve %s: %w", p.Model, err)
		}
		label := fmt.Sprintf("recommended: %d PTU", p.Recommended)
		if p.Recommended == 0 {
			label = "recommended: all pay-as-you-go"
		}
		sc.GlyphStyle.Color = c.addSeries(label, red)
		sc.GlyphStyle.Shape = draw.CircleGlyph{}
		sc.GlyphStyle.Radius = vg.Points(4)
		c.plot.Add(sc)
		c.plot.Legend.Add(label, sc)
	}
	c.plot.Y.Min = 0
	c.plot.Y.Max = headroom(max(maxY(total, ptu, spill), p.PAYGOnly.Float()))
	c.plot.X.Label.Text = "PTU"
	c.plot.X.Tick.Marker = humanTicks{}
	c.plot.Y.Label.Text = "per month"
	c.plot.Y.Tick.Marker = humanTicks{prefix: currencySymbol(currency)}
	return c, nil
}
