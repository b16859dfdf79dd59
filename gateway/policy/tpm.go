package policy

import (
	"math"
	"time"
)

// Decision is the answer of a token limit to one request.
type Decision struct {
	// Allowed is false when the request must be rejected with 429.
	Allowed bool
	// Limit is the tokens-per-minute limit that applied.
	Limit int64
	// Remaining is the tokens left in the window (never negative).
	Remaining int64
	// RetryAfter is how long until a request may pass again; 0 when Allowed.
	RetryAfter time.Duration
}

// RetryAfterSeconds rounds d up to whole seconds, at least 1, as the
// Retry-After header carries it.
func RetryAfterSeconds(d time.Duration) int64 {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

// RetryAfterMillis rounds d up to whole milliseconds, at least 1, as the
// retry-after-ms header carries it. OpenAI's SDKs read it before
// Retry-After; the Node SDK ignores values of 60,000 or more, so a wait of
// 59.7 s must be sent as 59700, not rounded up to a whole minute.
func RetryAfterMillis(d time.Duration) int64 {
	ms := int64(d / time.Millisecond)
	if d%time.Millisecond > 0 {
		ms++
	}
	return max(ms, 1)
}

// CheckUsage is API Management's llm-token-limit decision with
// estimate-prompt-tokens="false": the window counts the usage reported by
// the backend; a request passes while the window holds fewer tokens than the
// limit (so the request that crosses the limit still passes), and once the
// window is full every request is rejected until enough charges expire to
// bring it below the limit again.
//
//	allowed    = used(now) < limit
//	remaining  = max(0, limit - used(now))
//	retryAfter = time until used falls to limit-1 (0 when allowed)
func CheckUsage(w *SlidingWindow, now time.Time, limit int64) Decision {
	return CheckDemand(w, now, limit, 1)
}
