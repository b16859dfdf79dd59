package gateway

import (
	"context"
	"strconv"
	"time"
)

// Retry is API Management's <retry> around forward-request: which backend
// answers are tried again, how often and after what wait. Without it the
// gateway makes one attempt and the caller gets that backend's answer,
// 429 and 5xx included, as API Management without <retry> does.
type Retry struct {
	// StatusCodes are the backend statuses retried: "429", "500-599"
	// (default both), <retry>'s condition on context.Response.StatusCode.
	// A connection failure or timeout is always retried.
	StatusCodes []string `yaml:"status_codes" json:"status_codes,omitempty"`
	// Count is how many times a request is tried again (1-50): at most
	// Count+1 attempts.
	Count int `yaml:"count" json:"count"`
	// Interval is the wait before each retry (default 0).
	Interval time.Duration `yaml:"interval" json:"interval,omitempty"`
	// Delta, when set, makes the waits grow: Interval + (n-1)·Delta before
	// the n-th retry, or with MaxInterval set Interval + (2^n - 1)·Delta,
	// capped at MaxInterval (API Management draws the exponential delta
	// between 0.8 and 1.2 times Delta; the gateway takes Delta itself, so
	// runs repeat).
	Delta time.Duration `yaml:"delta" json:"delta,omitempty"`
	// MaxInterval caps the exponential waits.
	MaxInterval time.Duration `yaml:"max_interval" json:"max_interval,omitempty"`
	// FirstFastRetry makes the first retry at once, whatever the interval.
	FirstFastRetry bool `yaml:"first_fast_retry" json:"first_fast_retry,omitempty"`
}

// validate adds the problems of r at path.
func (r *Retry) validate(errs *problems, path string) {
	if r.Count < 1 || r.Count > 50 {
		errs.add(path+".count", "must be within [1, 50], got %d", r.Count)
	}
	for name, d := range map[string]time.Duration{"interval": r.Interval, "delta": r.Delta, "max_interval": r.MaxInterval} {
		if d < 0 {
			errs.add(path+"."+name, "must be >= 0, got %s", d)
		}
	}
	if r.MaxInterval > 0 && r.MaxInterval < r.Interval {
		errs.add(path+".max_interval", "must be >= interval (%s), got %s", r.Interval, r.MaxInterval)
	}
	for i, s := range r.StatusCodes {
		if _, _, err := parseStatusRange(s); err != nil {
			errs.add(path+".status_codes["+strconv.Itoa(i)+"]", "%v", err)
		}
	}
}

// retrier is a compiled Retry.
type retrier struct {
	cfg      Retry
	statuses [][2]int
}

func newRetrier(r *Retry) *retrier {
	if r == nil {
		return nil
	}
	rt := &retrier{cfg: *r}
	codes := r.StatusCodes
	if len(codes) == 0 {
		codes = []string{"429", "500-599"}
	}
	for _, s := range codes {
		lo, hi, _ := parseStatusRange(s)
		rt.statuses = append(rt.statuses, [2]int{lo, hi})
	}
	return rt
}

// again reports whether an attempt that answered status (0: no answer)
// is tried again after retries retries so far.
func (r *retrier) again(retries, status int) bool {
	if r == nil || retries >= r.cfg.Count {
		return false
	}
	if status == 0 {
		return true
	}
	for _, s := range r.statuses {
		if status >= s[0] && status <= s[1] {
			return true
		}
	}
	return false
}

// wait is the pause before retry n (1 for the first; 0 for n = 0).
func (r *retrier) wait(n int) time.Duration {
	if r == nil || n == 0 {
		return 0
	}
	c := r.cfg
	switch {
	case n == 1 && c.FirstFastRetry:
		return 0
	case c.Delta == 0:
		return c.Interval
	case c.MaxInterval == 0:
		return c.Interval + time.Duration(n-1)*c.Delta
	}
	d := c.Interval + time.Duration((int64(1)<<min(n, 40))-1)*c.Delta
	if d > c.MaxInterval || d < 0 {
		return c.MaxInterval
	}
	return d
}

// sleepWall waits d on the wall clock or until ctx ends.
func sleepWall(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
