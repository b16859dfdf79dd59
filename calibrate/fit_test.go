package calibrate

import (
	"math"
	"testing"
)

func TestFitLinearRecoversCoefficients(t *testing.T) {
	t.Parallel()
	// y = 100 + 0.05·p + 0.01·c exactly; then a constant regressor
	var y, p, c, k []float64
	for i := range 50 {
		pi, ci := float64(200+17*i), float64(100+(i*37)%90)
		p, c, k = append(p, pi), append(c, ci), append(k, 7)
		y = append(y, 100+0.05*pi+0.01*ci)
	}
	f := fitLinear(y, p, c, k)
	want := []float64{100, 0.05, 0.01, 0}
	for i, w := range want {
		if math.Abs(f.coef[i]-w) > 1e-6 {
			t.Errorf("coef[%d] = %g, want %g", i, f.coef[i], w)
		}
	}
	for i, r := range f.residuals {
		if math.Abs(r) > 1e-6 {
			t.Fatalf("residual %d = %g, want 0", i, r)
		}
	}
}

func TestPercentilesInterpolate(t *testing.T) {
	t.Parallel()
	q := percentiles([]float64{4, 0, 2}) // sorted 0, 2, 4
	if len(q) != 101 || q[0] != 0 || q[50] != 2 || q[100] != 4 || q[25] != 1 {
		t.Fatalf("percentiles = %v", q)
	}
}
