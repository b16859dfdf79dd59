package apimxml

import (
	"cmp"
	"fmt"
	"strconv"
	"time"

	"github.com/aiload/aiload/gateway"
)

// rateLimitByKey translates <rate-limit-by-key>: calls per counter key in a
// sliding renewal period.
func (t *translator) rateLimitByKey(e *element) {
	t.noChildren(e)
	a := t.attrs(e, "calls", "renewal-period", "counter-key", "increment-condition", "increment-count",
		"retry-after-header-name", "retry-after-variable-name", "remaining-calls-header-name", "remaining-calls-variable-name", "total-calls-header-name")
	t.required(e, a, "calls", "renewal-period", "counter-key")
	k := a["counter-key"]
	r := gateway.RateLimitByKey{CounterKey: counterKey(t.expandKey(k)),
		RetryAfterHeaderName: a["retry-after-header-name"].Value, RemainingCallsHeaderName: a["remaining-calls-header-name"].Value,
		TotalCallsHeaderName: a["total-calls-header-name"].Value}
	t.callCounts(e, a, &r.Calls, &r.RenewalPeriod, &r.IncrementCount, &r.CountStatuses)
	t.addRates(e, r)
}

// rateLimit translates <rate-limit>: calls per subscription in a sliding
// renewal period, and per subscription and API or operation for its <api>
// and <operation> elements, each counted on its own.
func (t *translator) rateLimit(e *element) {
	a := t.attrs(e, "calls", "renewal-period", "retry-after-header-name", "retry-after-variable-name",
		"remaining-calls-header-name", "remaining-calls-variable-name", "total-calls-header-name")
	t.required(e, a, "calls", "renewal-period")
	r := gateway.RateLimitByKey{CounterKey: perSubscription("rate-limit"),
		RetryAfterHeaderName: a["retry-after-header-name"].Value, RemainingCallsHeaderName: a["remaining-calls-header-name"].Value,
		TotalCallsHeaderName: a["total-calls-header-name"].Value}
	t.callCounts(e, a, &r.Calls, &r.RenewalPeriod, nil, nil)
	rates := []gateway.RateLimitByKey{r}
	t.scoped(e, "rate-limit", func(c *element, api, op string) {
		a := t.attrs(c, "name", "id", "calls", "renewal-period")
		t.required(c, a, "calls", "renewal-period")
		s := gateway.RateLimitByKey{API: api, Operation: op, CounterKey: perSubscription("rate-limit:" + scopeName(api, op)),
			RetryAfterHeaderName: r.RetryAfterHeaderName}
		t.callCounts(c, a, &s.Calls, &s.RenewalPeriod, nil, nil)
		rates = append(rates, s)
	})
	t.addRates(e, rates...)
}

// addRates validates translated rate limits as the gateway would and adds
// them to the document.
func (t *translator) addRates(e *element, rates ...gateway.RateLimitByKey) {
	for _, r := range rates {
		cfg := gateway.Config{RateLimits: []gateway.RateLimitByKey{r}}
		cfg.Defaults()
		t.fieldErrors(e, cfg.Validate(), "gateway.rate_limits[0]")
	}
	t.pol.RateLimits = append(t.pol.RateLimits, rates...)
}

// required reports the attributes e lacks among names.
func (t *translator) required(e *element, a map[string]attr, names ...string) {
	for _, n := range names {
		if _, ok := a[n]; !ok {
			t.errorf(e.Pos, "<%s> needs the %s attribute", e.Name, n)
		}
	}
}

// callCounts reads calls, renewal-period (seconds, at most 300), and where
// the policy takes them increment-count and increment-condition (a
// condition over context.Response.StatusCode: the statuses it holds for).
func (t *translator) callCounts(e *element, a map[string]attr, calls *int64, period *time.Duration, count *int64, statuses *[]string) {
	if c, ok := a["calls"]; ok {
		*calls = t.intAttr(c, e)
	}
	if p, ok := a["renewal-period"]; ok {
		n := t.intAttr(p, e)
		if n < 1 || n > int64(gateway.MaxRenewalPeriod/time.Second) {
			t.errorf(p.Pos, "renewal-period on <%s> must be 1 to 300 seconds (API Management's longest sliding window), got %q", e.Name, p.Value)
		}
		*period = time.Duration(n) * time.Second
	}
	if c, ok := a["increment-count"]; ok && count != nil {
		if *count = t.intAttr(c, e); *count < 1 {
			t.errorf(c.Pos, "increment-count on <%s> must be >= 1, got %q", e.Name, c.Value)
		}
	}
	if c, ok := a["increment-condition"]; ok && statuses != nil {
		codes, err := retryStatuses(c.Value)
		if err != nil {
			t.errorf(c.Pos, "increment-condition on <%s>: %v", e.Name, err)
		}
		*statuses = codes
	}
}

// scoped walks the <api> and <operation> elements of rate-limit or quota:
// f gets each with the API and operation it names. An <api> element
// applies to that API; an <operation> inside it to one of its operations.
func (t *translator) scoped(e *element, policy string, f func(c *element, api, op string)) {
	for _, c := range e.Children {
		if c.Name != "api" {
			t.errorf(c.Pos, "<%s> takes <api> elements, not <%s>", policy, c.Name)
			continue
		}
		api, ok := t.scopeRef(c, []string{"openai", "azure-openai"})
		if !ok {
			continue
		}
		f(c, api, "")
		for _, o := range c.Children {
			if o.Name != "operation" {
				t.errorf(o.Pos, "<api> in <%s> takes <operation> elements, not <%s>", policy, o.Name)
				continue
			}
			if op, ok := t.scopeRef(o, gateway.Operations); ok {
				f(o, api, op)
			}
		}
	}
}

// scopeRef returns the API or operation an <api> or <operation> element
// names by id (which wins, as in API Management) or name.
func (t *translator) scopeRef(c *element, known []string) (string, bool) {
	ref, ok := c.attr("id")
	if !ok {
		ref, ok = c.attr("name")
	}
	if !ok {
		t.errorf(c.Pos, "<%s> needs a name or an id", c.Name)
		return "", false
	}
	if !contains(known, ref.Value) {
		t.errorf(ref.Pos, "<%s> %s %q names no %s of aiload's gateway (%v)", c.Name, ref.Name, ref.Value, c.Name, known)
		return "", false
	}
	return ref.Value, true
}

// perSubscription is the counter key of a policy counted per subscription
// (rate-limit, quota): the subscription's id after a prefix naming the
// policy and the API or operation of its <api> or <operation> element, so
// those count on their own.
func perSubscription(prefix string) string {
	return "@(" + strconv.Quote(prefix+":") + " + context.Subscription.Id)"
}

func scopeName(api, op string) string {
	if op == "" {
		return api
	}
	return api + "/" + op
}

// placeCalls adds a statement's rate limits and quotas for the requests of
// scope: the scope's product, API and operation, narrowed by the API or
// operation an <api> or <operation> element names. One that names another
// API than its scope's applies to no request (a warning).
func (r *resolver) placeCalls(it *Item, sc scope) {
	narrow := func(api, op *string, product *string) bool {
		*product = sc.product
		if sc.api != "" && *api != "" && *api != sc.api || sc.op != "" && *op != "" && *op != sc.op {
			r.warnings = append(r.warnings, Warning{File: it.File, Pos: it.Pos, Msg: fmt.Sprintf(
				"<%s>: an <api> or <operation> element names %s where the statement applies to %s only: it limits no request", it.Name, scopeName(*api, *op), sc.describe())})
			return false
		}
		*api, *op = cmp.Or(*api, sc.api), cmp.Or(*op, sc.op)
		return true
	}
	for _, rl := range it.Rates {
		if narrow(&rl.API, &rl.Operation, &rl.Product) {
			r.cfg.RateLimits = append(r.cfg.RateLimits, rl)
		}
	}
	for _, q := range it.Quotas {
		if narrow(&q.API, &q.Operation, &q.Product) {
			r.cfg.Quotas = append(r.cfg.Quotas, q)
		}
	}
}
