package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"

	"github.com/aiload/aiload/pricing"
)

// chartFacts is what a chart golden file pins: the PNG's size, the series,
// the palette colours found in the image, and those found once the legend
// is removed (the series whose data is visible).
type chartFacts struct {
	Width, Height int
	Series        []string
	Colours       []string // palette colours in the image, in palette order
	DataColours   []string // the same without the legend
}

// seriesPixels is how many pixels of a palette colour make it count as
// drawn.
const seriesPixels = 40

func hex(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// inspectPNG decodes a chart and counts near-palette pixels.
func inspectPNG(t *testing.T, b []byte) (facts chartFacts, inked float64) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode png: %v", err)
	}
	bounds := img.Bounds()
	counts := make([]int, len(Palette))
	nonWhite := 0
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			if c.R < 250 || c.G < 250 || c.B < 250 {
				nonWhite++
			}
			for i, p := range Palette {
				if near(c, p) {
					counts[i]++
				}
			}
		}
	}
	facts = chartFacts{Width: bounds.Dx(), Height: bounds.Dy()}
	for i, n := range counts {
		if n >= seriesPixels {
			facts.Colours = append(facts.Colours, hex(Palette[i]))
		}
	}
	return facts, float64(nonWhite) / float64(bounds.Dx()*bounds.Dy())
}

func near(a, b color.RGBA) bool {
	d := func(x, y uint8) int {
		if x > y {
			return int(x - y)
		}
		return int(y - x)
	}
	return d(a.R, b.R) <= 12 && d(a.G, b.G) <= 12 && d(a.B, b.B) <= 12
}

func TestChartsGolden(t *testing.T) {
	t.Parallel()
	charts, err := Charts(sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	// Cost by team, three team demand charts, two PTU curves.
	if len(charts) != 6 {
		t.Fatalf("%d charts, want 6", len(charts))
	}
	wantSeries := map[string]int{
		"cost-by-team":          4, // PAYG input, cached, output, PTU share
		"demand-support":        3, // served, demand, limit
		"demand-équipe-données": 3,
		"ptu-curve-gpt-4o":      5, // total, PTU cost, spill, all PAYG, recommended
	}
	for _, c := range charts {
		b, err := c.PNG(0)
		if err != nil {
			t.Fatal(err)
		}
		facts, inked := inspectPNG(t, b)
		facts.Series = c.Series
		c.plot.Legend = plot.NewLegend()
		bare, err := c.PNG(0)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := inspectPNG(t, bare)
		facts.DataColours = data.Colours
		for _, dc := range data.Colours {
			if !slices.Contains(facts.Colours, dc) {
				t.Errorf("%s: data drawn in %s, which no series has", c.Name, dc)
			}
		}
		if !strings.HasPrefix(c.Name, "cost-") && len(data.Colours) != len(c.Series) {
			t.Errorf("%s: data of %d series visible (%v), want all %d (%v)", c.Name, len(data.Colours), data.Colours, len(c.Series), c.Series)
		}
		if inked < 0.02 {
			t.Errorf("%s: only %.1f%% of pixels are not white", c.Name, 100*inked)
		}
		var want []string
		for _, p := range Palette {
			for _, sc := range c.Colours {
				if sc == p {
					want = append(want, hex(p))
				}
			}
		}
		if strings.Join(facts.Colours, " ") != strings.Join(want, " ") {
			t.Errorf("%s: colours drawn %v, want one per series %v (%v)", c.Name, facts.Colours, want, c.Series)
		}
		if n, ok := wantSeries[c.Name]; ok && len(c.Series) != n {
			t.Errorf("%s: %d series %v, want %d", c.Name, len(c.Series), c.Series, n)
		}
		js, _ := json.MarshalIndent(facts, "", "  ")
		golden(t, filepath.Join("charts", c.Name+".json"), append(js, '\n'))
	}
}

func TestCostChartOmitsUnusedCostTypesAndCapsTeams(t *testing.T) {
	t.Parallel()
	var lines []Line
	for i := range 30 {
		lines = append(lines, Line{Team: fmt.Sprintf("team-%02d", i), Model: "m", Type: pricing.PAYGInput, Cost: usd(float64(100 + i))})
	}
	c, err := CostByTeamChart(lines, "USD")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Series) != 1 || c.Series[0] != "PAYG input" {
		t.Errorf("series = %v, want only PAYG input", c.Series)
	}
	if !strings.Contains(c.Title, "the 20 highest of 30") {
		t.Errorf("title %q does not say only the top teams are drawn", c.Title)
	}
	b, err := c.PNG(0)
	if err != nil {
		t.Fatal(err)
	}
	facts, _ := inspectPNG(t, b)
	if len(facts.Colours) != 1 || facts.Colours[0] != hex(Palette[blue]) {
		t.Errorf("colours drawn %v, want blue only", facts.Colours)
	}
}

func TestDemandChartBucketsLongSeries(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var pts []MinutePoint
	for m := range 30 * 24 * 60 { // a month of minutes
		pts = append(pts, MinutePoint{Minute: start.Add(time.Duration(m) * time.Minute), Demand: int64(m % 1000)})
	}
	pts[12345].Demand = 999_999 // one spike
	b := bucket(pts, maxPoints)
	if len(b) > maxPoints {
		t.Errorf("%d points after bucketing, want <= %d", len(b), maxPoints)
	}
	peak := int64(0)
	for _, p := range b {
		peak = max(peak, p.Demand)
	}
	if peak != 999_999 {
		t.Errorf("bucketing lost the spike: max %d", peak)
	}
	if _, err := DemandChart(TeamActivity{Team: "t", Demand: pts}, "d"); err != nil {
		t.Fatal(err)
	}
}

func TestWriteCharts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files, err := WriteCharts(dir, sampleReport())
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 12 {
		t.Errorf("%d files, want 6 charts × png+svg", len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		switch filepath.Ext(f) {
		case ".png":
			if _, _, err := image.Decode(bytes.NewReader(b)); err != nil {
				t.Errorf("%s: %v", f, err)
			}
		case ".svg":
			if !bytes.Contains(b, []byte("<svg")) {
				t.Errorf("%s is not SVG", f)
			}
		}
	}
}

// TestEncodePNGRoundTrips decodes the chart encoder's output with
// image/png and finds the same pixels, including a sub-image.
func TestEncodePNGRoundTrips(t *testing.T) {
	t.Parallel()
	img := image.NewRGBA(image.Rect(0, 0, 37, 23))
	for y := range 23 {
		for x := range 37 {
			img.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 11), uint8(x * y), 255})
		}
	}
	for _, src := range []*image.RGBA{img, img.SubImage(image.Rect(5, 3, 30, 20)).(*image.RGBA)} {
		var buf bytes.Buffer
		if err := encodePNG(&buf, src); err != nil {
			t.Fatal(err)
		}
		got, err := png.Decode(&buf)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		b := src.Bounds()
		if got.Bounds().Dx() != b.Dx() || got.Bounds().Dy() != b.Dy() {
			t.Fatalf("size %v, want %v", got.Bounds(), b)
		}
		for y := range b.Dy() {
			for x := range b.Dx() {
				want := src.RGBAAt(b.Min.X+x, b.Min.Y+y)
				if c := color.RGBAModel.Convert(got.At(x, y)).(color.RGBA); c != want {
					t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, c, want)
				}
			}
		}
	}
}

// TestTickLabelsDistinct: no axis repeats a label, whether its values are
// cents ($0, $0.05, $0.1, not $0, $0.1, $0.1) or days ticked twice a day
// (Jan 5 00:00, Jan 5 12:00, …, not Jan 5, Jan 5, Jan 6).
func TestTickLabelsDistinct(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		ticker plot.Ticker
		lo, hi float64
	}{
		{"cents", humanTicks{prefix: "$"}, 0, 0.12},
		{"a few cents", humanTicks{prefix: "$"}, 0, 0.03},
		{"quarters", humanTicks{prefix: "$"}, 0, 0.55},
		{"thousands", humanTicks{}, 0, 2500},
		{"fractions of a million", humanTicks{}, 1e6, 1.3e6},
		{"a day and a half", timeTicks{}, float64(day.Unix()), float64(day.Add(36 * time.Hour).Unix())},
		{"two days", timeTicks{}, float64(day.Unix()), float64(day.Add(48 * time.Hour).Unix())},
		{"a few minutes", timeTicks{}, float64(day.Unix()), float64(day.Add(3 * time.Minute).Unix())},
		{"a business day", timeTicks{}, float64(day.Add(7 * time.Hour).Unix()), float64(day.Add(19 * time.Hour).Unix())},
		{"a month", timeTicks{}, float64(day.Unix()), float64(day.AddDate(0, 1, 0).Unix())},
	} {
		seen := map[string]bool{}
		var labels []string
		for _, tk := range tc.ticker.Ticks(tc.lo, tc.hi) {
			if tk.Label == "" {
				continue
			}
			labels = append(labels, tk.Label)
			if seen[tk.Label] {
				t.Errorf("%s: label %q repeats in %q", tc.name, tk.Label, labels)
			}
			seen[tk.Label] = true
		}
		if len(labels) < 2 || (tc.name == "quarters" && !slices.Contains(labels, "$0.25")) { // exact, not $0.2
			t.Errorf("%s: labels %q", tc.name, labels)
		}
		t.Logf("%s: %q", tc.name, labels)
	}
}
