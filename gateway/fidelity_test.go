package gateway_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/aiload/aiload/gateway/policy/policytest"
)

// TestQuotaPeriodBoundaries checks each token-quota-period against its UTC
// boundary, computed here by hand: one second before the period ends the
// quota refuses (403, Retry-After 1); at the boundary it passes again.
func TestQuotaPeriodBoundaries(t *testing.T) {
	for _, tc := range []struct {
		period string
		end    time.Time // the next period's start
	}{
		{"Hourly", time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)},
		{"Daily", time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)},
		{"Weekly", time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)}, // a Monday
		{"Monthly", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		{"Yearly", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.period, func(t *testing.T) {
			t.Parallel()
			be := newSpy(t, 60)
			clock := policytest.NewFakeClock(tc.end.Add(-time.Second))
			e := startClock(t, clock, `
products:
  - name: p
    token_limits:
      - {counter_key: subscription, token_quota: 50, token_quota_period: `+tc.period+`, remaining_quota_tokens_header_name: x-quota-remaining}
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, be.srv.URL, nil)
			if a := post(t, e.url, chatPath, "k1", chatBody(5), nil); a.status != 200 {
				t.Fatalf("first request: %d %s", a.status, a.body)
			}
			a := post(t, e.url, chatPath, "k1", chatBody(5), nil)
			if a.status != 403 || a.header.Get("Retry-After") != "1" || a.header.Get("x-quota-remaining") != "0" {
				t.Fatalf("after the quota is spent: %d Retry-After %q remaining %q, want 403 1 0 (%s)",
					a.status, a.header.Get("Retry-After"), a.header.Get("x-quota-remaining"), a.body)
			}
			clock.Advance(time.Second)
			a = post(t, e.url, chatPath, "k1", chatBody(5), nil)
			if a.status != 200 || a.header.Get("x-quota-remaining") != "0" {
				t.Fatalf("at %s: %d remaining %q, want 200 and 0 after the 60-token answer (%s)", tc.end, a.status, a.header.Get("x-quota-remaining"), a.body)
			}
		})
	}
}

// TestTPMSequence replays a sequence of requests against a 100-token minute
// limit (apim mode, no estimation: used < limit admits, usage charged on
// response) and compares status, Retry-After and x-ratelimit-remaining-tokens
// with values computed by hand.
func TestTPMSequence(t *testing.T) {
	be := newSpy(t, 30)
	e := start(t, `
products: [{name: p, token_limits: [{tokens_per_minute: 100}]}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, be.srv.URL, nil)
	for i, s := range []struct {
		at        time.Duration // since t0
		status    int
		retry     string
		remaining string
	}{
		{0, 200, "", "70"},
		{10 * time.Second, 200, "", "40"},
		{20 * time.Second, 200, "", "10"},
		{30 * time.Second, 200, "", "0"},   // 90 < 100: admitted, crosses to 120
		{40 * time.Second, 429, "20", "0"}, // 120 used until the t0 charge expires at 60 s: 90 <= 99
		{59 * time.Second, 429, "1", "0"},
		{60 * time.Second, 200, "", "0"}, // 90 used: admitted, 120 again
		{70 * time.Second, 200, "", "0"}, // t0+10 expired: 90 used, admitted, 120
	} {
		e.clock.Advance(t0.Add(s.at).Sub(e.clock.Now()))
		a := post(t, e.url, chatPath, "k1", chatBody(5), nil)
		if a.status != s.status || a.header.Get("Retry-After") != s.retry || a.header.Get("x-ratelimit-remaining-tokens") != s.remaining {
			t.Fatalf("step %d at +%s: %d Retry-After %q remaining %q, want %d %q %q (%s)", i, s.at,
				a.status, a.header.Get("Retry-After"), a.header.Get("x-ratelimit-remaining-tokens"), s.status, s.retry, s.remaining, a.body)
		}
	}
}

// TestStrictSettlement checks that a strict reservation (prompt +
// max_tokens) is replaced by the reported usage when the answer arrives.
func TestStrictSettlement(t *testing.T) {
	be := newSpy(t, 100)
	e := start(t, `
products: [{name: p, token_limits: [{tokens_per_minute: 1000, mode: strict}]}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, be.srv.URL, nil)
	a := post(t, e.url, chatPath, "k1", chatBody(500), nil)
	if a.status != 200 || a.header.Get("x-ratelimit-remaining-tokens") != "900" {
		t.Fatalf("first: %d remaining %q, want 200 900", a.status, a.header.Get("x-ratelimit-remaining-tokens"))
	}
	// 900 left: a second 500-token reservation fits, settles to 100 again.
	a = post(t, e.url, chatPath, "k1", chatBody(500), nil)
	if a.status != 200 || a.header.Get("x-ratelimit-remaining-tokens") != "800" {
		t.Fatalf("second: %d remaining %q, want 200 800", a.status, a.header.Get("x-ratelimit-remaining-tokens"))
	}
	// 800 left: a reservation of prompt + 795 does not fit.
	a = post(t, e.url, chatPath, "k1", chatBody(795), nil)
	if a.status != 429 || a.header.Get("Retry-After") != "60" {
		t.Fatalf("third: %d Retry-After %q, want 429 60 (%s)", a.status, a.header.Get("Retry-After"), a.body)
	}
}

// TestSubscriptionKeyInQuery checks both keys in the subscription-key query
// parameter and that the header wins over the query.
func TestSubscriptionKeyInQuery(t *testing.T) {
	be := newSpy(t, 20)
	e := start(t, `
products: [{name: p}]
subscriptions: [{id: s1, key: primary-1, secondary_key: secondary-1, product: p, team: t}]
`, be.srv.URL, nil)
	for _, tc := range []struct {
		query, header string
		status        int
	}{
		{"primary-1", "", 200},
		{"secondary-1", "", 200},
		{"nope", "", 401},
		{"nope", "primary-1", 200},
		{"", "", 401},
	} {
		path := chatPath
		if tc.query != "" {
			path += "?subscription-key=" + url.QueryEscape(tc.query)
		}
		if a := post(t, e.url, path, tc.header, chatBody(5), nil); a.status != tc.status {
			t.Errorf("query %q header %q: %d, want %d (%s)", tc.query, tc.header, a.status, tc.status, a.body)
		}
	}
	for _, q := range be.queries {
		if v, _ := url.ParseQuery(q); v.Has("subscription-key") {
			t.Errorf("backend saw the subscription key in %q", q)
		}
	}
}

// TestJWTNotBeforeAndAudiences checks nbf with the clock skew and an
// audience list matched by any audience of the token.
func TestJWTNotBeforeAndAudiences(t *testing.T) {
	be := newSpy(t, 20)
	e := start(t, `
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
jwt:
  audiences: [api://one, api://two]
  clock_skew: 30s
  keys: [{kid: hs, alg: HS256, secret: "`+hsSecret+`"}]
`, be.srv.URL, nil)
	claims := func(kv ...any) jwt.MapClaims {
		c := jwt.MapClaims{"aud": "api://one", "sub": "u", "exp": t0.Add(time.Hour).Unix()}
		for i := 0; i < len(kv); i += 2 {
			c[kv[i].(string)] = kv[i+1]
		}
		return c
	}
	for _, tc := range []struct {
		name   string
		claims jwt.MapClaims
		status int
	}{
		{"nbf within the skew", claims("nbf", t0.Add(20*time.Second).Unix()), 200},
		{"nbf beyond the skew", claims("nbf", t0.Add(time.Minute).Unix()), 401},
		{"second audience", claims("aud", "api://two"), 200},
		{"audience array with one accepted", claims("aud", []string{"api://x", "api://two"}), 200},
		{"audience array with none accepted", claims("aud", []string{"api://x", "api://y"}), 401},
		{"exp exactly now", claims("exp", t0.Unix()), 200},
	} {
		tok := sign(t, jwt.SigningMethodHS256, []byte(hsSecret), "hs", tc.claims)
		a := post(t, e.url, chatPath, "k1", chatBody(5), map[string]string{"Authorization": "Bearer " + tok})
		if a.status != tc.status {
			t.Errorf("%s: %d, want %d (%s)", tc.name, a.status, tc.status, a.body)
		}
	}
}

// TestSeveralLimitsAllOrNothing checks two policies with different keys on
// one product: a refusal by one charges neither, and the answer's
// x-ratelimit-* headers describe the tightest window.
func TestSeveralLimitsAllOrNothing(t *testing.T) {
	be := newSpy(t, 60)
	e := start(t, `
products:
  - name: p
    token_limits:
      - {counter_key: subscription, tokens_per_minute: 1000, remaining_tokens_header_name: x-sub-remaining}
      - {counter_key: "header:x-user-id", tokens_per_minute: 100, remaining_tokens_header_name: x-user-remaining}
apis:
  - name: openai
    token_limits:
      - {counter_key: subscription, tokens_per_minute: 500, token_quota: 10000, token_quota_period: Daily, remaining_quota_tokens_header_name: x-quota}
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, be.srv.URL, nil)
	alice := map[string]string{"x-user-id": "alice"}
	bob := map[string]string{"x-user-id": "bob"}
	for i, s := range []struct {
		hdr                 map[string]string
		status              int
		sub, user, quota, x string
	}{
		{alice, 200, "940", "40", "9940", "40"},
		{alice, 200, "880", "0", "9880", "0"}, // 60 < 100: admitted, alice at 120
		{alice, 429, "880", "0", "9880", "0"}, // alice's counter refuses; nothing charged
		{bob, 200, "820", "40", "9820", "40"}, // the subscription counter is shared (its own limit 1000)
	} {
		e.clock.Advance(time.Second)
		a := post(t, e.url, chatPath, "k1", chatBody(5), s.hdr)
		got := []string{a.header.Get("x-sub-remaining"), a.header.Get("x-user-remaining"), a.header.Get("x-quota"), a.header.Get("x-ratelimit-remaining-tokens")}
		want := []string{s.sub, s.user, s.quota, s.x}
		if a.status != s.status || strconv.Quote(got[0]+got[1]+got[2]+got[3]) != strconv.Quote(want[0]+want[1]+want[2]+want[3]) {
			t.Fatalf("step %d: %d %q, want %d %q (%s)", i, a.status, got, s.status, want, a.body)
		}
	}
}

// TestSharedCounterPerPolicyHeaders checks two policies that share one
// counter (same key value) with different limits: the request is charged
// once, the lower limit refuses, and each policy's remaining-tokens header
// is its own limit minus the counter's usage.
func TestSharedCounterPerPolicyHeaders(t *testing.T) {
	be := newSpy(t, 300)
	e := start(t, `
products:
  - name: p
    token_limits: [{counter_key: subscription, tokens_per_minute: 1000, remaining_tokens_header_name: x-product-remaining}]
apis:
  - name: openai
    token_limits: [{counter_key: subscription, tokens_per_minute: 500, remaining_tokens_header_name: x-api-remaining}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, be.srv.URL, nil)
	for i, s := range []struct {
		status                     int
		product, api, limit, tight string
	}{
		{200, "700", "200", "500", "200"},
		{200, "400", "0", "500", "0"}, // 300 < 500: admitted, 600 used
		{429, "400", "0", "500", "0"}, // the API policy refuses; the product policy would admit
	} {
		e.clock.Advance(time.Second)
		a := post(t, e.url, chatPath, "k1", chatBody(5), nil)
		got := [...]string{a.header.Get("x-product-remaining"), a.header.Get("x-api-remaining"), a.header.Get("x-ratelimit-limit-tokens"), a.header.Get("x-ratelimit-remaining-tokens")}
		if want := [...]string{s.product, s.api, s.limit, s.tight}; a.status != s.status || got != want {
			t.Fatalf("step %d: %d %q, want %d %q (%s)", i, a.status, got, s.status, want, a.body)
		}
	}
	if r := e.sink.last(t); r.LimitTPM != 500 || r.RemainingTokens != 0 {
		t.Fatalf("record limit_tpm %d remaining %d, want 500 0", r.LimitTPM, r.RemainingTokens)
	}
}

// TestBreakerIntervalAndRecovery checks a count rule: failures older than
// the interval are forgotten, the breaker trips on the count within it,
// every backend open answers 503, and the breaker closes after the trip
// duration with a clean slate.
func TestBreakerIntervalAndRecovery(t *testing.T) {
	be := newSpy(t, 20)
	e := start(t, `
backends:
  - {name: a, url: `+be.srv.URL+`, circuit_breaker: {failure_count: 2, interval: 10s, status_ranges: ["500-599"], trip_duration: 30s}}
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, "", nil)
	for i, s := range []struct {
		at            time.Duration // since t0
		backend, want int
	}{
		{0, 500, 500},
		{11 * time.Second, 500, 500}, // the first failure is forgotten: 1 in the interval
		{12 * time.Second, 500, 500}, // 2 within 10 s: tripped until +42 s
		{13 * time.Second, 200, 503},
		{41 * time.Second, 200, 503},
		{42 * time.Second, 500, 500}, // closed again, history cleared: 1 failure
		{43 * time.Second, 200, 200},
	} {
		e.clock.Advance(t0.Add(s.at).Sub(e.clock.Now()))
		be.status.Store(int64(s.backend))
		if a := post(t, e.url, chatPath, "k1", chatBody(5), nil); a.status != s.want {
			t.Fatalf("step %d at +%s: got %d, want %d (%s)", i, s.at, a.status, s.want, a.body)
		}
	}
}

// TestEstimatedPromptCrossing checks estimate-prompt-tokens="true": the
// estimated prompt must fit in what is left, and Retry-After is the time
// until enough charges expire for it to fit.
func TestEstimatedPromptCrossing(t *testing.T) {
	be := newSpy(t, 80)
	e := start(t, `
products: [{name: p, token_limits: [{tokens_per_minute: 100, estimate_prompt_tokens: true}]}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, be.srv.URL, nil)
	if a := post(t, e.url, chatPath, "k1", chatBody(5), nil); a.status != 200 || a.header.Get("x-ratelimit-remaining-tokens") != "20" {
		t.Fatalf("first: %d remaining %q, want 200 20", a.status, a.header.Get("x-ratelimit-remaining-tokens"))
	}
	e.clock.Advance(15 * time.Second)
	// 20 left: a prompt of 30+ tokens does not fit; it waits for the first
	// charge (80 tokens at t0) to expire, 45 s from now.
	long := `{"model":"gpt-4o-mini","max_tokens":5,"messages":[{"role":"user","content":"` + strings.Repeat("word ", 40) + `"}]}`
	a := post(t, e.url, chatPath, "k1", long, nil)
	if a.status != 429 || a.header.Get("Retry-After") != "45" || a.header.Get("x-ratelimit-remaining-tokens") != "20" {
		t.Fatalf("long prompt: %d Retry-After %q remaining %q, want 429 45 20 (%s)", a.status, a.header.Get("Retry-After"), a.header.Get("x-ratelimit-remaining-tokens"), a.body)
	}
	// A short prompt fits in the 20 left.
	if a := post(t, e.url, chatPath, "k1", chatBody(5), nil); a.status != 200 {
		t.Fatalf("short prompt: %d (%s)", a.status, a.body)
	}
}
