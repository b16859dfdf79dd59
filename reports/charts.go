package reports

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/aiload/aiload/pricing"
)

// Palette are the series colours, in order of use. They are saturated and
// far apart so a series can be recognised in a rendered PNG.
var Palette = []color.RGBA{
	{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // blue
	{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, // orange
	{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, // green
	{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, // red
	{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, // purple
}

const (
	blue = iota
	orange
	green
	red
	purple
)

// costTypeColour is the palette index of each cost type's bars.
var costTypeColour = map[pricing.CostType]int{pricing.PAYGInput: blue, pricing.PAYGCachedInput: green, pricing.PAYGOutput: orange, pricing.PTUShare: purple}

// ChartDPI is the resolution of chart PNGs (pixels per inch).
const ChartDPI = 150

// maxBars is how many teams the cost-by-team chart shows (the highest).
const maxBars = 20

// maxPoints is how many points a demand chart draws; longer series are
// bucketed, each point being the busiest minute of its bucket.
const maxPoints = 360

// Chart is a rendered-on-demand chart.
type Chart struct {
	// Name is the file name without extension ("cost-by-team").
	Name  string
	Title string
	// Series are the legend names in order; Colours their palette colours.
	Series  []string
	Colours []color.RGBA
	// Width and Height are the chart's size.
	Width, Height vg.Length
	plot          *plot.Plot
}

// PNG renders the chart as a PNG at dpi (ChartDPI when 0). The image is
// opaque, on white.
func (c *Chart) PNG(dpi int) ([]byte, error) { return c.png(dpi, 0) }

// png renders the chart extraPx pixels wider than its size at dpi, scaled
// up as a whole (same layout and aspect ratio, a touch more resolution).
func (c *Chart) png(dpi, extraPx int) ([]byte, error) {
	if dpi == 0 {
		dpi = ChartDPI
	}
	basePx := float64(c.Width) / float64(vg.Inch) * float64(dpi)
	k := (basePx + float64(extraPx)) / basePx
	canvas := vgimg.NewWith(vgimg.UseWH(c.Width*vg.Length(k), c.Height*vg.Length(k)), vgimg.UseDPI(dpi))
	canvas.Scale(k, k)
	// The canvas starts white: skip the plot's background fill, a
	// rasterized full-canvas path that costs as much as the data.
	bg := c.plot.BackgroundColor
	c.plot.BackgroundColor = nil
	c.plot.Draw(draw.NewCanvas(canvas, c.Width, c.Height))
	c.plot.BackgroundColor = bg
	var buf bytes.Buffer
	img, ok := canvas.Image().(*image.RGBA)
	if !ok {
		return nil, fmt.Errorf("encode chart %s: canvas is %T, not RGBA", c.Name, canvas.Image())
	}
	if err := encodePNG(&buf, img); err != nil {
		return nil, fmt.Errorf("encode chart %s: %w", c.Name, err)
	}
	return buf.Bytes(), nil
}

// SVG renders the chart as SVG.
func (c *Chart) SVG() ([]byte, error) {
	canvas := vgsvg.New(c.Width, c.Height)
	c.plot.Draw(draw.New(canvas))
	var buf bytes.Buffer
	if _, err := canvas.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("render chart %s as svg: %w", c.Name, err)
	}
	return buf.Bytes(), nil
}

func (c *Chart) addSeries(name string, colour int) color.RGBA {
	c.Series = append(c.Series, name)
	c.Colours = append(c.Colours, Palette[colour])
	return Palette[colour]
}

// lineSeries is one line of a chart: its legend name, points, palette
// colour, width in points and whether it is dashed.
type lineSeries struct {
	name   string
	xys    plotter.XYs
	colour int
	width  float64
	dashed bool
}

// addLines adds the non-empty series as lines with legend entries.
func (c *Chart) addLines(series []lineSeries) error {
	for _, s := range series {
		if len(s.xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(s.xys)
		if err != nil {
			return err
		}
		l.Color = c.addSeries(s.name, s.colour)
		l.Width = vg.Points(s.width)
		if s.dashed {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		c.plot.Add(l)
		c.plot.Legend.Add(s.name, l)
	}
	return nil
}

func newChart(name, title string, w, h vg.Length) *Chart {
	p := plot.New()
	p.Title.Text = title
	for _, f := range []struct {
		font *font.Font
		size float64
	}{{&p.Title.TextStyle.Font, 11}, {&p.Legend.TextStyle.Font, 8},
		{&p.X.Tick.Label.Font, 8}, {&p.Y.Tick.Label.Font, 8},
		{&p.X.Label.TextStyle.Font, 9}, {&p.Y.Label.TextStyle.Font, 9}} {
		f.font.Typeface, f.font.Variant, f.font.Size = "Liberation", "Sans", vg.Points(f.size)
	}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return &Chart{Name: name, Title: title, Width: w, Height: h, plot: p}
}

// Charts builds every chart of the report: cost by team, one demand chart
// per team with activity, one PTU cost curve per plan.
func Charts(r Report) ([]*Chart, error) {
	r.Normalize()
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("charts: %w", err)
	}
	var out []*Chart
	c, err := costByGroupChart(r.Lines(), r.Currency, r.groupWords())
	if err != nil {
		return nil, err
	}
	out = append(out, c)
	teamNames, planNames := chartNames(r)
	for i, a := range r.Teams {
		c, err := DemandChart(a, teamNames[i])
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	for i, p := range r.Plans {
		c, err := PTUCurveChart(p, r.Currency, planNames[i])
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// chartNames are the file names of the demand chart of each r.Teams entry
// and of the curve of each r.Plans entry: slugs, unique within the report.
func chartNames(r Report) (teams, plans []string) {
	names := slugger{}
	for _, a := range r.Teams {
		teams = append(teams, names.slug("demand-"+a.Team))
	}
	for _, p := range r.Plans {
		plans = append(plans, names.slug("ptu-curve-"+p.Model))
	}
	return teams, plans
}

// headroom leaves the top of a chart free for the legend.
func headroom(v float64) float64 {
	if v <= 0 {
		return 1
	}
	return v * 1.4
}

func maxY(series ...plotter.XYs) float64 {
	m := 0.0
	for _, s := range series {
		for _, p := range s {
			m = max(m, p.Y)
		}
	}
	return m
}

func maxTotal(totals []TeamTotal) float64 {
	m := 0.0
	for _, t := range totals {
		var sum Money
		for _, v := range t.ByType {
			sum += v
		}
		m = max(m, sum.Float())
	}
	return m
}

// humanTicks are the default ticks labelled 1.5k, 2M, with an optional
// prefix ("$").
type humanTicks struct{ prefix string }

var _ plot.Ticker = humanTicks{}

// Ticks implements plot.Ticker. Labels get the fewest decimals (up to
// six) that write every labelled value exactly, so ticks at 0, 0.25 and
// 0.5 read $0, $0.25, $0.5 (not $0, $0.2, $0.5), and no two labels are
// the same.
func (h humanTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	decimals := 0
	for ; decimals < 6; decimals++ {
		exact := true
		for _, t := range ticks {
			if t.Label != "" {
				v, _ := strconv.ParseFloat(strings.TrimRight(humanDecimals(t.Value, decimals), "kMG"), 64)
				exact = exact && math.Abs(v*humanScale(t.Value)-t.Value) <= 1e-9*max(1, math.Abs(t.Value))
			}
		}
		if exact {
			break
		}
	}
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = h.prefix + humanDecimals(ticks[i].Value, decimals)
		}
	}
	return ticks
}

// humanScale is the unit human writes n in: 1, 1e3 (k), 1e6 (M) or 1e9 (G).
func humanScale(n float64) float64 {
	for _, s := range []float64{1e9, 1e6, 1e3} {
		if math.Abs(n) >= s {
			return s
		}
	}
	return 1
}

// human formats n briefly: 950, 1.5k, 12k, 3.2M.
func human(n float64) string { return humanDecimals(n, 1) }

// humanDecimals is human with up to decimals decimals.
func humanDecimals(n float64, decimals int) string {
	suffix := map[float64]string{1: "", 1e3: "k", 1e6: "M", 1e9: "G"}
	s := humanScale(n)
	return trimFloat(n/s, decimals) + suffix[s]
}

func trimFloat(f float64, decimals int) string {
	return trimDecimals(strconv.FormatFloat(f, 'f', decimals, 64), 0)
}

// timeTicks label a UTC time axis at round times: whole seconds,
// minutes, hours or midnights, at most seven of them, in a format as
// fine as their spacing (15:04:05, 15:04, Jan 2 15:04 across days, Jan 2),
// so no two labels are the same.
type timeTicks struct{}

var _ plot.Ticker = timeTicks{}

// tickSteps are the spacings timeTicks choose from.
var tickSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 28 * 24 * time.Hour,
}

// Ticks implements plot.Ticker; lo and hi are Unix seconds.
func (timeTicks) Ticks(lo, hi float64) []plot.Tick {
	span := time.Duration((hi - lo) * float64(time.Second))
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if span/s <= 6 {
			step = s
			break
		}
	}
	format := "Jan 2"
	switch {
	case step < time.Minute:
		format = "15:04:05"
	case step < 24*time.Hour && span > 24*time.Hour:
		format = "Jan 2 15:04"
	case step < 24*time.Hour:
		format = "15:04"
	}
	secs := step.Seconds()
	var ticks []plot.Tick
	for t := math.Ceil(lo/secs) * secs; t <= hi; t += secs {
		ticks = append(ticks, plot.Tick{Value: t, Label: time.Unix(int64(t), 0).UTC().Format(format)})
	}
	return ticks
}

// slugger makes file-safe, unique chart names.
type slugger map[string]int

func (s slugger) slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	base := strings.TrimRight(b.String(), "-")
	s[base]++
	if s[base] > 1 {
		return fmt.Sprintf("%s-%d", base, s[base])
	}
	return base
}

// WriteCharts renders every chart of the report as <name>.png and
// <name>.svg in dir (created if missing) and returns the files written.
func WriteCharts(dir string, r Report) ([]string, error) {
	charts, err := Charts(r)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create chart folder: %w", err)
	}
	var files []string
	for _, c := range charts {
		pngBytes, err := c.PNG(0)
		if err != nil {
			return files, err
		}
		svgBytes, err := c.SVG()
		if err != nil {
			return files, err
		}
		for _, f := range []struct {
			ext string
			b   []byte
		}{{".png", pngBytes}, {".svg", svgBytes}} {
			path := filepath.Join(dir, c.Name+f.ext)
			if err := os.WriteFile(path, f.b, 0o644); err != nil {
				return files, fmt.Errorf("write chart: %w", err)
			}
			files = append(files, path)
		}
	}
	return files, nil
}
