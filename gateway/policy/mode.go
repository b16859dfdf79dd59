package policy

import (
	"fmt"
	"time"
)

// Mode chooses how a token limit admits requests.
type Mode string

const (
	// ModeAPIM reproduces API Management's llm-token-limit: with
	// estimate-prompt-tokens off, a request passes while the window holds
	// fewer tokens than the limit and is charged its reported usage on
	// response, so concurrent requests can over-admit; with estimation on
	// (always for streaming), the estimated prompt must fit.
	ModeAPIM Mode = "apim"
	// ModeStrict reserves prompt + max_tokens at admission and settles the
	// difference on response, so admitted tokens never exceed the limit in
	// any window.
	ModeStrict Mode = "strict"
)

// ParseMode accepts "apim" (or empty) and "strict".
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", ModeAPIM:
		return ModeAPIM, nil
	case ModeStrict:
		return ModeStrict, nil
	}
	return "", fmt.Errorf("must be apim or strict, got %q", s)
}

// Demand is what one request asks of a token counter at admission.
type Demand struct {
	// Need is the room the counter must have: admitted iff used+Need <= limit.
	Need int64
	// Reserve is charged at admission and replaced by the actual usage on
	// response (0: nothing is charged until the response).
	Reserve int64
}

// DemandFor returns the demand of a request with the given (estimated)
// prompt tokens and completion cap:
//
//	apim, no estimation:  Need = 1 (used < limit), Reserve = 0
//	apim, estimation:     Need = max(prompt, 1),   Reserve = prompt
//	strict:               Need = Reserve = prompt + maxOutput
func DemandFor(mode Mode, estimate bool, prompt, maxOutput int64) Demand {
	switch {
	case mode == ModeStrict:
		n := prompt + maxOutput
		return Demand{Need: max(n, 1), Reserve: n}
	case estimate:
		return Demand{Need: max(prompt, 1), Reserve: prompt}
	default:
		return Demand{Need: 1}
	}
}

// CheckDemand decides a request of demand need against a sliding window:
//
//	allowed    = used(now) + need <= limit
//	remaining  = max(0, limit - used(now))
//	retryAfter = time until used falls to limit-need; a full window span
//	             when need alone exceeds the limit (it can never pass)
func CheckDemand(w *SlidingWindow, now time.Time, limit, need int64) Decision {
	used := w.Used(now)
	d := Decision{Limit: limit, Remaining: max(0, limit-used)}
	if used+need <= limit {
		d.Allowed = true
		return d
	}
	if need > limit {
		d.RetryAfter = w.Span()
		return d
	}
	d.RetryAfter = w.WaitUntilBelow(now, limit-need)
	return d
}

// CheckQuota decides a request of demand need against a period quota of
// which used tokens are spent; a rejected request may retry at the end of
// the period.
func CheckQuota(used, quota, need int64, now, periodEnd time.Time) Decision {
	d := Decision{Limit: quota, Remaining: max(0, quota-used)}
	if used+need <= quota {
		d.Allowed = true
		return d
	}
	d.RetryAfter = periodEnd.Sub(now)
	return d
}
