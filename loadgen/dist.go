package loadgen

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/aiload/aiload/internal/inputfile"
)

// Dist is a length (or duration, in seconds) distribution. In a scenario it
// is either a bare number (fixed) or a mapping:
//
//	{dist: fixed, value: 300}
//	{dist: uniform, min: 100, max: 400}
//	{dist: normal, mean: 300, stddev: 50}              # truncated at min (default 1)
//	{dist: lognormal, median: 400, p95: 1500}
//	{dist: exponential, mean: 200}
//	{dist: mixture, of: [{weight: 0.8, dist: …}, {weight: 0.2, dist: …}]}
//	{dist: empirical, file: lengths.csv, column: prompt_tokens}
//	{dist: empirical, values: [120, 340, 88]}
//
// Every kind also takes an optional min and max that clamp draws (except
// uniform, where they are the range). Token draws are rounded and clamped
// to [1, the model's context]; see DrawTokens.
type Dist struct {
	Kind   string  `yaml:"dist" json:"dist"`
	Value  float64 `yaml:"value" json:"value,omitempty"`
	Min    float64 `yaml:"min" json:"min,omitempty"`
	Max    float64 `yaml:"max" json:"max,omitempty"`
	Mean   float64 `yaml:"mean" json:"mean,omitempty"`
	StdDev float64 `yaml:"stddev" json:"stddev,omitempty"`
	Median float64 `yaml:"median" json:"median,omitempty"`
	P95    float64 `yaml:"p95" json:"p95,omitempty"`
	// Of are the components of a mixture, each picked with probability
	// weight / sum of weights.
	Of []Dist `yaml:"of" json:"of,omitempty"`
	// Weight is a mixture component's relative weight (only used under of).
	Weight float64 `yaml:"weight" json:"weight,omitempty"`
	// File is a CSV of observed values for dist empirical, relative to the
	// scenario file; Column names its column (default: the first). A header
	// row is detected when its first field is not a number.
	File   string `yaml:"file" json:"file,omitempty"`
	Column string `yaml:"column" json:"column,omitempty"`
	// Values are observed values for dist empirical, inline.
	Values []float64 `yaml:"values" json:"values,omitempty"`
}

// Distribution kinds.
const (
	DistFixed       = "fixed"
	DistUniform     = "uniform"
	DistNormal      = "normal"
	DistLognormal   = "lognormal"
	DistExponential = "exponential"
	DistMixture     = "mixture"
	DistEmpirical   = "empirical"
)

var distKinds = []string{DistFixed, DistUniform, DistNormal, DistLognormal, DistExponential, DistMixture, DistEmpirical}

// z95 is the standard normal quantile at 0.95.
const z95 = 1.6448536269514722

// DefaultContextTokens is the model context used to clamp token draws when
// a scenario sets none.
const DefaultContextTokens = 128000

// UnmarshalYAML accepts a bare number as a fixed distribution.
func (d *Dist) UnmarshalYAML(unmarshal func(any) error) error {
	var n float64
	if err := unmarshal(&n); err == nil {
		*d = Dist{Kind: DistFixed, Value: n}
		return nil
	}
	type plain Dist
	var p plain
	if err := unmarshal(&p); err != nil {
		return err
	}
	*d = Dist(p)
	return nil
}

// IsZero reports whether d was not given.
func (d Dist) IsZero() bool { return d.Kind == "" }

// Validate checks the parameters of d.
func (d Dist) Validate() error {
	if d.Max != 0 && d.Min > d.Max {
		return fmt.Errorf("min (%g) must not exceed max (%g)", d.Min, d.Max)
	}
	switch d.Kind {
	case DistFixed:
		if d.Value < 0 {
			return fmt.Errorf("value must be >= 0, got %g", d.Value)
		}
	case DistUniform:
		if d.Min < 0 || d.Max < d.Min {
			return fmt.Errorf("need 0 <= min <= max, got min %g max %g", d.Min, d.Max)
		}
	case DistNormal:
		if d.Mean <= 0 || d.StdDev < 0 {
			return fmt.Errorf("need mean > 0 and stddev >= 0, got mean %g stddev %g", d.Mean, d.StdDev)
		}
	case DistLognormal:
		if d.Median <= 0 {
			return fmt.Errorf("median must be > 0, got %g", d.Median)
		}
		if d.P95 < d.Median {
			return fmt.Errorf("p95 (%g) must not be below the median (%g)", d.P95, d.Median)
		}
	case DistExponential:
		if d.Mean <= 0 {
			return fmt.Errorf("mean must be > 0, got %g", d.Mean)
		}
	case DistMixture:
		return d.validateMixture()
	case DistEmpirical:
		if d.File == "" && len(d.Values) == 0 {
			return errors.New("empirical needs file or values")
		}
		if slices.ContainsFunc(d.Values, func(v float64) bool { return v < 0 || math.IsNaN(v) }) {
			return errors.New("empirical values must be >= 0")
		}
	case "":
		if d.isZero() {
			// the field was left out
			return errors.New("required: a number of tokens (300) or a distribution ({dist: lognormal, median: 500, p95: 2000})")
		}
		return fmt.Errorf("dist must be set (%s)", strings.Join(distKinds, ", "))
	default:
		return fmt.Errorf("unknown dist %q (want %s)", d.Kind, strings.Join(distKinds, ", "))
	}
	return nil
}

// isZero reports whether d was never written.
func (d Dist) isZero() bool {
	return d.Value == 0 && d.Min == 0 && d.Max == 0 && d.Mean == 0 && d.StdDev == 0 && d.Median == 0 &&
		d.P95 == 0 && len(d.Of) == 0 && d.Weight == 0 && d.File == "" && d.Column == "" && len(d.Values) == 0
}

func (d Dist) validateMixture() error {
	if len(d.Of) == 0 {
		return errors.New("mixture needs at least one component under of")
	}
	for i, p := range d.Of {
		if p.Weight <= 0 {
			return fmt.Errorf("of[%d].weight must be > 0, got %g", i, p.Weight)
		}
		if err := p.Validate(); err != nil {
			return fmt.Errorf("of[%d]: %w", i, err)
		}
	}
	return nil
}

// MaxLengthsFileBytes bounds the CSV file of an empirical distribution.
const MaxLengthsFileBytes = 16 << 20

// Load reads the CSV of an empirical distribution (and of every mixture
// component) relative to dir. Distributions without a file are unchanged.
func (d *Dist) Load(dir string) error {
	for i := range d.Of {
		if err := d.Of[i].Load(dir); err != nil {
			return fmt.Errorf("of[%d]: %w", i, err)
		}
	}
	if d.Kind != DistEmpirical || d.File == "" || len(d.Values) > 0 {
		return nil
	}
	path := d.File
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	f, err := inputfile.Open(path, MaxLengthsFileBytes)
	if err != nil {
		return fmt.Errorf("read empirical lengths: %w", err)
	}
	defer f.Close()
	vals, err := readColumn(f, d.Column)
	if err != nil {
		return fmt.Errorf("read empirical lengths %s: %w", d.File, err)
	}
	d.Values = vals
	return nil
}

// readColumn reads the numbers of one CSV column (the first when column is
// empty); a header row is recognised by a non-numeric first field.
func readColumn(r io.Reader, column string) ([]float64, error) {
	recs, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, err
	}
	col := 0
	if len(recs) > 0 {
		if _, err := strconv.ParseFloat(strings.TrimSpace(recs[0][0]), 64); err != nil || column != "" {
			if column != "" {
				if col = slices.Index(recs[0], column); col < 0 {
					return nil, fmt.Errorf("no column %q in header %v", column, recs[0])
				}
			}
			recs = recs[1:]
		}
	}
	vals := make([]float64, 0, len(recs))
	for i, rec := range recs {
		if col >= len(rec) {
			return nil, fmt.Errorf("row %d has no column %d", i+2, col+1)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rec[col]), 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("row %d: %q is not a non-negative number", i+2, rec[col])
		}
		vals = append(vals, v)
	}
	if len(vals) == 0 {
		return nil, errors.New("no values")
	}
	return vals, nil
}

// Sample returns one raw draw from d (not rounded), clamped to [min, max]
// when those are set, and never below 0.
func (d Dist) Sample(rng *rand.Rand) float64 {
	var v float64
	switch d.Kind {
	case DistFixed:
		v = d.Value
	case DistUniform:
		return d.Min + rng.Float64()*(d.Max-d.Min)
	case DistNormal:
		v = d.Mean + rng.NormFloat64()*d.StdDev
	case DistLognormal:
		// median = e^μ, p95 = e^(μ + z95·σ)  ⇒  μ = ln median, σ = ln(p95/median)/z95
		mu := math.Log(d.Median)
		sigma := math.Log(d.P95/d.Median) / z95
		v = math.Exp(mu + sigma*rng.NormFloat64())
	case DistExponential:
		v = rng.ExpFloat64() * d.Mean
	case DistMixture:
		v = d.pick(rng).Sample(rng)
	case DistEmpirical:
		if len(d.Values) > 0 {
			v = d.Values[rng.IntN(len(d.Values))]
		}
	}
	if d.Max > 0 {
		v = min(v, d.Max)
	}
	return max(v, d.Min, 0)
}

// pick chooses a mixture component by weight.
func (d Dist) pick(rng *rand.Rand) Dist {
	var sum float64
	for _, p := range d.Of {
		sum += p.Weight
	}
	u := rng.Float64() * sum
	for _, p := range d.Of {
		if u < p.Weight {
			return p
		}
		u -= p.Weight
	}
	return d.Of[len(d.Of)-1]
}

// DrawTokens returns one token count from d, rounded and clamped to
// [1, limit]; limit <= 0 means DefaultContextTokens.
func (d Dist) DrawTokens(rng *rand.Rand, limit int64) int64 {
	if limit <= 0 {
		limit = DefaultContextTokens
	}
	return min(max(int64(math.Round(d.Sample(rng))), 1), limit)
}

// Draw returns one token count clamped to [1, DefaultContextTokens].
func (d Dist) Draw(rng *rand.Rand) int64 { return d.DrawTokens(rng, 0) }
