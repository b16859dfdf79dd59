package loadgen

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestShapeAt(t *testing.T) {
	t.Parallel()
	hours := make([]float64, 24)
	for h := range hours {
		hours[h] = float64(h)
	}
	run := 10 * time.Minute
	for _, tc := range []struct {
		name string
		s    Shape
		at   time.Duration
		want float64
	}{
		{"constant", Shape{}, 5 * time.Minute, 1},                                                                   // the default
		{"ramp midway", Shape{Kind: ShapeKindRamp, From: 0, To: 2}, 5 * time.Minute, 1},                             // over defaults to the run
		{"ramp holds", Shape{Kind: ShapeKindRamp, From: 1, To: 3, Over: Duration(time.Minute)}, 2 * time.Minute, 3}, // after over
		{"step before", Shape{Kind: ShapeKindStep, Steps: []ShapeStep{{At: Duration(time.Minute), X: 2}}}, 0, 0},
		{"step after", Shape{Kind: ShapeKindStep, Steps: []ShapeStep{{X: 1}, {At: Duration(time.Minute), X: 2}}}, 90 * time.Second, 2},
		{"daily hour 9", Shape{Kind: ShapeKindDaily, Hours: hours, Day: Duration(24 * time.Minute), StartHour: 8}, 90 * time.Second, 9}, // 1 min = 1 h
		{"daily wraps", Shape{Kind: ShapeKindDaily, Hours: hours, Day: Duration(24 * time.Minute), StartHour: 23}, 61 * time.Second, 0},
	} {
		if got := tc.s.At(tc.at, run); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: At(%v) = %g, want %g", tc.name, tc.at, got, tc.want)
		}
	}
}

// TestArrivalsFollowRateAndShape counts arrivals of the three processes,
// shaped and not, against the integral of the rate.
func TestArrivalsFollowRateAndShape(t *testing.T) {
	t.Parallel()
	run := time.Hour
	step := Shape{Kind: ShapeKindStep, Steps: []ShapeStep{{X: 1}, {At: Duration(30 * time.Minute), X: 3}}}
	for _, tc := range []struct {
		name    string
		p       Persona
		want    float64 // expected arrivals in the hour
		tolFrac float64
	}{
		{"poisson", Persona{Rate: 2, Arrival: ArrivalPoisson}, 7200, 0.03},
		{"gamma bursty", Persona{Rate: 2, Arrival: ArrivalGamma, Burstiness: 0.3}, 7200, 0.06},
		{"constant", Persona{Rate: 2, Arrival: ArrivalConstant}, 7200, 0.001},
		{"poisson, step ×1 then ×3", Persona{Rate: 2, Arrival: ArrivalPoisson, Shape: step}, 3600 + 10800, 0.03},
		{"constant, step ×1 then ×3", Persona{Rate: 2, Arrival: ArrivalConstant, Shape: step}, 3600 + 10800, 0.001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Unix(0, 0)
			a := newArrivals(&tc.p, rand.New(rand.NewPCG(7, 8)), start, run)
			n := 0
			for a.next().Sub(start) <= run {
				n++
			}
			if math.Abs(float64(n)-tc.want) > tc.tolFrac*tc.want+1 {
				t.Fatalf("%d arrivals in an hour, want %.0f ±%.1f%%", n, tc.want, tc.tolFrac*100)
			}
		})
	}
}

// TestGammaBurstiness checks the spread of inter-arrival gaps: gamma with
// shape k has a coefficient of variation of 1/√k (Poisson: 1).
func TestGammaBurstiness(t *testing.T) {
	t.Parallel()
	for _, k := range []float64{0.25, 1, 4} {
		p := Persona{Rate: 10, Arrival: ArrivalGamma, Burstiness: k}
		start := time.Unix(0, 0)
		a := newArrivals(&p, rand.New(rand.NewPCG(9, 10)), start, time.Hour)
		prev := start
		var sum, sq float64
		n := 20000
		for range n {
			t := a.next()
			g := t.Sub(prev).Seconds()
			prev = t
			sum += g
			sq += g * g
		}
		mean := sum / float64(n)
		cv := math.Sqrt(sq/float64(n)-mean*mean) / mean
		if want := 1 / math.Sqrt(k); math.Abs(cv-want) > 0.1*want || math.Abs(mean-0.1) > 0.005 {
			t.Errorf("k=%g: mean gap %.4fs, CV %.2f; want 0.1s and %.2f", k, mean, cv, want)
		}
	}
}

func TestHlogTag(t *testing.T) {
	t.Parallel()
	if got := HistogramTag("office users, floor 2\n"); got != "office_users__floor_2_" {
		t.Fatalf("HistogramTag = %q", got)
	}
}
