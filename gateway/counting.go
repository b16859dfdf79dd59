package gateway

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aiload/aiload/gateway/policy"
	"github.com/aiload/aiload/gateway/store"
	"github.com/aiload/aiload/record"
)

// callKind is what a call counter counts.
type callKind uint8

const (
	callRate       callKind = iota // calls in a sliding window: 429
	callQuota                      // calls in a fixed period: 403
	bandwidthQuota                 // bytes in a fixed period: 403
)

// callRule is a compiled rate limit or quota of calls or bandwidth.
type callRule struct {
	kind             callKind
	product, api, op string // scope filters ("" matches every request)
	key              policy.CounterKey
	prefix           string // of the store key: the counter's kind and period
	limit            int64  // calls, or bytes
	span             time.Duration
	renewal          policy.Renewal
	fromSub          bool     // periods count from the subscription's created time
	count            int64    // what a counted call adds
	statuses         [][2]int // increment-condition: count after the answer, for these statuses
	retryHdr         string   // Retry-After or the policy's name for it
	remHdr, totalHdr string   // remaining-calls-header-name, total-calls-header-name
}

// statusRanges parses validated status ranges ("200", "500-599").
func statusRanges(codes []string) [][2]int {
	var out [][2]int
	for _, s := range codes {
		lo, hi, _ := parseStatusRange(s)
		out = append(out, [2]int{lo, hi})
	}
	return out
}

// after reports whether the rule counts a call after its answer.
func (r *callRule) after() bool { return r.kind == bandwidthQuota || len(r.statuses) > 0 }

// counts reports whether an answer of status is counted.
func (r *callRule) counts(status int) bool {
	if len(r.statuses) == 0 {
		return true
	}
	for _, s := range r.statuses {
		if status >= s[0] && status <= s[1] {
			return true
		}
	}
	return false
}

func (r *callRule) applies(x *exchange) bool {
	return (r.product == "" || r.product == x.rec.Product) && (r.api == "" || r.api == x.rec.API) &&
		(r.op == "" || r.op == cmp.Or(x.rec.Operation, "chat"))
}

// check is the rule's store check for a counter key value. A call counted
// at admission needs room for its count; one counted after its answer (or
// bandwidth, whose size is known only then) passes while the counter is
// not over the limit (calls) or has a byte left (bandwidth).
func (r *callRule) check(value string, sub *Subscription) store.Check {
	c := store.Check{Key: r.prefix + value, Limit: r.limit, Need: r.count, Reserve: r.count}
	switch {
	case r.kind == bandwidthQuota:
		c.Need, c.Reserve = 1, 0
	case r.after():
		c.Need, c.Reserve = 0, 0
	}
	if r.kind == callRate {
		c.Kind, c.Span = store.Window, r.span
	} else {
		c.Kind, c.Renewal = store.Period, r.renewal
		if r.fromSub && sub != nil && !sub.Created.IsZero() {
			c.Renewal.Start = sub.Created.UTC()
		}
	}
	return c
}

// counted is the call counters that admitted a request, to be charged once
// its answer is known.
type counted struct {
	rules  []*callRule
	checks []store.Check
	at     time.Time
}

// countCalls applies every rate limit and quota of calls and bandwidth in
// one store decision: the request is counted, or refused with 403 (a
// quota, which wins) or 429 (a rate limit) and counted nowhere. Counters
// that resolve to the same key are counted once per request.
func (g *Gateway) countCalls(x *exchange) bool {
	if len(g.calls) == 0 {
		return true
	}
	facts := g.facts(x)
	c := &counted{at: g.opts.Clock.Now()}
	seen := map[string]bool{}
	for i := range g.calls {
		r := &g.calls[i]
		if !r.applies(x) {
			continue
		}
		ch := r.check(r.key.Resolve(facts), x.sub)
		id := ch.Key + "\x00" + ch.PeriodID()
		if seen[id] {
			ch.Reserve = 0 // one count per key and request; each policy still checks its own limit
		}
		seen[id] = true
		c.rules, c.checks = append(c.rules, r), append(c.checks, ch)
	}
	if len(c.checks) == 0 {
		return true
	}
	v, err := g.store.Reserve(x.ctx(), c.at, c.checks)
	if err != nil {
		x.setHeader("Retry-After", "1")
		x.rec.RetryAfterMS = 1000
		g.internalError(x, http.StatusServiceUnavailable, record.OutcomeStoreUnavailable, "counter_store_unavailable",
			"Rate limits cannot be checked right now. Try again later.", fmt.Errorf("counter store: %w", err))
		return false
	}
	h := x.respHeader()
	for i, r := range c.rules {
		if r.remHdr != "" {
			h.Set(r.remHdr, strconv.FormatInt(v.Remaining[i], 10))
		}
		if r.totalHdr != "" {
			h.Set(r.totalHdr, strconv.FormatInt(r.limit, 10))
		}
	}
	if v.Allowed {
		x.counted = c
		return true
	}
	g.refuseCalls(x, c.rules[v.Denied], c.checks[v.Denied], v.RetryAfter)
	return false
}

// refuseCalls answers a call counter's refusal with API Management's
// wording: 429 "Rate limit is exceeded. Try again in N seconds." for a
// rate limit; 403 "Out of call volume quota. Quota will be replenished in
// hh:mm:ss." (or "Out of bandwidth quota. …") for a quota, with the wait
// in Retry-After. A quota that never renews says so and has no Retry-After.
func (g *Gateway) refuseCalls(x *exchange, r *callRule, c store.Check, wait time.Duration) {
	x.rec.CounterKey = c.Key[len(r.prefix):]
	status, outcome, errType, code := http.StatusTooManyRequests, record.OutcomeThrottled, "rate_limit_error", "429"
	secs := policy.RetryAfterSeconds(wait)
	msg := fmt.Sprintf("Rate limit is exceeded. Try again in %d seconds.", secs)
	if r.kind != callRate {
		status, outcome, errType, code = http.StatusForbidden, record.OutcomeQuotaExceeded, "insufficient_quota", "403"
		what := "call volume"
		if r.kind == bandwidthQuota {
			what = "bandwidth"
		}
		msg = "Out of " + what + " quota. Quota will be replenished in " + timeSpan(time.Duration(secs)*time.Second) + "."
		if r.renewal.Every == 0 {
			msg, secs = "Out of "+what+" quota. The quota does not renew.", 0
		}
	}
	if secs > 0 {
		x.rec.RetryAfterMS = secs * 1000
		x.setHeader(r.retryHdr, strconv.FormatInt(secs, 10))
	}
	if g.apim() {
		g.rejectAPIM(x, status, outcome, msg)
		return
	}
	g.reject(x, status, outcome, errType, code, msg)
}

// timeSpan writes d as .NET writes a TimeSpan, which API Management's quota
// message uses: hh:mm:ss, with the days in front past a day (5.03:23:11).
func timeSpan(d time.Duration) string {
	s := int64(d / time.Second)
	hms := fmt.Sprintf("%02d:%02d:%02d", s/3600%24, s/60%60, s%60)
	if days := s / 86400; days > 0 {
		return strconv.FormatInt(days, 10) + "." + hms
	}
	return hms
}

// countAnswer charges the counters that count a call after its answer:
// calls whose increment condition holds for the answer's status, and the
// request's and answer's bytes. It runs as the record is written, before
// the answer reaches the caller.
func (g *Gateway) countAnswer(x *exchange) {
	c := x.counted
	if c == nil {
		return
	}
	x.counted = nil
	bytes := int64(len(x.body)) + x.answerBytes
	for i, r := range c.rules {
		if !r.after() || !r.counts(x.rec.Status) {
			continue
		}
		n := r.count
		if r.kind == bandwidthQuota {
			n = bytes
		}
		if n <= 0 || c.dup(i) {
			continue
		}
		if _, err := g.store.Settle(context.WithoutCancel(x.ctx()), g.opts.Clock.Now(), c.at, c.checks[i:i+1], n); err != nil {
			g.opts.Logf("request %s: count the answer with the counter store: %v", x.rec.RequestID, err)
		}
	}
}

// dup reports whether check i shares its counter with an earlier check of
// the request, which counts it.
func (c *counted) dup(i int) bool {
	for j := range i {
		if c.checks[j].Key == c.checks[i].Key && c.checks[j].PeriodID() == c.checks[i].PeriodID() {
			return true
		}
	}
	return false
}

// compileCalls compiles the rate limits and quotas of calls and bandwidth.
func compileCalls(rates []RateLimitByKey, quotas []QuotaByKey) []callRule {
	var out []callRule
	for _, r := range rates {
		out = append(out, r.compile())
	}
	for _, q := range quotas {
		out = append(out, q.compile()...)
	}
	return out
}

// callScope names the requests a call policy applies to.
func callScope(product, api, op string) string {
	var parts []string
	if product != "" {
		parts = append(parts, "product "+product)
	}
	switch {
	case op != "":
		parts = append(parts, "operation "+cmp.Or(api, "*")+"/"+op)
	case api != "":
		parts = append(parts, "api "+api)
	}
	if len(parts) == 0 {
		return "every request"
	}
	return strings.Join(parts, ", ")
}

// DescribeRateLimit says what a rate limit enforces, for gateway check:
// "product standard: rate-limit-by-key 100 calls/60s by @(…)".
func DescribeRateLimit(r RateLimitByKey) string {
	s := fmt.Sprintf("%s: rate-limit-by-key %d calls/%s by %s", callScope(r.Product, r.API, r.Operation), r.Calls,
		cmp.Or(r.RenewalPeriod, policy.TPMWindow).String(), r.CounterKey)
	if n := r.IncrementCount; n > 1 {
		s += fmt.Sprintf(", %d a call", n)
	}
	if len(r.CountStatuses) > 0 {
		s += ", counting answers " + strings.Join(r.CountStatuses, ", ")
	}
	return s
}

// DescribeQuota says what a quota enforces, for gateway check:
// "product standard: quota-by-key 10000 calls, 40000 KB per 1h0m0s by @(…)".
func DescribeQuota(q QuotaByKey) string {
	var what []string
	if q.Calls > 0 {
		what = append(what, fmt.Sprintf("%d calls", q.Calls))
	}
	if q.Bandwidth > 0 {
		what = append(what, fmt.Sprintf("%d KB", q.Bandwidth))
	}
	r := q.renewal()
	per := "per " + r.Every.String()
	if r.Every == 0 {
		per = "never renewed"
	}
	switch {
	case q.FromSubscriptionStart:
		per += " from each subscription's start"
	case !r.Start.Equal(policy.DefaultRenewalStart):
		per += " from " + r.Start.Format(time.RFC3339)
	}
	s := fmt.Sprintf("%s: quota-by-key %s %s by %s", callScope(q.Product, q.API, q.Operation), strings.Join(what, ", "), per, q.CounterKey)
	if len(q.CountStatuses) > 0 {
		s += ", counting answers " + strings.Join(q.CountStatuses, ", ")
	}
	return s
}
