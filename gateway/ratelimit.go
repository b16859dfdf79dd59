package gateway

import (
	"cmp"
	"strconv"
	"time"

	"github.com/aiload/aiload/gateway/policy"
)

// MaxRenewalPeriod is the longest sliding window of a call rate limit, as
// API Management allows for rate-limit and rate-limit-by-key.
const MaxRenewalPeriod = 300 * time.Second

// RateLimitByKey is API Management's rate-limit-by-key (and, with a counter
// key per subscription, rate-limit): at most Calls requests per counter key
// in any sliding RenewalPeriod; the next gets 429. A refused call is not
// counted. Policies whose counter keys resolve to the same value with the
// same period share one counter, as in API Management.
type RateLimitByKey struct {
	// Product, API and Operation, when set, limit the policy to that
	// product's subscriptions, that API (openai, azure-openai) and that
	// operation (chat, responses, completions, embeddings).
	Product   string `yaml:"product" json:"product,omitempty"`
	API       string `yaml:"api" json:"api,omitempty"`
	Operation string `yaml:"operation" json:"operation,omitempty"`
	// CounterKey selects the counter, as a token limit's does.
	CounterKey string `yaml:"counter_key" json:"counter_key"`
	// Calls is the number of requests allowed in the period.
	Calls int64 `yaml:"calls" json:"calls"`
	// RenewalPeriod is the sliding window: whole seconds up to 300 s
	// (default 60s).
	RenewalPeriod time.Duration `yaml:"renewal_period" json:"renewal_period,omitempty"`
	// IncrementCount is what one call adds to the counter (default 1).
	IncrementCount int64 `yaml:"increment_count" json:"increment_count,omitempty"`
	// CountStatuses, when set, is increment-condition over the answer's
	// status ("200", "200-399"): a call is counted after its answer, only
	// when the status is one of these, and admission then refuses only once
	// the counter is over Calls (API Management's 429 "one call later").
	CountStatuses []string `yaml:"count_statuses" json:"count_statuses,omitempty"`
	// RetryAfterHeaderName replaces Retry-After on the 429.
	RetryAfterHeaderName string `yaml:"retry_after_header_name" json:"retry_after_header_name,omitempty"`
	// RemainingCallsHeaderName and TotalCallsHeaderName, when set, carry
	// the calls left and the limit on every answer that passed.
	RemainingCallsHeaderName string `yaml:"remaining_calls_header_name" json:"remaining_calls_header_name,omitempty"`
	TotalCallsHeaderName     string `yaml:"total_calls_header_name" json:"total_calls_header_name,omitempty"`
}

func (r RateLimitByKey) validate(errs *problems, path string) {
	if _, err := policy.ParseCounterKey(cmp.Or(r.CounterKey, "subscription")); err != nil {
		errs.add(path+".counter_key", "%v", err)
	}
	if r.Calls < 1 {
		errs.add(path+".calls", "must be >= 1, got %d", r.Calls)
	}
	if p := r.RenewalPeriod; p < 0 || p > MaxRenewalPeriod || p%time.Second != 0 {
		errs.add(path+".renewal_period", "must be whole seconds from 1s to 300s (default 60s), got %s", p)
	}
	if r.IncrementCount < 0 {
		errs.add(path+".increment_count", "must be >= 1 (default 1), got %d", r.IncrementCount)
	}
	validateScope(errs, path, r.API, r.Operation)
	validateStatuses(errs, path+".count_statuses", r.CountStatuses)
}

// compile turns the policy into its counter rule.
func (r RateLimitByKey) compile() callRule {
	key, _ := policy.ParseCounterKey(cmp.Or(r.CounterKey, "subscription"))
	span := cmp.Or(r.RenewalPeriod, policy.TPMWindow)
	return callRule{product: r.Product, api: r.API, op: r.Operation, key: key, kind: callRate,
		limit: r.Calls, span: span, count: cmp.Or(r.IncrementCount, 1), statuses: statusRanges(r.CountStatuses),
		retryHdr: cmp.Or(r.RetryAfterHeaderName, "Retry-After"), remHdr: r.RemainingCallsHeaderName,
		totalHdr: r.TotalCallsHeaderName, prefix: "calls\x00" + span.String() + "\x00"}
}

// validateScope checks a call policy's API and operation filters.
func validateScope(errs *problems, path, api, op string) {
	if api != "" && api != apiOpenAI && api != apiAzure {
		errs.add(path+".api", "must be %s or %s, got %q", apiOpenAI, apiAzure, api)
	}
	if op == "" {
		return
	}
	for _, o := range Operations {
		if o == op {
			return
		}
	}
	errs.add(path+".operation", "must be one of %v, got %q", Operations, op)
}

func validateStatuses(errs *problems, path string, codes []string) {
	for i, s := range codes {
		if _, _, err := parseStatusRange(s); err != nil {
			errs.add(path+"["+strconv.Itoa(i)+"]", "%v", err)
		}
	}
}
