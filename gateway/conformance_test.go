package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/store"
	"github.com/aiload/aiload/record"
)

// TestConformance runs one case per documented behaviour of the gateway
// (docs/gateway.md and API Management's llm-token-limit, backends and
// validate-jwt documentation), over loopback HTTP with a fake clock.
func TestConformance(t *testing.T) {
	t.Parallel()
	runBehaviours(t, []behaviour{
		// llm-token-limit: "tokens-per-minute exceeded -> 429", "token-quota
		// exceeded -> 403"; quota is a fixed window from the UTC hour.
		{"quota 403 vs tpm 429", quotaVersusTPM},
		// llm-token-limit, estimate-prompt-tokens=false: "prompts exceeding
		// the limit can be sent ... all succeeding requests will be blocked".
		{"apim over-admits concurrent requests", apimOverAdmission},
		// docs/gateway.md strict mode: prompt + max_tokens reserved, admitted
		// tokens never exceed the limit.
		{"strict never over-admits", strictNoOverAdmission},
		// strict mode without max_tokens: the default cap is reserved and
		// set on the forwarded request.
		{"strict caps max_tokens", strictCapsMaxTokens},
		// counter-key: "For each key value, a single counter is used".
		{"counter keys by ip, header and jwt claim", counterKeys},
		// retry-after-header-name, remaining-tokens-header-name,
		// remaining-quota-tokens-header-name, tokens-consumed-header-name.
		{"custom limit headers", customHeaders},
		// Several policies at once: per-user TPM inside a subscription quota,
		// plus a per-API limit.
		{"policies per product and per api", productAndAPIPolicies},
		// Subscriptions: primary and secondary keys; 401 otherwise.
		{"primary and secondary keys", subscriptionKeys},
		// The caller's Authorization and subscription key never reach a
		// backend; the backend gets the gateway's own api-key.
		{"caller credentials stay at the gateway", credentialsStay},
		// Bad requests: 4xx OpenAI-style, outcome bad_request, no backend call.
		{"bad requests never reach a backend", badRequests},
		// backends: "503 Service Unavailable" while every breaker is tripped.
		{"503 when every backend is open", allOpen},
		// llm-emit-token-metric dimensions go into record dims.
		{"token metric dimensions", dimensions},
		// estimate-prompt-tokens=true: the estimated prompt must fit at
		// admission; images count 1200 tokens each in the estimate.
		{"estimate-prompt-tokens refuses what does not fit", estimatePrompt},
		// A counter store that fails: 503 with Retry-After, nothing admitted
		// unchecked.
		{"counter store failure", storeFailure},
		// Unknown routes get an OpenAI-style 404.
		{"unknown route", unknownRoute},
		// A backend answer without usage is charged an estimate, flagged.
		{"answer without usage is estimated", noUsage},
	})
}

func quotaVersusTPM(t *testing.T) {
	be := newSpy(t, 600)
	e := start(t, `
products:
  - name: p
    token_limits:
      - {counter_key: subscription, tokens_per_minute: 1000}
      - {counter_key: subscription, token_quota: 1500, token_quota_period: Hourly}
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, be.srv.URL, nil)
	steps := []struct {
		advance time.Duration
		status  int
		outcome record.Outcome
		retry   string
	}{
		{0, 200, record.OutcomeOK, ""},                          // 600 used
		{time.Second, 200, record.OutcomeOK, ""},                // 600 < 1000: passes, crosses to 1200
		{time.Second, 429, record.OutcomeThrottled, "58"},       // minute full until the first charge expires
		{time.Minute, 200, record.OutcomeOK, ""},                // minute freed; quota now 1800 > 1500
		{time.Second, 403, record.OutcomeQuotaExceeded, "3537"}, // at 12:01:03, quota waits until 13:00 UTC
	}
	for i, s := range steps {
		e.clock.Advance(s.advance)
		a := post(t, e.url, chatPath, "k1", chatBody(100), nil)
		rec := e.sink.last(t)
		if a.status != s.status || rec.Outcome != s.outcome || a.header.Get("Retry-After") != s.retry {
			t.Fatalf("step %d: status %d outcome %s Retry-After %q, want %d %s %q (body %s)",
				i, a.status, rec.Outcome, a.header.Get("Retry-After"), s.status, s.outcome, s.retry, a.body)
		}
		if s.status != 200 && (!rec.TokensEstimated || rec.TotalTokens == 0 || rec.RetryAfterMS == 0) {
			t.Fatalf("step %d: refused record should carry the requested tokens, estimated: %+v", i, rec)
		}
	}
	if got := be.hits.Load(); got != 3 {
		t.Fatalf("backend saw %d requests, want 3", got)
	}
}

// fire sends n concurrent requests while the backend holds every answer
// until all n were either admitted (arrived at the backend) or refused.
func fire(t *testing.T, e *env, be *spy, n int, body string) (ok, throttled int) {
	t.Helper()
	hold := make(chan struct{})
	be.mu.Lock()
	be.hold = hold
	be.mu.Unlock()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var refused int64
	statuses := make(chan int, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := post(t, e.url, chatPath, "k1", body, nil)
			if a.status != 200 {
				mu.Lock()
				refused++
				mu.Unlock()
			}
			statuses <- a.status
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		done := be.arrivals.Load()+refused == int64(n)
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(hold)
	wg.Wait()
	close(statuses)
	for s := range statuses {
		switch s {
		case 200:
			ok++
		case 429:
			throttled++
		default:
			t.Fatalf("unexpected status %d", s)
		}
	}
	return ok, throttled
}

func apimOverAdmission(t *testing.T) {
	be := newSpy(t, 100)
	e := start(t, `
products: [{name: p, token_limits: [{counter_key: subscription, tokens_per_minute: 1000, mode: apim}]}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, be.srv.URL, nil)
	ok, _ := fire(t, e, be, 50, chatBody(90))
	if ok != 50 {
		t.Fatalf("apim mode admitted %d of 50 concurrent requests, want all 50 (usage is only known on response)", ok)
	}
	// 5000 tokens were charged against 1000: the next request is blocked.
	a := post(t, e.url, chatPath, "k1", chatBody(90), nil)
	if a.status != 429 || a.header.Get("Retry-After") != "60" {
		t.Fatalf("after over-admission got %d Retry-After %q, want 429 until the window frees (60)", a.status, a.header.Get("Retry-After"))
	}
	e.clock.Advance(time.Minute)
	if a := post(t, e.url, chatPath, "k1", chatBody(90), nil); a.status != 200 {
		t.Fatalf("once the window freed: %d, want 200", a.status)
	}
}

func strictNoOverAdmission(t *testing.T) {
	be := newSpy(t, 100)
	e := start(t, `
products: [{name: p, token_limits: [{counter_key: subscription, tokens_per_minute: 1000, mode: strict}]}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, be.srv.URL, nil)
	ok, throttled := fire(t, e, be, 50, chatBody(90))
	var used int64
	for _, r := range e.sink.all() {
		if r.Outcome == record.OutcomeOK {
			used += r.TotalTokens
		}
	}
	// Each request reserves its estimated prompt (~9) + max_tokens 90 and
	// uses 100: at most 10 fit in 1000.
	if ok == 0 || throttled == 0 || ok+throttled != 50 || used > 1000 {
		t.Fatalf("strict: %d admitted, %d throttled, %d tokens used; want some of each and at most 1000 tokens", ok, throttled, used)
	}
}

func strictCapsMaxTokens(t *testing.T) {
	be := newSpy(t, 100)
	e := start(t, `
products: [{name: p, token_limits: [{tokens_per_minute: 100000, mode: strict, default_max_tokens: 512}]}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, be.srv.URL, nil)
	a := post(t, e.url, chatPath, "k1", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`, nil)
	if a.status != 200 || !strings.Contains(string(be.bodies[0]), `"max_tokens":512`) {
		t.Fatalf("status %d, forwarded body %s; want max_tokens 512 set", a.status, be.bodies[0])
	}
	// Reasoning models take max_completion_tokens instead.
	a = post(t, e.url, chatPath, "k1", `{"model":"o3-mini","messages":[{"role":"user","content":"hi"}]}`, nil)
	if a.status != 200 || !strings.Contains(string(be.bodies[1]), `"max_completion_tokens":512`) || strings.Contains(string(be.bodies[1]), `"max_tokens"`) {
		t.Fatalf("status %d, forwarded body %s; want max_completion_tokens 512 set", a.status, be.bodies[1])
	}
}

func counterKeys(t *testing.T) {
	jwtFor := func(sub string) string { return "Bearer " + unsignedJWT(map[string]any{"sub": sub}) }
	for _, tc := range []struct {
		key        string
		hops       int
		same, diff map[string]string // request headers sharing / not sharing a counter
	}{
		// client IP from X-Forwarded-For behind one trusted proxy
		{"ip", 1, map[string]string{"X-Forwarded-For": "203.0.113.7"}, map[string]string{"X-Forwarded-For": "203.0.113.8"}},
		// APIM expression for the same
		{"@(context.Request.IpAddress)", 1, map[string]string{"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}, map[string]string{"X-Forwarded-For": "203.0.113.9"}},
		// a header
		{"header:x-user-id", 0, map[string]string{"x-user-id": "alice"}, map[string]string{"x-user-id": "bob"}},
		{`@(context.Request.Headers.GetValueOrDefault("x-user-id",""))`, 0, map[string]string{"x-user-id": "alice"}, map[string]string{"x-user-id": "bob"}},
		// a JWT claim (read as AsJwt() does, without validate-jwt)
		{"jwt:sub", 0, map[string]string{"Authorization": jwtFor("u1")}, map[string]string{"Authorization": jwtFor("u2")}},
		{`@(context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt()?.Subject)`, 0, map[string]string{"Authorization": jwtFor("u1")}, map[string]string{"Authorization": jwtFor("u2")}},
	} {
		be := newSpy(t, 150)
		e := start(t, `
trusted_proxy_hops: `+itoa(int64(tc.hops))+`
products: [{name: p, token_limits: [{counter_key: '`+tc.key+`', tokens_per_minute: 100}]}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, be.srv.URL, nil)
		first := post(t, e.url, chatPath, "k1", chatBody(10), tc.same)
		second := post(t, e.url, chatPath, "k1", chatBody(10), tc.same)
		other := post(t, e.url, chatPath, "k1", chatBody(10), tc.diff)
		if first.status != 200 || second.status != 429 || other.status != 200 {
			t.Errorf("counter key %q: statuses %d, %d, %d; want 200, 429 (same key), 200 (other key)", tc.key, first.status, second.status, other.status)
		}
	}
}

func customHeaders(t *testing.T) {
	be := newSpy(t, 300)
	e := start(t, `
products:
  - name: p
    token_limits:
      - counter_key: subscription
        tokens_per_minute: 500
        token_quota: 10000
        token_quota_period: Daily
        retry_after_header_name: x-retry-in
        remaining_tokens_header_name: x-left-minute
        remaining_quota_tokens_header_name: x-left-quota
        tokens_consumed_header_name: x-consumed
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, be.srv.URL, nil)
	a := post(t, e.url, chatPath, "k1", chatBody(10), nil)
	h := a.header
	if a.status != 200 || h.Get("x-left-minute") != "200" || h.Get("x-left-quota") != "9700" || h.Get("x-consumed") != "300" ||
		h.Get("x-ratelimit-remaining-tokens") != "200" || h.Get("x-ratelimit-limit-tokens") != "500" {
		t.Fatalf("after 300 tokens: status %d headers %v", a.status, h)
	}
	post(t, e.url, chatPath, "k1", chatBody(10), nil) // crosses the limit
	a = post(t, e.url, chatPath, "k1", chatBody(10), nil)
	if a.status != 429 || a.header.Get("x-retry-in") != "60" || a.header.Get("Retry-After") != "" {
		t.Fatalf("throttled: status %d x-retry-in %q Retry-After %q", a.status, a.header.Get("x-retry-in"), a.header.Get("Retry-After"))
	}
}

func productAndAPIPolicies(t *testing.T) {
	be := newSpy(t, 100)
	e := start(t, `
products:
  - name: p
    token_limits:
      - {counter_key: "subscription+header:x-user-id", tokens_per_minute: 150}
      - {counter_key: subscription, token_quota: 100000, token_quota_period: Monthly}
apis:
  - name: azure-openai
    token_limits: [{counter_key: api, tokens_per_minute: 250}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, be.srv.URL, nil)
	azure := "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21"
	for i, s := range []struct {
		path, user string
		want       int
	}{
		{azure, "alice", 200},    // alice 100, api 100
		{azure, "alice", 200},    // alice 200 (crossed), api 200
		{azure, "alice", 429},    // alice blocked by her per-user TPM
		{azure, "bob", 200},      // bob 100, api 300 (crossed)
		{azure, "carol", 429},    // the API-wide limit blocks everyone on this API
		{chatPath, "carol", 200}, // the OpenAI route is another API
	} {
		a := post(t, e.url, s.path, "k1", chatBody(10), map[string]string{"x-user-id": s.user})
		if a.status != s.want {
			t.Fatalf("step %d (%s on %s): got %d, want %d: %s", i, s.user, s.path, a.status, s.want, a.body)
		}
	}
	if r := e.sink.last(t); r.RemainingQuotaTokens != 100000-400 {
		t.Fatalf("remaining quota %d, want %d (four answers of 100)", r.RemainingQuotaTokens, 100000-400)
	}
}

func subscriptionKeys(t *testing.T) {
	be := newSpy(t, 20)
	e := start(t, `
products: [{name: p}]
subscriptions: [{id: s1, key: primary-key-1, secondary_key: secondary-key-1, product: p, team: t}]
`, be.srv.URL, nil)
	for _, tc := range []struct {
		hdr  map[string]string
		path string
		want int
	}{
		{map[string]string{"Ocp-Apim-Subscription-Key": "primary-key-1"}, chatPath, 200},
		{map[string]string{"api-key": "secondary-key-1"}, chatPath, 200},                 // the header OpenAI SDKs send to Azure
		{nil, chatPath + "?subscription-key=primary-key-1", 200},                         // query parameter
		{map[string]string{"Ocp-Apim-Subscription-Key": "primary-key-2"}, chatPath, 401}, // wrong key
		{nil, chatPath, 401}, // missing key
	} {
		a := post(t, e.url, tc.path, "", chatBody(5), tc.hdr)
		if a.status != tc.want {
			t.Errorf("%v %s: got %d, want %d", tc.hdr, tc.path, a.status, tc.want)
		}
	}
	for _, r := range e.sink.all() {
		if r.Outcome == record.OutcomeUnauthorized && r.SubscriptionID != "" {
			t.Errorf("unauthorized record names subscription %q", r.SubscriptionID)
		}
	}
}

func credentialsStay(t *testing.T) {
	be := newSpy(t, 20)
	e := start(t, `
backends: [{name: b, url: `+be.srv.URL+`, api_key: gateway-own-key}]
products: [{name: p}]
subscriptions: [{id: s1, key: caller-key-1, product: p, team: t}]
`, "", nil)
	a := post(t, e.url, "/openai/deployments/d1/chat/completions?api-version=2024-10-21&subscription-key=caller-key-1", "caller-key-1", chatBody(5),
		map[string]string{"Authorization": "Bearer caller-token", "api-key": "caller-key-1"})
	if a.status != 200 {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	h, q := be.headers[0], be.queries[0]
	if h.Get("api-key") != "gateway-own-key" || h.Get("Authorization") != "" || h.Get("Ocp-Apim-Subscription-Key") != "" ||
		strings.Contains(q, "caller-key") || q != "api-version=2024-10-21" {
		t.Fatalf("backend got headers %v query %q", h, q)
	}
	for _, r := range e.sink.all() {
		if strings.Contains(indent(recordJSON(r)), "caller-key-1") {
			t.Fatalf("record carries the caller's key: %s", recordJSON(r))
		}
	}
}

func badRequests(t *testing.T) {
	be := newSpy(t, 20)
	e := start(t, `
max_body_bytes: 2048
backends: [{name: b, url: `+be.srv.URL+`, deployments: [gpt-4o-mini]}]
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, "", nil)
	for _, tc := range []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"malformed JSON", chatPath, `{"model":`, 400, "invalid_json"},
		{"missing messages", chatPath, `{"model":"gpt-4o-mini"}`, 400, "missing_required_parameter"},
		{"missing model", chatPath, `{"messages":[{"role":"user","content":"x"}]}`, 400, "missing_model"},
		{"empty messages", chatPath, `{"model":"gpt-4o-mini","messages":[]}`, 400, "empty_array"},
		{"body over the limit", chatPath, `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("x", 4096) + `"}]}`, 413, "request_too_large"},
		{"unknown deployment", "/openai/deployments/nope/chat/completions", chatBody(5), 404, "DeploymentNotFound"},
		{"unknown model", chatPath, `{"model":"nope","messages":[{"role":"user","content":"x"}]}`, 404, "model_not_found"},
	} {
		a := post(t, e.url, tc.path, "k1", tc.body, nil)
		rec := e.sink.last(t)
		if a.status != tc.status || a.errorCode(t) != tc.code || rec.Outcome != record.OutcomeBadRequest || rec.Status != tc.status {
			t.Errorf("%s: status %d code %q outcome %s; want %d %q bad_request", tc.name, a.status, a.errorCode(t), rec.Outcome, tc.status, tc.code)
		}
	}
	// A value of the wrong type is named by its field and JSON kinds, as
	// OpenAI words it, never by the gateway's Go types.
	for _, tc := range []struct{ body, msg string }{
		{`{"model":"gpt-4o-mini","messages":"hello"}`, "Invalid type for 'messages': expected an array, but got a string instead."},
		{`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"max_tokens":1.5}`, "Invalid type for 'max_tokens': expected an integer, but got a number instead."},
		{`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":1}}`, "Invalid type for 'stream_options.include_usage': expected a boolean, but got a number instead."},
		{`[{"model":"gpt-4o-mini"}]`, "We could not parse the JSON body of your request: expected an object, but got an array instead."},
	} {
		a := post(t, e.url, chatPath, "k1", tc.body, nil)
		var got struct {
			Error struct{ Message, Code string }
		}
		_ = json.Unmarshal(a.body, &got)
		if a.status != 400 || got.Error.Code != "invalid_type" || got.Error.Message != tc.msg {
			t.Errorf("%s: %d %s; want 400 invalid_type %q", tc.body, a.status, a.body, tc.msg)
		}
	}
	// The field at fault is named in param, as OpenAI names it.
	for _, tc := range []struct{ body, param, code string }{
		{`{"model":"gpt-4o-mini","messages":[]}`, "messages", "empty_array"},
		{`{"model":"gpt-4o-mini"}`, "messages", "missing_required_parameter"},
		{`{"model":"gpt-4o-mini","messages":"hello"}`, "messages", "invalid_type"},
		{`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"x"}],"max_tokens":-3}`, "max_tokens", "integer_below_min_value"},
	} {
		a := post(t, e.url, chatPath, "k1", tc.body, nil)
		var got struct {
			Error struct {
				Param *string
				Code  string
			}
		}
		_ = json.Unmarshal(a.body, &got)
		if a.status != 400 || got.Error.Param == nil || *got.Error.Param != tc.param || got.Error.Code != tc.code {
			t.Errorf("%s: %d %s; want 400 with param %q and code %q", tc.body, a.status, a.body, tc.param, tc.code)
		}
	}
	if n := be.hits.Load(); n != 0 {
		t.Fatalf("%d bad requests reached the backend", n)
	}
}

func allOpen(t *testing.T) {
	be := newSpy(t, 20)
	be.status.Store(500)
	e := start(t, `
backends:
  - {name: only, url: `+be.srv.URL+`, circuit_breaker: {failure_count: 1, trip_duration: 30s}}
products: [{name: p, token_limits: [{tokens_per_minute: 10000, mode: strict}]}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, "", nil)
	if a := post(t, e.url, chatPath, "k1", chatBody(5), nil); a.status != 500 {
		t.Fatalf("first: %d, want the backend's 500 relayed", a.status)
	}
	a := post(t, e.url, chatPath, "k1", chatBody(5), nil)
	rec := e.sink.last(t)
	if a.status != http.StatusServiceUnavailable || a.errorCode(t) != "circuit_open" || rec.Outcome != record.OutcomeCircuitOpen {
		t.Fatalf("second: %d %s outcome %s; want 503 circuit_open", a.status, a.body, rec.Outcome)
	}
	if rec.RemainingTokens != 10000 {
		t.Fatalf("a request no backend served keeps its reservation: remaining %d, want 10000", rec.RemainingTokens)
	}
	e.clock.Advance(30 * time.Second)
	be.status.Store(200)
	if a := post(t, e.url, chatPath, "k1", chatBody(5), nil); a.status != 200 {
		t.Fatalf("after the trip duration: %d, want 200", a.status)
	}
}

func dimensions(t *testing.T) {
	be := newSpy(t, 20)
	e := start(t, `
user_id_header: x-user-id
emit_token_metric:
  dimensions:
    - {name: Subscription ID}
    - {name: User ID}
    - {name: Client IP}
    - {name: Backend ID}
    - {name: tenant, value: '@(context.Request.Headers.GetValueOrDefault("x-tenant","none"))'}
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: t, metadata: {cost_center: cc-9}}]
`, be.srv.URL, nil)
	post(t, e.url, chatPath, "k1", chatBody(5), map[string]string{"x-user-id": "alice", "x-tenant": "acme"})
	r := e.sink.last(t)
	want := map[string]string{"Subscription ID": "s1", "User ID": "alice", "Client IP": "127.0.0.1", "Backend ID": "mock", "tenant": "acme", "sub.cost_center": "cc-9"}
	for k, v := range want {
		if r.Dims[k] != v {
			t.Errorf("dims[%q] = %q, want %q (dims %v)", k, r.Dims[k], v, r.Dims)
		}
	}
	if r.UserID != "alice" {
		t.Errorf("user_id = %q, want alice", r.UserID)
	}
}

func estimatePrompt(t *testing.T) {
	be := newSpy(t, 20)
	e := start(t, `
products: [{name: p, token_limits: [{tokens_per_minute: 1000, estimate_prompt_tokens: true}]}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, be.srv.URL, nil)
	image := `{"model":"gpt-4o","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]}`
	a := post(t, e.url, chatPath, "k1", image, nil)
	if r := e.sink.last(t); a.status != 429 || r.PromptTokens < 1200 || !r.TokensEstimated {
		t.Fatalf("image prompt estimated at %d tokens against 1000 TPM: status %d, want 429", r.PromptTokens, a.status)
	}
	if a := post(t, e.url, chatPath, "k1", chatBody(5), nil); a.status != 200 {
		t.Fatalf("small prompt: %d", a.status)
	}
	if be.hits.Load() != 1 {
		t.Fatalf("backend saw %d requests, want 1", be.hits.Load())
	}
}

// failingStore is a store.Store whose operations fail as a Redis store's
// do when its server is down at addr.
type failingStore struct{ addr string }

var errStoreDown = errors.New("connection refused")

func (f failingStore) err() error { return fmt.Errorf("dial tcp %s: %w", f.addr, errStoreDown) }

func (f failingStore) Reserve(context.Context, time.Time, []store.Check) (store.Verdict, error) {
	return store.Verdict{}, f.err()
}

func (f failingStore) Settle(context.Context, time.Time, time.Time, []store.Check, int64) ([]int64, error) {
	return nil, f.err()
}

var _ store.Store = failingStore{}

func storeFailure(t *testing.T) {
	be := newSpy(t, 20)
	var cfg gateway.Config
	if err := yaml.Unmarshal([]byte(`
products: [{name: p, tokens_per_minute: 1000}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`), &cfg); err != nil {
		t.Fatal(err)
	}
	s := &sink{}
	gw, err := gateway.New(cfg, be.srv.URL, gateway.Options{Sink: s, Store: failingStore{}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	defer srv.Close()
	a := post(t, srv.URL, chatPath, "k1", chatBody(5), nil)
	if a.status != 503 || a.header.Get("Retry-After") != "1" || a.errorCode(t) != "counter_store_unavailable" || be.hits.Load() != 0 {
		t.Fatalf("status %d Retry-After %q, backend hits %d; want 503, 1, none", a.status, a.header.Get("Retry-After"), be.hits.Load())
	}
}

func unknownRoute(t *testing.T) {
	e := start(t, `
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, "http://127.0.0.1:9", nil)
	a := post(t, e.url, "/v1/images/generations", "k1", `{}`, nil)
	if a.status != 404 || a.errorCode(t) != "not_found" {
		t.Fatalf("status %d body %s", a.status, a.body)
	}
}

func noUsage(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"one two three four five"},"finish_reason":"stop"}]}`))
	}))
	t.Cleanup(be.Close)
	e := start(t, `
products: [{name: p, tokens_per_minute: 1000}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, be.URL, nil)
	a := post(t, e.url, chatPath, "k1", chatBody(5), nil)
	r := e.sink.last(t)
	if a.status != 200 || !r.TokensEstimated || r.CompletionTokens != 5 || r.PromptTokens == 0 || r.RemainingTokens != 1000-r.TotalTokens {
		t.Fatalf("record %+v", r)
	}
}
