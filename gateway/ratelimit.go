package gateway

import (
	"cmp"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/aiload/aiload/gateway/policy"
	"github.com/aiload/aiload/gateway/store"
	"github.com/aiload/aiload/record"
)

// RateLimitByKey is API Management's rate-limit-by-key: at most Calls
// requests per counter key in any sliding RenewalPeriod; the next gets 429.
// Only a renewal period of 60 s is taken (the counters' window).
type RateLimitByKey struct {
	// Product, when set, limits the policy to that product's subscriptions.
	Product string `yaml:"product" json:"product,omitempty"`
	// CounterKey selects the counter, as a token limit's does.
	CounterKey string `yaml:"counter_key" json:"counter_key"`
	// Calls is the number of requests allowed in the period.
	Calls int64 `yaml:"calls" json:"calls"`
	// RenewalPeriod is the sliding window (default and only value: 60s).
	RenewalPeriod time.Duration `yaml:"renewal_period" json:"renewal_period,omitempty"`
	// RetryAfterHeaderName replaces Retry-After on the 429.
	RetryAfterHeaderName string `yaml:"retry_after_header_name" json:"retry_after_header_name,omitempty"`
	// RemainingCallsHeaderName and TotalCallsHeaderName, when set, carry
	// the calls left and the limit on every answer that passed.
	RemainingCallsHeaderName string `yaml:"remaining_calls_header_name" json:"remaining_calls_header_name,omitempty"`
	TotalCallsHeaderName     string `yaml:"total_calls_header_name" json:"total_calls_header_name,omitempty"`
}

// rateRule is a compiled RateLimitByKey.
type rateRule struct {
	cfg RateLimitByKey
	key policy.CounterKey
}

func (r RateLimitByKey) validate(errs *problems, path string) {
	if _, err := policy.ParseCounterKey(cmp.Or(r.CounterKey, "subscription")); err != nil {
		errs.add(path+".counter_key", "%v", err)
	}
	if r.Calls < 1 {
		errs.add(path+".calls", "must be >= 1, got %d", r.Calls)
	}
	if r.RenewalPeriod != 0 && r.RenewalPeriod != policy.TPMWindow {
		errs.add(path+".renewal_period", "must be 60s (aiload's counters slide over a minute), got %s", r.RenewalPeriod)
	}
}

func compileRates(rs []RateLimitByKey) []rateRule {
	out := make([]rateRule, len(rs))
	for i, r := range rs {
		out[i].cfg = r
		out[i].key, _ = policy.ParseCounterKey(cmp.Or(r.CounterKey, "subscription"))
	}
	return out
}

// rateLimit counts the request against every rate-limit-by-key, or answers
// 429 when one has no call left. A refused request is not counted.
func (g *Gateway) rateLimit(x *exchange) bool {
	if len(g.rates) == 0 {
		return true
	}
	facts := g.facts(x)
	var rules []rateRule
	var checks []store.Check
	for i, r := range g.rates {
		if r.cfg.Product != "" && r.cfg.Product != x.rec.Product {
			continue
		}
		rules = append(rules, r)
		checks = append(checks, store.Check{Key: "calls\x00" + strconv.Itoa(i) + "\x00" + r.key.Resolve(facts), Kind: store.Window,
			Limit: r.cfg.Calls, Need: 1, Reserve: 1})
	}
	if len(checks) == 0 {
		return true
	}
	v, err := g.store.Reserve(x.ctx(), g.opts.Clock.Now(), checks)
	if err != nil {
		x.setHeader("Retry-After", "1")
		x.rec.RetryAfterMS = 1000
		g.internalError(x, http.StatusServiceUnavailable, record.OutcomeStoreUnavailable, "counter_store_unavailable",
			"Rate limits cannot be checked right now. Try again later.", fmt.Errorf("counter store: %w", err))
		return false
	}
	h := x.respHeader()
	for i, r := range rules {
		if r.cfg.RemainingCallsHeaderName != "" {
			h.Set(r.cfg.RemainingCallsHeaderName, strconv.FormatInt(v.Remaining[i], 10))
		}
		if r.cfg.TotalCallsHeaderName != "" {
			h.Set(r.cfg.TotalCallsHeaderName, strconv.FormatInt(r.cfg.Calls, 10))
		}
	}
	if v.Allowed {
		return true
	}
	secs := policy.RetryAfterSeconds(v.RetryAfter)
	x.rec.RetryAfterMS = secs * 1000
	h.Set(cmp.Or(rules[v.Denied].cfg.RetryAfterHeaderName, "Retry-After"), strconv.FormatInt(secs, 10))
	msg := fmt.Sprintf("Rate limit is exceeded. Try again in %d seconds.", secs)
	if g.apim() {
		g.rejectAPIM(x, http.StatusTooManyRequests, record.OutcomeThrottled, msg)
		return false
	}
	g.reject(x, http.StatusTooManyRequests, record.OutcomeThrottled, "rate_limit_error", "429", msg)
	return false
}
