package loadgen

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// TestDistMoments draws many values and checks each kind's location.
func TestDistMoments(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		d          Dist
		wantMedian float64 // of the draws
		wantMean   float64 // 0: not checked
		tol        float64 // relative
	}{
		// A fixed length is always itself.
		{"fixed", Dist{Kind: DistFixed, Value: 300}, 300, 300, 0},
		// Uniform is centred between min and max.
		{"uniform", Dist{Kind: DistUniform, Min: 100, Max: 300}, 200, 200, 0.03},
		// Normal has its mean as median.
		{"normal", Dist{Kind: DistNormal, Mean: 500, StdDev: 50}, 500, 500, 0.02},
		// Lognormal is given by its median (and p95).
		{"lognormal", Dist{Kind: DistLognormal, Median: 400, P95: 1500}, 400, 0, 0.05},
		// Exponential has median mean·ln 2.
		{"exponential", Dist{Kind: DistExponential, Mean: 1000}, 1000 * math.Ln2, 1000, 0.05},
		// A 50/50 mixture of two fixed values averages them.
		{"mixture", Dist{Kind: DistMixture, Of: []Dist{{Kind: DistFixed, Value: 100, Weight: 1}, {Kind: DistFixed, Value: 300, Weight: 1}}}, 0, 200, 0.03},
		// Empirical draws observed values.
		{"empirical", Dist{Kind: DistEmpirical, Values: []float64{10, 20, 30}}, 20, 20, 0.03},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := tc.d.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			vals := make([]float64, 20000)
			var sum float64
			for i := range vals {
				vals[i] = float64(tc.d.Draw(rng))
				sum += vals[i]
			}
			slices.Sort(vals)
			check := func(what string, got, want float64) {
				if want != 0 && math.Abs(got-want) > tc.tol*want+0.5 {
					t.Errorf("%s: got %.1f, want %.1f ±%.0f%%", what, got, want, tc.tol*100)
				}
			}
			check("median", vals[len(vals)/2], tc.wantMedian)
			check("mean", sum/float64(len(vals)), tc.wantMean)
		})
	}
}

// TestDistLognormalP95 checks the 95th percentile matches the parameter.
func TestDistLognormalP95(t *testing.T) {
	t.Parallel()
	d := Dist{Kind: DistLognormal, Median: 400, P95: 1500}
	rng := rand.New(rand.NewPCG(3, 4))
	vals := make([]float64, 40000)
	for i := range vals {
		vals[i] = d.Sample(rng)
	}
	slices.Sort(vals)
	if got := vals[len(vals)*95/100]; math.Abs(got-1500) > 75 {
		t.Fatalf("p95 = %.0f, want 1500 ±5%%", got)
	}
}

// TestDrawTokensClampsToContext keeps every draw within [1, context].
func TestDrawTokensClampsToContext(t *testing.T) {
	t.Parallel()
	d := Dist{Kind: DistLognormal, Median: 3000, P95: 60000}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 5000 {
		if n := d.DrawTokens(rng, 8192); n < 1 || n > 8192 {
			t.Fatalf("draw %d outside [1, 8192]", n)
		}
	}
}

func TestDistValidateRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		yaml string
		want string
	}{
		{"{dist: lognormal, median: 500, p95: 100}", "p95 (100) must not be below the median (500)"}, // p95 under the median
		{"{dist: uniform, min: 10, max: 5}", "min (10) must not exceed max (5)"},                     // empty range
		{"{dist: exponential, mean: 0}", "mean must be > 0"},                                         // no scale
		{"{dist: mixture, of: []}", "at least one component"},                                        // nothing to mix
		{"{dist: mixture, of: [{dist: fixed, value: 1}]}", "of[0].weight must be > 0"},               // weightless part
		{"{dist: empirical}", "file or values"},                                                      // no data
		{"{dist: zipf}", `unknown dist "zipf"`},                                                      // unsupported
	} {
		var d Dist
		if err := yaml.UnmarshalWithOptions([]byte(tc.yaml), &d, yaml.Strict()); err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		if err := d.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

func TestReadColumn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		csv, column string
		want        []float64
	}{
		{"5\n6\n", "", []float64{5, 6}},           // no header: first column
		{"a,b\n1,2\n3,4\n", "b", []float64{2, 4}}, // header, named column
		{"tokens\n7\n", "", []float64{7}},         // header, first column
	} {
		got, err := readColumn(strings.NewReader(tc.csv), tc.column)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("readColumn(%q, %q) = %v, %v; want %v", tc.csv, tc.column, got, err, tc.want)
		}
	}
}

// TestRateString: a rate is echoed in the unit that gives a whole number,
// as the user most likely wrote it.
func TestRateString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"-5/min", "-5/min"}, // a validation error quotes the user's rate
		{"2/s", "2/s"},
		{"30/min", "30/min"},
		{"100/h", "100/h"},
		{"0", "0/s"},
		{"0.0001234", "0.0001234/s"}, // no whole number in any unit
	} {
		var r Rate
		if err := r.UnmarshalText([]byte(tc.in)); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if got := r.String(); got != tc.want {
			t.Errorf("Rate(%s).String() = %q, want %q", tc.in, got, tc.want)
		}
	}
}
