package apimxml

import (
	"time"

	"github.com/aiload/aiload/gateway"
)

// rateLimitByKey translates <rate-limit-by-key>: a sliding minute of calls
// per counter key. Another renewal period is not emulated (a warning).
func (t *translator) rateLimitByKey(e *element) {
	t.noChildren(e)
	a := t.attrs(e, "calls", "renewal-period", "counter-key", "increment-condition", "increment-count",
		"retry-after-header-name", "retry-after-variable-name", "remaining-calls-header-name", "remaining-calls-variable-name", "total-calls-header-name")
	for _, req := range []string{"calls", "renewal-period", "counter-key"} {
		if _, ok := a[req]; !ok {
			t.errorf(e.Pos, "<rate-limit-by-key> needs the %s attribute", req)
		}
	}
	if p, ok := a["renewal-period"]; ok && t.intAttr(p, e) != 60 {
		t.warnf(p.Pos, "<rate-limit-by-key> renewal-period %q is not emulated: aiload's call counters slide over 60 seconds; the policy is ignored", p.Value)
		return
	}
	if c, ok := a["increment-condition"]; ok {
		t.warnf(c.Pos, "increment-condition is not emulated: every call counts")
	}
	if c, ok := a["increment-count"]; ok && t.intAttr(c, e) != 1 {
		t.errorf(c.Pos, "increment-count other than 1 is not emulated")
	}
	k := a["counter-key"]
	r := gateway.RateLimitByKey{CounterKey: counterKey(t.expandKey(k)), RenewalPeriod: time.Minute,
		RetryAfterHeaderName: a["retry-after-header-name"].Value, RemainingCallsHeaderName: a["remaining-calls-header-name"].Value,
		TotalCallsHeaderName: a["total-calls-header-name"].Value}
	if c, ok := a["calls"]; ok {
		r.Calls = t.intAttr(c, e)
	}
	cfg := gateway.Config{RateLimits: []gateway.RateLimitByKey{r}}
	cfg.Defaults()
	t.fieldErrors(e, cfg.Validate(), "gateway.rate_limits[0]")
	t.pol.RateLimits = append(t.pol.RateLimits, r)
}
