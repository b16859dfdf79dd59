package policy

import "time"

// BreakerRule is a backend circuit breaker rule, as in API Management's
// backend circuitBreaker: a failure condition (a count, or a percentage of
// at least MinRequests, within Interval) and a trip duration.
type BreakerRule struct {
	FailureCount      int
	FailurePercentage float64
	MinRequests       int
	Interval          time.Duration
	TripDuration      time.Duration
	// AcceptRetryAfter trips for the backend's Retry-After when it gives one.
	AcceptRetryAfter bool
}

// outcome is one attempt remembered by a Breaker.
type outcome struct {
	at     time.Time
	failed bool
}

// Breaker is one backend's circuit breaker: closed (traffic flows) or open
// until a moment. After the trip duration it closes again with its history
// cleared. Not safe for concurrent use: callers lock.
type Breaker struct {
	rule      BreakerRule
	openUntil time.Time
	log       []outcome
}

// NewBreaker returns a closed breaker.
func NewBreaker(rule BreakerRule) *Breaker { return &Breaker{rule: rule} }

// Open reports whether the breaker is open at now.
func (b *Breaker) Open(now time.Time) bool { return now.Before(b.openUntil) }

// OpenUntil returns when an open breaker closes (zero when closed).
func (b *Breaker) OpenUntil(now time.Time) time.Time {
	if b.Open(now) {
		return b.openUntil
	}
	return time.Time{}
}

// Record notes an attempt's result and reports whether it tripped the
// breaker. retryAfter is the backend's Retry-After (0 when none).
func (b *Breaker) Record(now time.Time, failed bool, retryAfter time.Duration) bool {
	if b.Open(now) {
		return false
	}
	b.forget(now)
	b.log = append(b.log, outcome{at: now, failed: failed})
	if !failed || !b.condition() {
		return false
	}
	trip := b.rule.TripDuration
	if b.rule.AcceptRetryAfter && retryAfter > 0 {
		trip = retryAfter
	}
	b.openUntil = now.Add(trip)
	b.log = b.log[:0]
	return true
}

func (b *Breaker) forget(now time.Time) {
	i := 0
	for i < len(b.log) && !b.log[i].at.After(now.Add(-b.rule.Interval)) {
		i++
	}
	b.log = append(b.log[:0], b.log[i:]...)
}

// condition is the failure condition over the remembered attempts.
func (b *Breaker) condition() bool {
	failures := 0
	for _, o := range b.log {
		if o.failed {
			failures++
		}
	}
	if b.rule.FailureCount > 0 && failures >= b.rule.FailureCount {
		return true
	}
	if b.rule.FailurePercentage > 0 && len(b.log) >= max(b.rule.MinRequests, 1) {
		return float64(failures)*100 >= b.rule.FailurePercentage*float64(len(b.log))
	}
	return false
}
