package analytics

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway/policy"
)

// replayOf replays events with one caller for all.
func replayOf(ev []event, c Caller, rule replayRule, limit int64) ReplayResult {
	rp := &replayer{events: ev, callers: []Caller{c}, rule: rule}
	return rp.replay(limit, 1<<62)
}

var (
	apim      = replayRule{mode: policy.ModeAPIM}
	apimEst   = replayRule{mode: policy.ModeAPIM, estimate: true}
	strict    = replayRule{mode: policy.ModeStrict}
	giveUp    = Caller{OnThrottle: CallerFail}
	retryTwo  = Caller{OnThrottle: CallerRetryAfter, MaxRetries: 2}
	backoffer = Caller{OnThrottle: CallerBackoff, MaxRetries: 3, BackoffInitial: time.Second, BackoffMax: 30 * time.Second}
)

// In apim mode with estimation off the gateway checks at arrival and
// charges when the answer completes: a request arriving while a large one
// is still in flight passes (the window is empty), and the one after the
// large answer completed is refused until it expires. Limit 1,000:
//
//	0 s   1,000 tokens, answered at 30 s → charged at 30 s
//	10 s  10 tokens, answered at once   → passes (window empty), charged at 10 s
//	40 s  10 tokens                     → window 1,010: refused; Retry-After
//	      is until it falls to 999: the 10 s charge expires at 70 s (1,000
//	      left), the 30 s one at 90 s → 50 s; the retry at 90 s passes.
func TestReplayChargesAtCompletion(t *testing.T) {
	t.Parallel()
	ev := []event{{atUS: 0, latUS: 30e6, tokens: 1000, charge: 1000}, {atUS: 10e6, tokens: 10, charge: 10},
		{atUS: 40e6, tokens: 10, charge: 10}}
	for _, tc := range []struct {
		caller Caller
		want   ReplayResult
	}{
		// The retry after Retry-After passes.
		{retryTwo, ReplayResult{LimitTPM: 1000, Requests: 3, Tokens: 1020, ThrottledRequests: 1, ThrottledTokens: 10, Retries: 1}},
		// A caller that gives up loses the request.
		{giveUp, ReplayResult{LimitTPM: 1000, Requests: 3, Tokens: 1020, ThrottledRequests: 1, ThrottledTokens: 10,
			GaveUpRequests: 1, GaveUpTokens: 10}},
	} {
		if got := replayOf(ev, tc.caller, apim, 1000); got != tc.want {
			t.Errorf("%s: got %+v\nwant %+v", tc.caller, got, tc.want)
		}
	}
	// Charged at arrival (no latency), the second request is refused too.
	noLatency := []event{{atUS: 0, tokens: 1000, charge: 1000}, {atUS: 10e6, tokens: 10, charge: 10}, {atUS: 40e6, tokens: 10, charge: 10}}
	if got := replayOf(noLatency, giveUp, apim, 1000); got.ThrottledRequests != 2 {
		t.Errorf("without latency: %+v; want both later requests refused", got)
	}
}

// With estimation on (and for every stream) the estimated prompt must fit
// and is reserved at arrival, then settled to the usage at the arrival
// instant when the answer completes; strict mode reserves the whole
// request. Limit 1,000:
//
//	0 s   prompt 600, usage 1,000, answered at 30 s
//	10 s  prompt 500                → estimate: 600 + 500 > 1,000, refused
//	40 s  prompt 100                → the 0 s charge is now 1,000: refused
//	61 s  prompt 100                → it expired at 60 s: passes
//
// Strict reserves 1,000 at 0 s, so the same two are refused.
func TestReplayReservesAndSettles(t *testing.T) {
	t.Parallel()
	ev := []event{{atUS: 0, latUS: 30e6, tokens: 1000, charge: 1000, prompt: 600}, {atUS: 10e6, tokens: 500, charge: 500, prompt: 500},
		{atUS: 40e6, tokens: 200, charge: 200, prompt: 100}, {atUS: 61e6, tokens: 200, charge: 200, prompt: 100}}
	for _, rule := range []replayRule{apimEst, strict} {
		got := replayOf(ev, giveUp, rule, 1000)
		if got.ThrottledRequests != 2 || got.ThrottledTokens != 700 {
			t.Errorf("%+v: %+v; want the requests at 10 s and 40 s refused", rule, got)
		}
	}
	// A stream is estimated whatever the rule says.
	streams := append([]event(nil), ev...)
	for i := range streams {
		streams[i].flags |= evStream
	}
	if got := replayOf(streams, giveUp, apim, 1000); got.ThrottledRequests != 2 {
		t.Errorf("streams: %+v; want 2 refused", got)
	}
	// Without estimation the 10 s request passes (nothing is charged until
	// 30 s) and its 500 tokens, with the 1,000 charged at 30 s, refuse the
	// requests at 40 s and 61 s.
	if got := replayOf(ev, giveUp, apim, 1000); got.ThrottledRequests != 2 || got.ThrottledTokens != 400 {
		t.Errorf("apim: %+v; want the requests at 40 s and 61 s refused", got)
	}
}

// A request refused by a quota in the records stays refused at any limit
// and is not retried.
func TestReplayQuotaRefusals(t *testing.T) {
	t.Parallel()
	ev := []event{{atUS: 0, tokens: 100, charge: 100}, {atUS: 1e6, tokens: 100, flags: evQuota}}
	rp := &replayer{events: ev, callers: []Caller{retryTwo}, rule: apim}
	for _, limit := range []int64{1, 1000, 1 << 40} {
		// At every limit the first request passes (the window is empty) and
		// the second is refused by its quota, once.
		got := rp.replayAbovePeak(limit, rp.peakWindow())
		want := ReplayResult{LimitTPM: limit, Requests: 2, Tokens: 200, ThrottledRequests: 1, ThrottledTokens: 100,
			GaveUpRequests: 1, GaveUpTokens: 100}
		if got != want {
			t.Errorf("limit %d: %+v; want %+v", limit, got, want)
		}
	}
}

// randomTrace draws events with latencies, streams and shared instants.
func randomTrace(rng *rand.Rand, n int) []event {
	ev := make([]event, n)
	at := int64(rng.IntN(1e9))
	for i := range ev {
		switch rng.IntN(4) {
		case 0: // same instant as the previous event
		case 1:
			at += 60e6 // exactly one window later
		default:
			at += int64(rng.ExpFloat64() * float64(1+rng.IntN(20)) * 1e6)
		}
		tok := int32(rng.IntN(4000)) * int32(rng.IntN(2))
		ev[i] = event{atUS: at, latUS: int32(rng.IntN(3)) * int32(rng.IntN(20e6)), tokens: tok, charge: tok, prompt: tok / 2}
		if rng.IntN(5) == 0 {
			ev[i].flags |= evStream
		}
	}
	return ev
}

// Above the peak window nothing is refused, so the shortcut must agree
// with a full replay for every such limit, in every mode and with callers
// in the loop; and a replay stopped at the budget of refusals must tell
// whether the limit meets the target as the full replay does.
func TestReplayShortcutsAgree(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 200; trial++ {
		ev := randomTrace(rng, 1+rng.IntN(400))
		for _, rule := range []replayRule{apim, apimEst, strict} {
			for _, c := range []Caller{giveUp, retryTwo, backoffer} {
				rp := &replayer{events: ev, callers: []Caller{c}, rule: rule}
				peak := rp.peakWindow()
				for _, l := range []int64{peak + 1, 2*peak + 1} {
					if got, want := rp.replayAbovePeak(l, peak), rp.replay(l, 1<<62); got != want {
						t.Fatalf("trial %d, %+v, %s, limit %d (peak %d): shortcut %+v, replay %+v", trial, rule, c, l, peak, got, want)
					}
				}
				for _, l := range []int64{1, 500, 2500, 20000, peak} {
					want := rp.replay(l, 1<<62)
					for _, target := range []float64{0, 0.01, 0.1, 0.5} {
						budget := throttleBudget(int64(len(ev)), target)
						rp.native = true // as the search runs it
						got := rp.replay(l, budget).ThrottledRequests <= budget
						rp.native = false
						if meets := want.RequestShare() <= target; got != meets {
							t.Fatalf("trial %d, %+v, limit %d, target %v: stopped replay says %v, full %+v", trial, rule, l, target, got, want)
						}
					}
				}
			}
		}
	}
}

// A near-limit consumer whose callers retry spirals: with evenly spaced
// requests just under the limit, charging at completion and retrying
// after Retry-After refuses more first attempts than giving up does.
func TestReplayRetriesFeedBack(t *testing.T) {
	t.Parallel()
	ev := make([]event, 600)
	for i := range ev {
		ev[i] = event{atUS: int64(i) * 3e6, latUS: 2e6, tokens: 500, charge: 500} // 10,000 TPM offered
	}
	fail, retry := replayOf(ev, giveUp, apim, 9000), replayOf(ev, retryTwo, apim, 9000)
	if retry.Retries == 0 || retry.ThrottledRequests <= fail.ThrottledRequests {
		t.Errorf("retrying callers: %+v; giving up: %+v; want retries that refuse more first attempts", retry, fail)
	}
	if a, b := replayOf(ev, backoffer, apim, 9000), replayOf(ev, backoffer, apim, 9000); a != b {
		t.Errorf("backoff replays differ: %+v, %+v", a, b)
	}
}

// The native window steers the search and fills the interval; it must
// agree with the policy's window on every trace, rule, caller and limit,
// block counts included.
func TestNativeWindowAgrees(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 300; trial++ {
		ev := randomTrace(rng, 1+rng.IntN(400))
		for i := range ev {
			if rng.IntN(30) == 0 {
				ev[i].flags |= evQuota
			}
			if rng.IntN(5) == 0 {
				ev[i].charge = int32(rng.IntN(5000)) // usage above or below the reservation
			}
		}
		for _, rule := range []replayRule{apim, apimEst, strict} {
			for _, c := range []Caller{giveUp, retryTwo, backoffer} {
				peak := (&replayer{events: ev, rule: rule}).peakWindow()
				for _, l := range []int64{1, 500, 2500, 5000, 20000, peak} {
					var got [2]ReplayResult
					var blocks [2][]blockCounts
					for k, native := range []bool{false, true} {
						rp := &replayer{events: ev, callers: []Caller{c}, rule: rule, native: native,
							blocks: make([]blockCounts, 10), blockOrigin: ev[0].atUS, blockSpan: 60e6}
						got[k], blocks[k] = rp.replay(l, 1<<62), rp.blocks
					}
					if got[0] != got[1] || fmt.Sprint(blocks[0]) != fmt.Sprint(blocks[1]) {
						t.Fatalf("trial %d, %+v, %s, limit %d:\npolicy %+v %v\nnative %+v %v", trial, rule, c, l,
							got[0], blocks[0], got[1], blocks[1])
					}
				}
			}
		}
	}
}
