package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/aiload/aiload/gateway/chat"
	"github.com/aiload/aiload/gateway/policy"
	"github.com/aiload/aiload/gateway/store"
	"github.com/aiload/aiload/record"
)

// defaultStrictMaxTokens is what strict mode reserves for a completion when
// neither the request nor the policy gives a cap.
const defaultStrictMaxTokens = 4096

// limitRule is a compiled TokenLimit.
type limitRule struct {
	key        policy.CounterKey
	tpm, quota int64
	period     policy.QuotaPeriod
	estimate   bool
	mode       policy.Mode
	defaultMax int64
	retryHdr   string
	remHdr     string
	remQHdr    string
	consumeHdr string
}

// compileLimit checks and compiles a TokenLimit; its errors are
// *FieldError with paths relative to the limit, joined.
func compileLimit(l TokenLimit) (*limitRule, error) {
	r := &limitRule{tpm: l.TokensPerMinute, quota: l.TokenQuota, estimate: l.EstimatePromptTokens,
		defaultMax: cmp.Or(l.DefaultMaxTokens, defaultStrictMaxTokens), retryHdr: cmp.Or(l.RetryAfterHeaderName, "Retry-After"),
		remHdr: l.RemainingTokensHeaderName, remQHdr: l.RemainingQuotaTokensHeaderName, consumeHdr: l.TokensConsumedHeaderName}
	var errs []error
	bad := func(path, msg string) { errs = append(errs, &FieldError{Path: path, Msg: msg}) }
	var err error
	if r.key, err = policy.ParseCounterKey(cmp.Or(l.CounterKey, "subscription")); err != nil {
		bad("counter_key", err.Error())
	}
	if r.mode, err = policy.ParseMode(l.Mode); err != nil {
		bad("mode", err.Error())
	}
	if l.TokenQuotaPeriod != "" {
		if r.period, err = policy.ParseQuotaPeriod(l.TokenQuotaPeriod); err != nil {
			bad("token_quota_period", err.Error())
		}
	}
	switch {
	case l.TokensPerMinute < 0:
		bad("tokens_per_minute", "must be >= 0")
	case l.TokenQuota < 0:
		bad("token_quota", "must be >= 0")
	case l.TokensPerMinute == 0 && l.TokenQuota == 0:
		bad("tokens_per_minute", "set tokens_per_minute, token_quota (with token_quota_period), or both")
	case l.TokenQuota > 0 && l.TokenQuotaPeriod == "":
		bad("token_quota_period", "must be set with token_quota (Hourly, Daily, Weekly, Monthly or Yearly)")
	}
	if l.DefaultMaxTokens < 0 {
		bad("default_max_tokens", "must be >= 0")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// admission is the token-limit state of one request.
type admission struct {
	checks []store.Check
	rules  [][]*limitRule // rules behind each check
	at     time.Time
	// remaining per check after the latest store operation, under the
	// check's Limit.
	remaining []int64
	// openAIHeaders adds the OpenAI-style x-ratelimit-*-tokens headers
	// (wire openai).
	openAIHeaders bool
	// low and need are each check's lowest limit and largest demand among
	// its rules. The store is given the highest limit and the demand raised
	// by the difference (the same decision), so that what it reports left
	// gives every rule its own remaining tokens: one counter, each policy
	// measured against its own limit, as in API Management.
	low, need []int64
}

// buildChecks resolves every rule's counter key and merges rules that share
// a counter (one counter per key value, as in API Management): the lowest
// limit applies and the largest demand is reserved once.
func (g *Gateway) buildChecks(x *exchange, rules []*limitRule) *admission {
	a := &admission{}
	index := map[string]int{}
	facts := g.facts(x)
	for _, r := range rules {
		maxOut := x.maxOut
		if maxOut == 0 && r.mode == policy.ModeStrict && x.op() != chat.OpEmbeddings {
			maxOut = r.defaultMax
			x.capMaxTokens = max(x.capMaxTokens, maxOut)
		}
		estimate := r.estimate || x.stream
		var prompt int64
		if estimate || r.mode == policy.ModeStrict {
			prompt = g.promptTokens(x)
		}
		d := policy.DemandFor(r.mode, estimate, prompt, maxOut)
		kv := r.key.Resolve(facts)
		if r.tpm > 0 {
			a.add(index, store.Check{Key: kv, Kind: store.Window, Limit: r.tpm, Need: d.Need, Reserve: d.Reserve}, r)
		}
		if r.quota > 0 {
			a.add(index, store.Check{Key: kv, Kind: store.Period, Limit: r.quota, Period: r.period, Need: d.Need, Reserve: d.Reserve}, r)
		}
	}
	for i := range a.checks {
		c := &a.checks[i]
		c.Need = a.need[i] + c.Limit - a.low[i]
	}
	return a
}

func (a *admission) add(index map[string]int, c store.Check, r *limitRule) {
	id := strconv.Itoa(int(c.Kind)) + "\x00" + string(c.Period) + "\x00" + c.Key
	i, ok := index[id]
	if !ok {
		index[id] = len(a.checks)
		a.checks = append(a.checks, c)
		a.rules = append(a.rules, []*limitRule{r})
		a.low, a.need = append(a.low, c.Limit), append(a.need, c.Need)
		return
	}
	m := &a.checks[i]
	m.Limit, m.Reserve = max(m.Limit, c.Limit), max(m.Reserve, c.Reserve)
	a.low[i], a.need[i] = min(a.low[i], c.Limit), max(a.need[i], c.Need)
	a.rules[i] = append(a.rules[i], r)
}

// left returns the tokens check i's counter has left under limit.
func (a *admission) left(i int, limit int64) int64 {
	return max(0, a.remaining[i]-(a.checks[i].Limit-limit))
}

// rem returns the tokens check i's counter has left under its lowest limit.
func (a *admission) rem(i int) int64 { return a.left(i, a.low[i]) }

// admit applies the token limits of the subscription's product, of the
// API and of the operation. It answers 403 (quota) or 429 (tokens per minute) and returns nil
// when the request may not pass.
func (g *Gateway) admit(x *exchange) *admission {
	rules := append(append([]*limitRule(nil), g.products[x.sub.Product]...), g.apis[x.rec.API]...)
	rules = append(rules, g.apis[x.rec.API+"/"+cmp.Or(x.rec.Operation, "chat")]...)
	if len(rules) == 0 {
		return &admission{}
	}
	a := g.buildChecks(x, rules)
	a.openAIHeaders = !g.apim()
	now := g.opts.Clock.Now()
	a.at = now
	v, err := g.store.Reserve(x.ctx(), now, a.checks)
	if err != nil {
		// Limits cannot be checked: refuse rather than admit unchecked (a
		// store may choose to fail open itself).
		x.setHeader("Retry-After", "1")
		x.rec.RetryAfterMS = 1000
		g.internalError(x, http.StatusServiceUnavailable, record.OutcomeStoreUnavailable, "counter_store_unavailable",
			"Token limits cannot be checked right now. Try again later.", fmt.Errorf("counter store: %w", err))
		return nil
	}
	a.remaining = v.Remaining
	if v.Allowed {
		a.describe(x, -1)
		a.setHeaders(x.respHeader(), false, 0)
		return a
	}
	a.describe(x, v.Denied)
	g.refuse(x, a, v)
	return nil
}

// refuse answers 403 for a quota and 429 for tokens per minute.
func (g *Gateway) refuse(x *exchange, a *admission, v store.Verdict) {
	c, r := a.checks[v.Denied], a.rules[v.Denied][0]
	limit, need := a.low[v.Denied], a.need[v.Denied]
	g.chargeRequested(x)
	secs := policy.RetryAfterSeconds(v.RetryAfter)
	x.rec.RetryAfterMS = secs * 1000
	h := x.respHeader()
	h.Set(r.retryHdr, strconv.FormatInt(secs, 10))
	if g.apim() {
		g.refuseAPIM(x, a, c, secs, need > limit)
		return
	}
	if r.retryHdr == "Retry-After" {
		// The exact wait: the whole seconds of Retry-After round 59.7 s up
		// to 60, which the Node SDK would ignore.
		ms := policy.RetryAfterMillis(v.RetryAfter)
		x.rec.RetryAfterMS = ms
		h.Set("retry-after-ms", strconv.FormatInt(ms, 10))
	}
	a.setHeaders(h, false, 0)
	if c.Kind == store.Period {
		g.reject(x, http.StatusForbidden, record.OutcomeQuotaExceeded, "insufficient_quota", "403",
			fmt.Sprintf("Token quota is exceeded. The %s quota of %d tokens resets in %d seconds.", c.Period, limit, secs))
		return
	}
	msg := fmt.Sprintf("Token limit is exceeded. Try again in %d seconds.", secs)
	if need > limit {
		msg = fmt.Sprintf("Request too large: it needs %d tokens, more than the limit of %d tokens per minute.", need, limit)
	}
	g.reject(x, http.StatusTooManyRequests, record.OutcomeThrottled, "rate_limit_error", "429", msg)
}

// refuseAPIM answers a token limit's refusal as API Management does: 403
// for a quota, 429 for tokens per minute, its wording, the retry interval
// in Retry-After (or the policy's retry-after-header-name) only.
func (g *Gateway) refuseAPIM(x *exchange, a *admission, c store.Check, secs int64, tooLarge bool) {
	a.setHeaders(x.respHeader(), false, 0)
	if c.Kind == store.Period {
		wait := waitPhrase(time.Duration(secs) * time.Second)
		g.rejectAPIM(x, http.StatusForbidden, record.OutcomeQuotaExceeded, "Token quota is exceeded. Try again in "+wait+".")
		return
	}
	msg := fmt.Sprintf("Token limit is exceeded. Try again in %d seconds.", secs) // the window is a minute: always seconds
	if tooLarge {
		msg = "Token limit is exceeded." // no wait makes it fit
	}
	g.rejectAPIM(x, http.StatusTooManyRequests, record.OutcomeThrottled, msg)
}

// describe fills the record's limit fields from the deciding check
// (denied >= 0) or from the tightest tokens-per-minute check.
func (a *admission) describe(x *exchange, denied int) {
	x.rec.RemainingQuotaTokens = -1
	pick := denied
	for i, c := range a.checks {
		if c.Kind == store.Period {
			if x.rec.RemainingQuotaTokens < 0 || a.rem(i) < x.rec.RemainingQuotaTokens {
				x.rec.RemainingQuotaTokens = a.rem(i)
			}
			continue
		}
		if denied < 0 && (pick < 0 || a.rem(i) < a.rem(pick)) {
			pick = i
		}
	}
	if pick < 0 && len(a.checks) > 0 {
		pick = 0
	}
	if pick < 0 {
		return
	}
	x.rec.CounterKey = a.checks[pick].Key
	if a.checks[pick].Kind == store.Window {
		x.rec.LimitTPM, x.rec.RemainingTokens = a.low[pick], a.rem(pick)
	}
}

// setHeaders writes each policy's remaining-tokens headers, with wire
// openai the OpenAI-style x-ratelimit-*-tokens of the tightest minute
// window and, after a response, the tokens-consumed headers.
func (a *admission) setHeaders(h headerSetter, responded bool, consumed int64) {
	tight := -1
	for i, c := range a.checks {
		for _, r := range a.rules[i] {
			if c.Kind == store.Window && r.remHdr != "" {
				h.Set(r.remHdr, strconv.FormatInt(a.left(i, r.tpm), 10))
			}
			if c.Kind == store.Period && r.remQHdr != "" {
				h.Set(r.remQHdr, strconv.FormatInt(a.left(i, r.quota), 10))
			}
			if responded && r.consumeHdr != "" {
				h.Set(r.consumeHdr, strconv.FormatInt(consumed, 10))
			}
		}
		if c.Kind == store.Window && (tight < 0 || a.rem(i) < a.rem(tight)) {
			tight = i
		}
	}
	if tight >= 0 && a.openAIHeaders {
		h.Set("x-ratelimit-limit-tokens", strconv.FormatInt(a.low[tight], 10))
		h.Set("x-ratelimit-remaining-tokens", strconv.FormatInt(a.rem(tight), 10))
	}
}

// settle charges the actual usage (0 releases the reservation).
func (g *Gateway) settle(x *exchange, a *admission, actual int64) {
	if a == nil || len(a.checks) == 0 {
		return
	}
	rem, err := g.store.Settle(context.WithoutCancel(x.ctx()), g.opts.Clock.Now(), a.at, a.checks, actual)
	if err != nil {
		// The reservation stays charged until its window passes; the record
		// still says what was used.
		g.opts.Logf("request %s: settle %d tokens with the counter store: %v", x.rec.RequestID, actual, err)
		return
	}
	a.remaining = rem
	a.describe(x, -1)
}

// chargeRequested fills a refused record with the tokens that were asked
// for: estimated prompt tokens + max_tokens, flagged as estimated.
func (g *Gateway) chargeRequested(x *exchange) {
	prompt := g.promptTokens(x)
	x.rec.PromptTokens, x.rec.CompletionTokens = prompt, x.maxOut
	x.rec.TotalTokens = prompt + x.maxOut
	x.rec.TokensEstimated = true
}
