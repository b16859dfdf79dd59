package gateway

import (
	"cmp"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aiload/aiload/gateway/chat"
	"github.com/aiload/aiload/gateway/policy"
)

// member is one backend of the pool with its breaker.
type member struct {
	cfg      Backend
	url      string
	breaker  *policy.Breaker
	failures [][2]int // failing status ranges
	// inProcess answers Gateway.Call's requests in process (nil: none).
	inProcess chat.Caller
	cred      credential // the gateway's own credential for this backend
	current   int        // smooth weighted round-robin state
}

// pool picks backends: the highest priority group (1) whose backends are not
// all tripped, and within a group by weight (smooth weighted round-robin).
type pool struct {
	mu      sync.Mutex
	members []*member // sorted by priority, stable
}

// compileBreaker checks and compiles a circuit breaker rule; its errors
// are *FieldError with paths relative to the rule, joined.
func compileBreaker(cb *CircuitBreaker) (policy.BreakerRule, error) {
	r := policy.BreakerRule{FailureCount: cb.FailureCount, FailurePercentage: cb.FailurePercentage,
		MinRequests: cmp.Or(cb.MinRequests, 10), Interval: cmp.Or(cb.Interval, 10*time.Second),
		TripDuration: cmp.Or(cb.TripDuration, 30*time.Second), AcceptRetryAfter: cb.AcceptRetryAfter}
	var errs []error
	bad := func(path, msg string) { errs = append(errs, &FieldError{Path: path, Msg: msg}) }
	if cb.FailureCount < 0 {
		bad("failure_count", "must be >= 0")
	}
	if cb.FailurePercentage < 0 || cb.FailurePercentage > 100 {
		bad("failure_percentage", "must be within [0, 100]")
	}
	if cb.FailureCount == 0 && cb.FailurePercentage == 0 {
		bad("failure_count", "set failure_count or failure_percentage")
	}
	if cb.Interval < 0 {
		bad("interval", "must be >= 0")
	}
	if cb.TripDuration < 0 {
		bad("trip_duration", "must be >= 0")
	}
	if cb.MinRequests < 0 {
		bad("min_requests", "must be >= 0")
	}
	for i, s := range cb.StatusRanges {
		if _, _, err := parseStatusRange(s); err != nil {
			bad(fmt.Sprintf("status_ranges[%d]", i), err.Error())
		}
	}
	return r, errors.Join(errs...)
}

func newPool(backends []Backend, urls map[string]string, fallback string, inProcess map[string]chat.Caller) (*pool, error) {
	p := &pool{}
	for _, b := range backends {
		m := &member{cfg: b, url: strings.TrimRight(b.URL, "/")}
		if u := urls[b.Name]; u != "" {
			m.url = strings.TrimRight(u, "/")
		}
		if m.url == "" {
			m.url = strings.TrimRight(fallback, "/")
		}
		if m.url == "" {
			return nil, fmt.Errorf("backend %q: url must be set (or a mock started for it)", b.Name)
		}
		m.inProcess = inProcess[m.url]
		ranges := []string{"429", "500-599"}
		if cb := b.CircuitBreaker; cb != nil {
			rule, err := compileBreaker(cb)
			if err != nil {
				return nil, fmt.Errorf("backend %q: circuit_breaker: %w", b.Name, err)
			}
			m.breaker = policy.NewBreaker(rule)
			if len(cb.StatusRanges) > 0 {
				ranges = cb.StatusRanges
			}
		}
		for _, s := range ranges {
			lo, hi, _ := parseStatusRange(s)
			m.failures = append(m.failures, [2]int{lo, hi})
		}
		p.members = append(p.members, m)
	}
	sort.SliceStable(p.members, func(i, j int) bool { return p.members[i].cfg.Priority < p.members[j].cfg.Priority })
	return p, nil
}

// pick returns the next backend to try at now, skipping those whose
// breaker is open, and whether any backend was skipped because its breaker
// is open. It returns nil when none is left.
func (p *pool) pick(now time.Time, deployment string) (*member, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sawOpen := false
	for i := 0; i < len(p.members); {
		prio := p.members[i].cfg.Priority
		var group []*member
		for ; i < len(p.members) && p.members[i].cfg.Priority == prio; i++ {
			m := p.members[i]
			if !m.serves(deployment) {
				continue
			}
			if m.breaker != nil && m.breaker.Open(now) {
				sawOpen = true
				continue
			}
			group = append(group, m)
		}
		if len(group) > 0 {
			return swrr(group), sawOpen
		}
	}
	return nil, sawOpen
}

// swrr is nginx's smooth weighted round-robin over group.
func swrr(group []*member) *member {
	total := 0
	var best *member
	for _, m := range group {
		m.current += m.cfg.Weight
		total += m.cfg.Weight
		if best == nil || m.current > best.current {
			best = m
		}
	}
	best.current -= total
	return best
}

func (m *member) serves(deployment string) bool {
	if len(m.cfg.Deployments) == 0 || deployment == "" {
		return true
	}
	for _, d := range m.cfg.Deployments {
		if strings.EqualFold(d, deployment) {
			return true
		}
	}
	return false
}

// failing reports whether a backend status counts as a failure.
func (m *member) failing(status int) bool {
	for _, r := range m.failures {
		if status >= r[0] && status <= r[1] {
			return true
		}
	}
	return false
}

// report feeds an attempt's result to the breaker and reports whether it
// tripped.
func (p *pool) report(m *member, now time.Time, failed bool, retryAfter time.Duration) bool {
	if m.breaker == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return m.breaker.Record(now, failed, retryAfter)
}

// known reports whether some backend serves deployment.
func (p *pool) known(deployment string) bool {
	for _, m := range p.members {
		if m.serves(deployment) {
			return true
		}
	}
	return false
}

// byName returns the member named name (nil: none).
func (p *pool) byName(name string) *member {
	for _, m := range p.members {
		if m.cfg.Name == name {
			return m
		}
	}
	return nil
}

// states returns each backend's breaker state at now (1 open, 0 closed).
func (p *pool) states(now time.Time) map[string]float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]float64{}
	for _, m := range p.members {
		out[m.cfg.Name] = 0
		if m.breaker != nil && m.breaker.Open(now) {
			out[m.cfg.Name] = 1
		}
	}
	return out
}

// retryAfter parses a backend's retry-after-ms or Retry-After (seconds).
func retryAfter(h interface{ Get(string) string }) time.Duration {
	if v := h.Get("retry-after-ms"); v != "" {
		var ms float64
		if _, err := fmt.Sscanf(v, "%g", &ms); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	if v := h.Get("Retry-After"); v != "" {
		var s float64
		if _, err := fmt.Sscanf(v, "%g", &s); err == nil && s > 0 {
			return time.Duration(s * float64(time.Second))
		}
	}
	return 0
}
