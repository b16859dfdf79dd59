package fit

import "fmt"

// inferThrottle sets OnThrottle and MaxRetries from the retry evidence:
//   - no 429 among its first attempts: nothing to go by, aiload's default
//     (retry_after, 3 retries);
//   - fewer retries than a tenth of its 429s: fail (it gives up);
//   - retries whose median delay is within 0.8–1.5 × the Retry-After they
//     were given, or with no Retry-After recorded: retry_after;
//   - otherwise backoff, from the median delay.
//
// MaxRetries is the longest run of retries seen (at least 1).
func (p *Persona) inferThrottle() {
	p.OnThrottle, p.MaxRetries = "retry_after", 3
	switch {
	case p.Throttled == 0:
		p.ThrottleWhy = "no 429 in the log: aiload's default"
		return
	case float64(p.Retries) < 0.1*float64(p.Throttled):
		p.OnThrottle, p.MaxRetries = "fail", 0
		p.ThrottleWhy = fmt.Sprintf("%d requests got a 429, %d retries followed", p.Throttled, p.Retries)
		return
	}
	p.MaxRetries = max(1, p.LongestChain)
	if !p.DelayRatio.Valid || (p.DelayRatio.Float64 >= 0.8 && p.DelayRatio.Float64 <= 1.5) {
		p.ThrottleWhy = fmt.Sprintf("%d retries after %d 429s, waiting about the Retry-After", p.Retries, p.Throttled)
		return
	}
	p.OnThrottle = "backoff"
	p.ThrottleWhy = fmt.Sprintf("%d retries after %d 429s, median delay %.1f s, %.1f × the Retry-After",
		p.Retries, p.Throttled, p.MedianDelay.Float64, p.DelayRatio.Float64)
}
