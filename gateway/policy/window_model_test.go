package policy

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestSlidingWindowAgainstModel drives a window and a plain list of
// charges with the same random charges, adjustments and clock steps (time
// mostly moving on, sometimes a charge stamped in the past, as a settled
// reservation is) and compares what they hold at every step, so the
// window's array reuse never loses or revives a charge.
func TestSlidingWindowAgainstModel(t *testing.T) {
	type charge struct {
		at     time.Time
		tokens int64
	}
	rng := rand.New(rand.NewPCG(1, 2))
	w := NewSlidingWindow(time.Minute)
	var model []charge
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	usedAt := func(at time.Time) int64 {
		var sum int64
		for _, c := range model {
			if at.Sub(c.at) < time.Minute && !c.at.After(at) {
				sum += c.tokens
			}
		}
		return sum
	}
	for step := range 20000 {
		now = now.Add(time.Duration(rng.IntN(2000)) * time.Millisecond)
		switch r := rng.IntN(10); {
		case r < 6:
			tokens := int64(rng.IntN(500) + 1)
			w.Add(now, tokens)
			model = append(model, charge{now, tokens})
		case r < 8 && len(model) > 0:
			// settle an earlier charge still in the window
			c := &model[len(model)-1-rng.IntN(min(len(model), 20))]
			if now.Sub(c.at) >= time.Minute {
				break
			}
			delta := int64(rng.IntN(400)) - 200
			w.Adjust(c.at, delta)
			// Adjust acts on the instant's total; the model spreads it the same way
			var total int64
			for _, m := range model {
				if m.at.Equal(c.at) {
					total += m.tokens
				}
			}
			if delta > 0 {
				model = append(model, charge{c.at, delta})
			} else if dec := min(-delta, total); dec > 0 {
				for i := range model {
					if model[i].at.Equal(c.at) && dec > 0 {
						d := min(dec, model[i].tokens)
						model[i].tokens -= d
						dec -= d
					}
				}
			}
		default:
			// a charge stamped a little in the past
			at := now.Add(-time.Duration(rng.IntN(30)) * time.Second)
			tokens := int64(rng.IntN(300) + 1)
			w.Add(at, tokens)
			if now.Sub(at) < time.Minute {
				model = append(model, charge{at, tokens})
			}
		}
		if got, want := w.Used(now), usedAt(now); got != want {
			t.Fatalf("step %d at %v: window holds %d tokens, the model %d", step, now, got, want)
		}
	}
}
