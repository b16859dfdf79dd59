package calibrate

import (
	"math"
	"slices"

	"github.com/aiload/aiload/gateway/mockllm"
)

// linearFit is y = coef[0] + Σ coef[j+1]·x[j], fitted by least squares.
type linearFit struct {
	coef      []float64
	residuals []float64
}

// fitLinear fits y against the regressors xs (one slice per regressor,
// each as long as y) by ordinary least squares with an intercept. A
// regressor that barely varies (relative spread under 1 %) cannot be told
// from the intercept and gets coefficient 0.
//
//	minimise Σ (y_i − b0 − Σ_j b_j·x_ij)²   ⇒   (XᵀX) b = Xᵀy
func fitLinear(y []float64, xs ...[]float64) linearFit {
	used := []int{}
	for j, x := range xs {
		if varies(x) {
			used = append(used, j)
		}
	}
	k := len(used) + 1
	row := func(i int) []float64 {
		r := make([]float64, k)
		r[0] = 1
		for c, j := range used {
			r[c+1] = xs[j][i]
		}
		return r
	}
	ata := make([][]float64, k)
	for i := range ata {
		ata[i] = make([]float64, k+1) // augmented with Xᵀy
	}
	for i := range y {
		r := row(i)
		for a := range k {
			for b := range k {
				ata[a][b] += r[a] * r[b]
			}
			ata[a][k] += r[a] * y[i]
		}
	}
	b := solve(ata)
	f := linearFit{coef: make([]float64, len(xs)+1)}
	if b == nil { // singular: the mean alone
		b = make([]float64, k)
		b[0] = mean(y)
	}
	f.coef[0] = b[0]
	for c, j := range used {
		f.coef[j+1] = b[c+1]
	}
	f.residuals = make([]float64, len(y))
	for i := range y {
		p := f.coef[0]
		for j, x := range xs {
			p += f.coef[j+1] * x[i]
		}
		f.residuals[i] = y[i] - p
	}
	return f
}

// varies reports whether x spreads by more than 1 % of its magnitude.
func varies(x []float64) bool {
	if len(x) < 3 {
		return false
	}
	sd, m := stddev(x), mean(x)
	return sd > 0.01*math.Max(math.Abs(m), 1e-9)
}

// solve solves an augmented k×(k+1) system by Gaussian elimination with
// partial pivoting; nil when it is singular.
func solve(a [][]float64) []float64 {
	k := len(a)
	for c := range k {
		p := c
		for r := c + 1; r < k; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		if math.Abs(a[p][c]) < 1e-12 {
			return nil
		}
		a[c], a[p] = a[p], a[c]
		for r := range k {
			if r == c {
				continue
			}
			f := a[r][c] / a[c][c]
			for j := c; j <= k; j++ {
				a[r][j] -= f * a[c][j]
			}
		}
	}
	out := make([]float64, k)
	for c := range k {
		out[c] = a[c][k] / a[c][c]
	}
	return out
}

func mean(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

func stddev(x []float64) float64 {
	if len(x) < 2 {
		return 0
	}
	m, s := mean(x), 0.0
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return math.Sqrt(s / float64(len(x)-1))
}

// percentiles returns the 0th to 100th percentiles of x
// (mockllm.QuantileCount values, linear interpolation between order
// statistics); nil for no values.
func percentiles(x []float64) []float64 {
	if len(x) == 0 {
		return nil
	}
	s := slices.Clone(x)
	slices.Sort(s)
	out := make([]float64, mockllm.QuantileCount)
	for i := range out {
		out[i] = round3(at(s, float64(i)/float64(len(out)-1)))
	}
	return out
}

// at is the q-quantile of sorted s.
func at(s []float64, q float64) float64 {
	x := q * float64(len(s)-1)
	i := int(x)
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[i] + (x-float64(i))*(s[i+1]-s[i])
}

// summarise describes x in brief.
func summarise(x []float64) mockllm.Summary {
	if len(x) == 0 {
		return mockllm.Summary{}
	}
	s := slices.Clone(x)
	slices.Sort(s)
	return mockllm.Summary{Count: int64(len(s)), Mean: round3(mean(s)), P50: round3(at(s, 0.5)),
		P95: round3(at(s, 0.95)), P99: round3(at(s, 0.99)), Max: round3(s[len(s)-1])}
}

// round3 rounds to three decimals (microseconds, for milliseconds), so
// files stay readable.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// latencyModel fits y (ms) against prompt and completion lengths.
func latencyModel(y, prompt, completion []float64) mockllm.LatencyModel {
	if len(y) == 0 {
		return mockllm.LatencyModel{Residuals: make([]float64, mockllm.QuantileCount)}
	}
	f := fitLinear(y, prompt, completion)
	return mockllm.LatencyModel{Intercept: round6(f.coef[0]), PerPromptToken: round6(f.coef[1]),
		PerCompletionToken: round6(f.coef[2]), ResidualStdDev: round3(stddev(f.residuals)),
		Residuals: percentiles(f.residuals), Observed: summarise(y)}
}

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }
