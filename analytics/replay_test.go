package analytics

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/aiload/aiload/gateway/policy"
)

// A limit above the peak 60 s window throttles nothing, so the shortcut
// must agree with a full replay for every such limit.
func TestReplayAbovePeakAgrees(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 7))
	for trial := 0; trial < 20; trial++ {
		ev := make([]event, 500)
		at := int64(0)
		for i := range ev {
			at += int64(rng.ExpFloat64() * 2e6)
			if rng.IntN(10) == 0 {
				at -= at % 1e6 // some events share an instant
			}
			ev[i] = event{atUS: at, tokens: int64(rng.IntN(3000))}
		}
		peak := peakWindow(ev)
		for _, mode := range []policy.Mode{policy.ModeAPIM, policy.ModeStrict} {
			for _, l := range []int64{peak + 1, peak + 1000, 2 * peak} {
				if got, want := replayAbovePeak(ev, l, peak, mode), replay(ev, l, mode); got != want {
					t.Fatalf("trial %d, %s, limit %d (peak %d): shortcut %+v, replay %+v", trial, mode, l, peak, got, want)
				}
			}
		}
	}
}

// replayFast guides the search; it must agree with the policy-based replay
// on every trace and limit, including events at the same instant, events
// of zero tokens and single requests larger than the limit.
func TestReplayFastAgrees(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 200; trial++ {
		ev := make([]event, 1+rng.IntN(400))
		at := int64(rng.IntN(1e9))
		for i := range ev {
			switch rng.IntN(4) {
			case 0: // same instant as the previous event
			case 1:
				at += 60e6 // exactly one window later
			default:
				at += int64(rng.ExpFloat64() * float64(1+rng.IntN(20)) * 1e6)
			}
			ev[i] = event{atUS: at, tokens: int64(rng.IntN(4000)) * int64(rng.IntN(2))}
		}
		for _, mode := range []policy.Mode{policy.ModeAPIM, policy.ModeStrict} {
			for _, l := range []int64{1, 500, 1000, 2500, 5000, 20000, peakWindow(ev)} {
				want := replay(ev, l, mode)
				if got := replayFast(ev, l, mode, nil, math.MaxInt64); got != want {
					t.Fatalf("trial %d, %s, limit %d: fast %+v, policy %+v", trial, mode, l, got, want)
				}
				// Stopped at the budget of throttled requests, it still tells
				// whether the limit meets the target.
				for _, target := range []float64{0, 0.01, 0.1, 0.5} {
					budget := throttleBudget(int64(len(ev)), target)
					got := replayFast(ev, l, mode, nil, budget).ThrottledRequests <= budget
					if meets := want.RequestShare() <= target; got != meets {
						t.Fatalf("trial %d, %s, limit %d, target %v: stopped replay says %v, policy %+v",
							trial, mode, l, target, got, want)
					}
				}
			}
		}
	}
}
