package loadgen

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Dist is a token-length distribution. In a scenario it is either a bare
// number (fixed) or a mapping:
//
//	{dist: fixed, value: 300}
//	{dist: uniform, min: 100, max: 400}
//	{dist: normal, mean: 300, stddev: 50}
//	{dist: lognormal, median: 400, p95: 1500}
//
// Draws are rounded and clamped to [1, 128000] (a common context size).
type Dist struct {
	Kind   string  `yaml:"dist" json:"dist"`
	Value  float64 `yaml:"value" json:"value,omitempty"`
	Min    float64 `yaml:"min" json:"min,omitempty"`
	Max    float64 `yaml:"max" json:"max,omitempty"`
	Mean   float64 `yaml:"mean" json:"mean,omitempty"`
	StdDev float64 `yaml:"stddev" json:"stddev,omitempty"`
	Median float64 `yaml:"median" json:"median,omitempty"`
	P95    float64 `yaml:"p95" json:"p95,omitempty"`
}

// z95 is the standard normal quantile at 0.95.
const z95 = 1.6448536269514722

// defaultClamp is the upper bound of every draw.
const defaultClamp = 128000

// UnmarshalYAML accepts a bare number as a fixed distribution.
func (d *Dist) UnmarshalYAML(unmarshal func(any) error) error {
	var n float64
	if err := unmarshal(&n); err == nil {
		*d = Dist{Kind: "fixed", Value: n}
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

// Validate checks the parameters of d.
func (d Dist) Validate() error {
	switch d.Kind {
	case "fixed":
		if d.Value < 1 {
			return fmt.Errorf("value must be >= 1, got %g", d.Value)
		}
	case "uniform":
		if d.Min < 1 || d.Max < d.Min {
			return fmt.Errorf("need 1 <= min <= max, got min %g max %g", d.Min, d.Max)
		}
	case "normal":
		if d.Mean < 1 || d.StdDev < 0 {
			return fmt.Errorf("need mean >= 1 and stddev >= 0, got mean %g stddev %g", d.Mean, d.StdDev)
		}
	case "lognormal":
		if d.Median < 1 {
			return fmt.Errorf("median must be >= 1, got %g", d.Median)
		}
		if d.P95 < d.Median {
			return fmt.Errorf("p95 (%g) must not be below the median (%g)", d.P95, d.Median)
		}
	case "":
		return fmt.Errorf("dist must be set (fixed, uniform, normal or lognormal)")
	default:
		return fmt.Errorf("unknown dist %q (want fixed, uniform, normal or lognormal)", d.Kind)
	}
	return nil
}

// Draw returns one length from d using rng.
func (d Dist) Draw(rng *rand.Rand) int64 {
	var v float64
	switch d.Kind {
	case "fixed":
		v = d.Value
	case "uniform":
		v = d.Min + rng.Float64()*(d.Max-d.Min)
	case "normal":
		v = d.Mean + rng.NormFloat64()*d.StdDev
	case "lognormal":
		// median = e^μ, p95 = e^(μ + z95·σ)  ⇒  μ = ln median, σ = ln(p95/median)/z95
		mu := math.Log(d.Median)
		sigma := math.Log(d.P95/d.Median) / z95
		v = math.Exp(mu + sigma*rng.NormFloat64())
	}
	return int64(math.Round(min(max(v, 1), defaultClamp)))
}
