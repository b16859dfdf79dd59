package apimxml

import (
	"time"

	"github.com/aiload/aiload/gateway"
)

// quotaByKey translates <quota-by-key>: calls and bandwidth per counter key
// in fixed renewal periods counted from first-period-start.
func (t *translator) quotaByKey(e *element) {
	t.noChildren(e)
	a := t.attrs(e, "calls", "bandwidth", "renewal-period", "increment-condition", "increment-count", "counter-key", "first-period-start")
	t.required(e, a, "renewal-period", "counter-key")
	q := gateway.QuotaByKey{CounterKey: counterKey(t.expandKey(a["counter-key"]))}
	t.quotaCounts(e, a, &q)
	if p, ok := a["renewal-period"]; ok && q.RenewalPeriod != nil && *q.RenewalPeriod > 0 && *q.RenewalPeriod < 300*time.Second {
		t.errorf(p.Pos, "renewal-period on <quota-by-key> must be 0 (never renews) or at least 300 seconds, as in API Management, got %q", p.Value)
	}
	if c, ok := a["increment-count"]; ok {
		if q.IncrementCount = t.intAttr(c, e); q.IncrementCount < 1 {
			t.errorf(c.Pos, "increment-count on <quota-by-key> must be >= 1, got %q", c.Value)
		}
	}
	if c, ok := a["increment-condition"]; ok {
		codes, err := retryStatuses(c.Value)
		if err != nil {
			t.errorf(c.Pos, "increment-condition on <quota-by-key>: %v", err)
		}
		q.CountStatuses = codes
	}
	if s, ok := a["first-period-start"]; ok {
		at, err := time.Parse("2006-01-02T15:04:05Z", s.Value)
		if err != nil {
			t.errorf(s.Pos, "first-period-start must be yyyy-MM-ddTHH:mm:ssZ (UTC), got %q", s.Value)
		}
		q.FirstPeriodStart = at
	}
	t.addQuotas(e, q)
}

// quota translates <quota>: calls and bandwidth per subscription in fixed
// renewal periods, and per subscription and API or operation for its <api>
// and <operation> elements, each counted on its own.
func (t *translator) quota(e *element) {
	a := t.attrs(e, "calls", "bandwidth", "renewal-period")
	t.required(e, a, "renewal-period")
	q := gateway.QuotaByKey{CounterKey: perSubscription("quota"), FromSubscriptionStart: true}
	t.quotaCounts(e, a, &q)
	quotas := []gateway.QuotaByKey{q}
	t.scoped(e, "quota", func(c *element, api, op string) {
		a := t.attrs(c, "name", "id", "calls", "bandwidth", "renewal-period")
		t.required(c, a, "renewal-period")
		s := gateway.QuotaByKey{API: api, Operation: op, CounterKey: perSubscription("quota:" + scopeName(api, op)), FromSubscriptionStart: true}
		t.quotaCounts(c, a, &s)
		quotas = append(quotas, s)
	})
	t.addQuotas(e, quotas...)
}

// quotaCounts reads calls, bandwidth (kilobytes) and renewal-period
// (seconds; 0 never renews).
func (t *translator) quotaCounts(e *element, a map[string]attr, q *gateway.QuotaByKey) {
	if c, ok := a["calls"]; ok {
		q.Calls = t.intAttr(c, e)
	}
	if b, ok := a["bandwidth"]; ok {
		q.Bandwidth = t.intAttr(b, e)
	}
	if _, ok := a["calls"]; !ok {
		if _, ok := a["bandwidth"]; !ok {
			t.errorf(e.Pos, "<%s> needs calls, bandwidth or both", e.Name)
		}
	}
	if p, ok := a["renewal-period"]; ok {
		d := time.Duration(t.intAttr(p, e)) * time.Second
		q.RenewalPeriod = &d
	}
}

// addQuotas validates translated quotas as the gateway would and adds them
// to the document.
func (t *translator) addQuotas(e *element, quotas ...gateway.QuotaByKey) {
	for _, q := range quotas {
		if q.Calls == 0 && q.Bandwidth == 0 {
			continue // reported above
		}
		cfg := gateway.Config{Quotas: []gateway.QuotaByKey{q}}
		cfg.Defaults()
		t.fieldErrors(e, cfg.Validate(), "gateway.quotas[0]")
	}
	t.pol.Quotas = append(t.pol.Quotas, quotas...)
}
