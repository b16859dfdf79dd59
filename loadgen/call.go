package loadgen

import (
	"math/rand/v2"
	"net/http"
	"time"
)

// call is one logical request of a user: its attempts share the messages
// and max_tokens (unless degraded) and its intended start time.
type call struct {
	p      *Persona
	col    *collector // the persona's
	sub    SubKey
	subCol *collector
	userID string
	src    string // a nat user's source address ("" for the default)
	bearer string // the user's own token (user_jwt), else the target's
	model  string
	client *http.Client
	rng    *rand.Rand // the user's (not shared across goroutines)
	// intended is when the first attempt should have been sent.
	intended time.Time
}

// callResult is how a logical request ended.
type callResult struct {
	ok       bool
	degraded bool
	content  string
	counted  int64 // content's tokens, when an in-process gateway said (else -1)
	usage    usage
	// remaining and limit are the last rate-limit headers seen (-1 unknown).
	remaining, limit int64
	intended, end    time.Time
	ttft             time.Duration
	// throttleDelay is the time lost to throttling: from the intended
	// start to the start of the successful attempt, when a 429 came first.
	throttleDelay time.Duration
	// cut is set when the run ended while a retry was waiting.
	cut bool
}

// collect applies f to the persona's and the subscription's collectors.
func (e *engine) collect(c *call, f func(*collector)) {
	f(c.col)
	f(c.subCol)
}

// run makes the attempts of one request according to the persona's
// on_throttle policy. Attempts are scheduled by intended time: the first
// at c.intended, a retry at the 429's arrival plus the wait.
func (e *engine) run(c *call, msgs []message, maxTokens int64) callResult {
	res := callResult{intended: c.intended, remaining: -1, limit: -1}
	e.collect(c, func(col *collector) { col.add(func(s *Stats) { s.Requests++ }) })
	intended := c.intended
	throttled := false
	for n := 1; ; n++ {
		a := &attempt{intended: intended, utilization: -1}
		r := e.do(e.inflight, c, msgs, maxTokens, a, n)
		e.collect(c, func(col *collector) { col.done(a) })
		e.observe(c, a, maxTokens, r)
		end := a.sent.Add(a.latency)
		if r.remaining >= 0 {
			res.remaining, res.limit = r.remaining, r.limit
		}
		if a.status == http.StatusOK {
			res.ok, res.content, res.usage, res.end, res.ttft = true, r.content, a.usage, end, a.ttft
			res.counted = r.counted
			if throttled {
				res.throttleDelay = a.sent.Sub(c.intended)
			}
			break
		}
		res.end = end
		if a.status != http.StatusTooManyRequests {
			break
		}
		throttled = true
		wait, ok := e.retryPlan(c, n, r.retryAfter)
		if !ok {
			break
		}
		switch c.p.OnThrottle {
		case ThrottleDegrade:
			msgs, maxTokens = degrade(msgs), max(maxTokens/2, 1)
			res.degraded = true
		case ThrottleRotate:
			e.rotate(c)
		}
		intended = end.Add(wait)
		if !e.tb.sleepUntil(intended) {
			res.cut = true
			break
		}
		e.collect(c, func(col *collector) {
			col.add(func(s *Stats) { s.Retries++; s.RetryWaitSeconds += wait.Seconds() })
		})
	}
	if !res.ok {
		res.throttleDelay = res.end.Sub(c.intended)
	}
	e.collect(c, func(col *collector) { col.request(&res, c.p.SLO) })
	return res
}

// retryPlan says whether attempt n's 429 is retried and after how long.
func (e *engine) retryPlan(c *call, n int, retryAfter time.Duration) (time.Duration, bool) {
	switch c.p.OnThrottle {
	case ThrottleFail:
		return 0, false
	case ThrottleDegrade:
		return retryAfter, n == 1
	case ThrottleRotate:
		return 0, n <= *c.p.MaxRetries
	case ThrottleBackoff:
		if n > *c.p.MaxRetries {
			return 0, false
		}
		ceil := c.p.Backoff.Max.D()
		if n <= 30 { // beyond, the doubling has long passed any max
			ceil = min(ceil, c.p.Backoff.Initial.D()<<(n-1))
		}
		return time.Duration(c.rng.Float64() * float64(ceil)), true
	}
	return retryAfter, n <= *c.p.MaxRetries
}

// rotate moves the caller to the next key of its persona's pool.
func (e *engine) rotate(c *call) {
	keys := c.p.Keys
	i := 0
	for j, k := range keys {
		if k == c.sub {
			i = j
		}
	}
	c.sub = keys[(i+1)%len(keys)]
	c.subCol = e.subs[c.sub.ID]
}

// degrade keeps the system message and the last message only.
func degrade(msgs []message) []message {
	if len(msgs) <= 2 {
		return msgs
	}
	return []message{msgs[0], msgs[len(msgs)-1]}
}
