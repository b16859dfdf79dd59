package analytics

import (
	"time"

	"github.com/aiload/aiload/gateway/policy"
)

// event is one request of demand: when it arrived and its tokens.
type event struct {
	atUS   int64 // Unix microseconds
	tokens int64
}

// ReplayResult is what a token limit would have done to recorded demand.
type ReplayResult struct {
	LimitTPM int64
	// Requests and Tokens are the demand replayed; Throttled* what the limit
	// would have rejected with 429.
	Requests, Tokens                   int64
	ThrottledRequests, ThrottledTokens int64
}

// RequestShare is the share of requests throttled (0 when there were none).
func (r ReplayResult) RequestShare() float64 { return share(r.ThrottledRequests, r.Requests) }

// TokenShare is the share of demanded tokens throttled.
func (r ReplayResult) TokenShare() float64 { return share(r.ThrottledTokens, r.Tokens) }

func share(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// replay runs events through the gateway's token limit at the given limit,
// in the given mode (policy.ModeAPIM when empty):
//
//   - apim: API Management's llm-token-limit with estimate-prompt-tokens off
//     (policy.CheckUsage): a request passes while the 60 s window holds
//     fewer tokens than the limit;
//   - strict: the gateway's strict mode (policy.CheckDemand with the
//     request's tokens as its demand): a request passes only if it fits.
//     The gateway reserves prompt + max_tokens; records carry the usage of
//     served requests, so the replay reserves the recorded tokens.
//
// An admitted request is charged its tokens at its arrival; a throttled one
// is not charged, and is not retried (retries are not part of demand).
func replay(events []event, limit int64, mode policy.Mode) ReplayResult {
	res := ReplayResult{LimitTPM: limit, Requests: int64(len(events))}
	w := policy.NewSlidingWindow(policy.TPMWindow)
	for _, e := range events {
		res.Tokens += e.tokens
		now := time.UnixMicro(e.atUS)
		var d policy.Decision
		if mode == policy.ModeStrict {
			d = policy.CheckDemand(w, now, limit, policy.DemandFor(policy.ModeStrict, false, e.tokens, 0).Need)
		} else {
			d = policy.CheckUsage(w, now, limit)
		}
		if d.Allowed {
			w.Add(now, e.tokens)
			continue
		}
		res.ThrottledRequests++
		res.ThrottledTokens += e.tokens
	}
	return res
}

// replayFast computes the same result as replay without the policy
// package's general-purpose window (it keeps the admitted charges in a
// queue and drops them SPAN after their arrival, as SlidingWindow.expire
// does). It only guides the search for the recommended limit; every
// reported figure comes from replay. TestReplayFastAgrees holds the two
// together. It stops early, returning the counts so far, once more than
// stopAbove requests were throttled: the search only asks whether a limit
// meets the target, and a limit far too small answers that after a few
// events.
func replayFast(events []event, limit int64, mode policy.Mode, queue []event, stopAbove int64) ReplayResult {
	res := ReplayResult{LimitTPM: limit, Requests: int64(len(events))}
	span := policy.TPMWindow.Microseconds()
	q := queue[:0]
	head := 0
	var used int64
	for _, e := range events {
		res.Tokens += e.tokens
		for head < len(q) && q[head].atUS+span <= e.atUS {
			used -= q[head].tokens
			head++
		}
		if fits(used, e.tokens, limit, mode) {
			if e.tokens > 0 {
				if len(q) == cap(q) && head >= len(q)/2 {
					// Full, and at least half expired: move the live
					// charges to the front instead of growing, so the
					// queue holds about one window, not the whole replay.
					q = q[:copy(q, q[head:])]
					head = 0
				}
				q = append(q, e)
				used += e.tokens
			}
			continue
		}
		res.ThrottledRequests++
		res.ThrottledTokens += e.tokens
		if res.ThrottledRequests > stopAbove {
			return res
		}
	}
	return res
}

// throttleBudget is the most of n requests that may be throttled for a
// share of at most target, as ReplayResult.RequestShare compares it.
func throttleBudget(n int64, target float64) int64 {
	t := max(0, int64(target*float64(n)))
	for t < n && share(t+1, n) <= target {
		t++
	}
	for t >= 0 && share(t, n) > target {
		t--
	}
	return t
}

// fits is the admission rule of replay: used < limit (apim), or
// used + max(tokens, 1) <= limit (strict).
func fits(used, tokens, limit int64, mode policy.Mode) bool {
	if mode == policy.ModeStrict {
		return used+max(tokens, 1) <= limit
	}
	return used < limit
}

// peakWindow returns the most tokens demanded in any 60-second sliding
// window (arrivals in (t-60 s, t]).
func peakWindow(events []event) int64 {
	var peak, sum int64
	j := 0
	span := policy.TPMWindow.Microseconds()
	for _, e := range events {
		sum += e.tokens
		for events[j].atUS+span <= e.atUS {
			sum -= events[j].tokens
			j++
		}
		peak = max(peak, sum)
	}
	return peak
}

// replayAbovePeak is replay, answered without simulation when the limit is
// above the peak 60 s window: when a request arrives the window holds at
// most peak minus its own tokens, so used < limit and also used +
// max(tokens, 1) <= limit: every request passes, in either mode.
func replayAbovePeak(events []event, limit, peak int64, mode policy.Mode) ReplayResult {
	if limit <= peak {
		return replay(events, limit, mode)
	}
	res := ReplayResult{LimitTPM: limit, Requests: int64(len(events))}
	for _, e := range events {
		res.Tokens += e.tokens
	}
	return res
}
