package gateway

import (
	"cmp"
	"time"

	"github.com/aiload/aiload/gateway/policy"
)

// QuotaByKey is API Management's quota-by-key (and, with a counter key per
// subscription, quota): at most Calls requests and Bandwidth kilobytes per
// counter key in each fixed renewal period; a request that finds either
// used up gets 403. Policies whose counter keys resolve to the same value
// with the same periods share one counter, as in API Management.
type QuotaByKey struct {
	// Product, API and Operation, when set, limit the policy to that
	// product's subscriptions, that API and that operation.
	Product   string `yaml:"product" json:"product,omitempty"`
	API       string `yaml:"api" json:"api,omitempty"`
	Operation string `yaml:"operation" json:"operation,omitempty"`
	// CounterKey selects the counter, as a token limit's does.
	CounterKey string `yaml:"counter_key" json:"counter_key"`
	// Calls is the number of requests allowed in a period (0: no call
	// quota).
	Calls int64 `yaml:"calls" json:"calls,omitempty"`
	// Bandwidth is the kilobytes (1024 bytes) allowed in a period: the
	// request body plus the answer body relayed to the caller, counted once
	// the answer is sent (0: no bandwidth quota). A request passes while
	// any byte is left.
	Bandwidth int64 `yaml:"bandwidth" json:"bandwidth,omitempty"`
	// RenewalPeriod is the length of a period, whole seconds (required);
	// 0s is one period that never ends (a lifetime quota).
	RenewalPeriod *time.Duration `yaml:"renewal_period" json:"renewal_period"`
	// FirstPeriodStart is where periods are counted from (default
	// 0001-01-01T00:00:00Z, as in API Management).
	FirstPeriodStart time.Time `yaml:"first_period_start" json:"first_period_start,omitzero"`
	// FromSubscriptionStart counts the periods from the calling
	// subscription's created time instead (API Management's quota policy);
	// a subscription without one counts from 0001-01-01T00:00:00Z.
	FromSubscriptionStart bool `yaml:"from_subscription_start" json:"from_subscription_start,omitempty"`
	// IncrementCount is what one call adds to the call counter (default 1).
	IncrementCount int64 `yaml:"increment_count" json:"increment_count,omitempty"`
	// CountStatuses, when set, is increment-condition over the answer's
	// status: a call is counted after its answer, only when its status is
	// one of these (then admission refuses once the counter is over Calls).
	CountStatuses []string `yaml:"count_statuses" json:"count_statuses,omitempty"`
}

func (q QuotaByKey) validate(errs *problems, path string) {
	if _, err := policy.ParseCounterKey(cmp.Or(q.CounterKey, "subscription")); err != nil {
		errs.add(path+".counter_key", "%v", err)
	}
	switch {
	case q.Calls < 0:
		errs.add(path+".calls", "must be >= 0, got %d", q.Calls)
	case q.Bandwidth < 0:
		errs.add(path+".bandwidth", "must be >= 0, got %d", q.Bandwidth)
	case q.Calls == 0 && q.Bandwidth == 0:
		errs.add(path+".calls", "set calls, bandwidth (kilobytes), or both")
	}
	if q.RenewalPeriod == nil {
		errs.add(path+".renewal_period", "is required: whole seconds, or 0s for a quota that never renews")
	} else if err := q.renewal().Validate(); err != nil {
		errs.add(path+".renewal_period", "%v", err)
	}
	if q.IncrementCount < 0 {
		errs.add(path+".increment_count", "must be >= 1 (default 1), got %d", q.IncrementCount)
	}
	if q.FromSubscriptionStart && !q.FirstPeriodStart.IsZero() {
		errs.add(path+".first_period_start", "give first_period_start or from_subscription_start, not both")
	}
	validateScope(errs, path, q.API, q.Operation)
	validateStatuses(errs, path+".count_statuses", q.CountStatuses)
}

func (q QuotaByKey) renewal() policy.Renewal {
	r := policy.Renewal{Start: policy.DefaultRenewalStart}
	if q.RenewalPeriod != nil {
		r.Every = *q.RenewalPeriod
	}
	if !q.FirstPeriodStart.IsZero() {
		r.Start = q.FirstPeriodStart.UTC()
	}
	return r
}

// compile turns the quota into its counter rules: one for calls, one for
// bandwidth.
func (q QuotaByKey) compile() []callRule {
	key, _ := policy.ParseCounterKey(cmp.Or(q.CounterKey, "subscription"))
	base := callRule{product: q.Product, api: q.API, op: q.Operation, key: key, renewal: q.renewal(),
		fromSub: q.FromSubscriptionStart, retryHdr: "Retry-After"}
	var out []callRule
	if q.Calls > 0 {
		r := base
		r.kind, r.limit, r.count, r.statuses, r.prefix = callQuota, q.Calls, cmp.Or(q.IncrementCount, 1), statusRanges(q.CountStatuses), "quota\x00"
		out = append(out, r)
	}
	if q.Bandwidth > 0 {
		r := base
		r.kind, r.limit, r.statuses, r.prefix = bandwidthQuota, q.Bandwidth*1024, statusRanges(q.CountStatuses), "bandwidth\x00"
		out = append(out, r)
	}
	return out
}
