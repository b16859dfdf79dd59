package apimxml_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/apimxml"
	"github.com/aiload/aiload/gateway/policy/policytest"
	"github.com/aiload/aiload/record"
)

// countersGateway serves a config whose product standard has the given
// policy document, on loopback and a fake clock, in front of one sample
// backend. Subscriptions sub-a and sub-b (keys key-a, key-b) are standard's;
// sub-b was created on 2022-02-20 at 00:37:00.
type countersGateway struct {
	url     string
	clock   *policytest.FakeClock
	sink    *memSink
	backend *sampleBackend
}

func startCounters(t *testing.T, product string, start time.Time) *countersGateway {
	t.Helper()
	g := &countersGateway{clock: policytest.NewFakeClock(start), sink: &memSink{}, backend: newSampleBackend(t, "b")}
	dir := t.TempDir()
	cfg := `products: [{name: standard}]
subscriptions:
  - {id: sub-a, key: key-a, product: standard, team: t1}
  - {id: sub-b, key: key-b, product: standard, team: t2, created: 2022-02-20T00:37:00Z}
backends: [{name: aoai, url: ` + g.backend.srv.URL + `}]
apim:
  products: {standard: standard.xml}
`
	for name, body := range map[string]string{"gateway.yaml": cfg, "standard.xml": product} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, warnings, err := apimxml.Load(filepath.Join(dir, "gateway.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warnings {
		t.Errorf("warning: %v", w)
	}
	gw, err := gateway.New(c, "", gateway.Options{Clock: g.clock, Sink: g.sink})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	g.url = srv.URL
	return g
}

// azure posts a chat completion on the Azure route with a subscription key.
func (g *countersGateway) azure(t *testing.T, key string) answer {
	t.Helper()
	return g.send(t, "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", key)
}

func (g *countersGateway) send(t *testing.T, path, key string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.url+path, strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Ocp-Apim-Subscription-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, body}
}

// refusal checks the last record: the refusal's status, outcome, counter
// and wait.
func (g *countersGateway) refusal(t *testing.T, status int, outcome record.Outcome, key string, retryMS int64) {
	t.Helper()
	r := g.sink.last(t)
	if r.Status != status || r.Outcome != outcome || r.CounterKey != key || r.RetryAfterMS != retryMS || r.Backend != "" {
		t.Fatalf("record: status %d outcome %s counter_key %q retry_after_ms %d backend %q; want %d %s %q %d and no backend",
			r.Status, r.Outcome, r.CounterKey, r.RetryAfterMS, r.Backend, status, outcome, key, retryMS)
	}
}

// TestRateLimitPerSubscription: <rate-limit> counts each subscription's
// calls in a sliding 90 s, names its headers, and its <api> element counts
// the openai API's calls in 30 s on its own. The fourth call gets API
// Management's 429 with the wait until the first call leaves the window;
// the window renews on the virtual clock.
func TestRateLimitPerSubscription(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	g := startCounters(t, `<policies>
  <inbound>
    <base />
    <rate-limit calls="3" renewal-period="90" retry-after-header-name="x-retry-in" remaining-calls-header-name="x-calls-left" total-calls-header-name="x-calls-total">
      <api name="openai" calls="1" renewal-period="30" />
    </rate-limit>
  </inbound>
</policies>`, t0)
	for i, left := range []string{"2", "1", "0"} {
		a := g.azure(t, "key-a")
		expect(t, "call "+left, a, 200, completion, map[string]string{"x-calls-left": left, "x-calls-total": "3", "x-request-id": "req-b-" + string(rune('1'+i))})
		g.clock.Advance(10 * time.Second)
	}
	a := g.azure(t, "key-a") // at 30 s: the call of 0 s leaves at 90 s
	expect(t, "fourth call", a, 429, `{ "statusCode": 429, "message": "Rate limit is exceeded. Try again in 60 seconds." }`,
		map[string]string{"x-retry-in": "60", "Retry-After": "", "x-calls-left": "0", "x-calls-total": "3", "Content-Type": "application/json"})
	g.refusal(t, 429, record.OutcomeThrottled, "rate-limit:sub-a", 60000)
	if got := g.backend.hits.Load(); got != 3 {
		t.Fatalf("backend hits %d, want 3: the refused call never reached it", got)
	}
	// Another subscription has its own counter.
	expect(t, "sub-b", g.azure(t, "key-b"), 200, completion, map[string]string{"x-calls-left": "2"})
	g.clock.Advance(60 * time.Second) // 90 s: the first call has left
	expect(t, "after the window", g.azure(t, "key-a"), 200, completion, map[string]string{"x-calls-left": "0"})

	// The openai API's own limit, through the OpenAI SDK: one call in 30 s.
	client := openai.NewClient(option.WithBaseURL(g.url+"/v1/"), option.WithAPIKey("key-b"), option.WithMaxRetries(0))
	params := openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
	if _, err := client.Chat.Completions.New(context.Background(), params); err != nil {
		t.Fatalf("first openai call: %v", err)
	}
	g.clock.Advance(5 * time.Second)
	_, err := client.Chat.Completions.New(context.Background(), params)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Response.Header.Get("x-retry-in") != "25" {
		t.Fatalf("second openai call within 30 s: %v, want 429 with x-retry-in 25", err)
	}
	if dump := apiErr.DumpResponse(true); !strings.HasSuffix(string(dump), "\r\n\r\n"+`{ "statusCode": 429, "message": "Rate limit is exceeded. Try again in 25 seconds." }`) {
		t.Fatalf("SDK error response:\n%s", dump)
	}
	g.refusal(t, 429, record.OutcomeThrottled, "rate-limit:openai:sub-b", 25000)
	g.clock.Advance(25 * time.Second)
	if _, err := client.Chat.Completions.New(context.Background(), params); err != nil {
		t.Fatalf("openai call after 30 s: %v", err)
	}
}

// TestRateLimitByKeyIncrementCondition: rate-limit-by-key over 120 s that
// counts only answers of 200, two units each. A backend's 429 is relayed
// and not counted; once the counter is over the limit the next call is
// refused (API Management's "one call later": the count follows the answer).
func TestRateLimitByKeyIncrementCondition(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	g := startCounters(t, `<policies>
  <inbound>
    <base />
    <rate-limit-by-key calls="3" renewal-period="120" counter-key="@(context.Request.Headers.GetValueOrDefault(&quot;x-team&quot;,&quot;none&quot;))"
        increment-condition="@(context.Response.StatusCode == 200)" increment-count="2" />
  </inbound>
</policies>`, t0)
	g.backend.status.Store(429)
	for i := range 4 {
		expect(t, "backend 429", g.azure(t, "key-a"), 429, throttled, map[string]string{"Retry-After": "10"})
		if r := g.sink.last(t); r.Outcome != record.OutcomeBackendThrottled {
			t.Fatalf("call %d: outcome %s, want backend_throttled", i, r.Outcome)
		}
	}
	g.backend.status.Store(200)
	expect(t, "first 200", g.azure(t, "key-a"), 200, completion, nil) // counter 2
	g.clock.Advance(30 * time.Second)
	expect(t, "second 200", g.azure(t, "key-a"), 200, completion, nil) // 2 <= 3 passes; counter 4
	g.clock.Advance(30 * time.Second)
	expect(t, "over the limit", g.azure(t, "key-b"), 429, `{ "statusCode": 429, "message": "Rate limit is exceeded. Try again in 60 seconds." }`,
		map[string]string{"Retry-After": "60"})
	g.refusal(t, 429, record.OutcomeThrottled, "none", 60000)
	g.clock.Advance(60 * time.Second) // the first 200 leaves: counter 2
	expect(t, "renewed", g.azure(t, "key-b"), 200, completion, nil)
}

// TestQuotaPerSubscription: <quota> of 2 calls per subscription in fixed
// periods of 600 s counted from the subscription's creation, as API
// Management counts them (from 0001-01-01 for a subscription the config
// gives no creation time): the third call of the period gets 403 "Out of
// call volume quota. Quota will be replenished in 00:08:24." with
// Retry-After 504, and the next period starts empty on the virtual clock.
func TestQuotaPerSubscription(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2022, 2, 20, 0, 40, 30, 0, time.UTC)
	g := startCounters(t, `<policies>
  <inbound>
    <base />
    <quota calls="2" renewal-period="600" />
  </inbound>
</policies>`, t0)
	expect(t, "first", g.azure(t, "key-a"), 200, completion, nil)
	expect(t, "second", g.azure(t, "key-a"), 200, completion, nil)
	g.clock.Advance(66 * time.Second) // 00:41:36
	expect(t, "third", g.azure(t, "key-a"), 403, `{ "statusCode": 403, "message": "Out of call volume quota. Quota will be replenished in 00:08:24." }`,
		map[string]string{"Retry-After": "504", "Content-Type": "application/json"})
	g.refusal(t, 403, record.OutcomeQuotaExceeded, "quota:sub-a", 504000)
	// sub-b's periods start at 00:37, 00:47 …: its own counter, and its
	// third call waits until 00:47:00.
	expect(t, "sub-b first", g.azure(t, "key-b"), 200, completion, nil)
	expect(t, "sub-b second", g.azure(t, "key-b"), 200, completion, nil)
	expect(t, "sub-b third", g.azure(t, "key-b"), 403, `{ "statusCode": 403, "message": "Out of call volume quota. Quota will be replenished in 00:05:24." }`,
		map[string]string{"Retry-After": "324"})
	g.refusal(t, 403, record.OutcomeQuotaExceeded, "quota:sub-b", 324000)
	g.clock.Advance(324 * time.Second) // 00:47:00: sub-b's new period, not sub-a's
	expect(t, "sub-b next period", g.azure(t, "key-b"), 200, completion, nil)
	expect(t, "sub-a same period", g.azure(t, "key-a"), 403, `{ "statusCode": 403, "message": "Out of call volume quota. Quota will be replenished in 00:03:00." }`,
		map[string]string{"Retry-After": "180"})
	g.clock.Advance(180 * time.Second) // 00:50:00: sub-a's new period
	expect(t, "sub-a next period", g.azure(t, "key-a"), 200, completion, nil)
	if got := g.backend.hits.Load(); got != 6 {
		t.Fatalf("backend hits %d, want 6", got)
	}
}

// TestQuotaByKeyBandwidthAndDays: quota-by-key per team with a call quota
// and a bandwidth quota of 1 KB, both counted only on answers below 400, in
// periods of two days from first-period-start. A backend's 429 counts
// nothing; the bandwidth (request and answer bodies) runs out first: 403
// "Out of bandwidth quota." with the wait in .NET's d.hh:mm:ss.
func TestQuotaByKeyBandwidthAndDays(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	g := startCounters(t, `<policies>
  <inbound>
    <base />
    <quota-by-key calls="10" bandwidth="1" renewal-period="172800" first-period-start="2026-11-30T12:00:00Z"
        counter-key="@(context.Request.Headers.GetValueOrDefault(&quot;x-team&quot;,&quot;none&quot;))"
        increment-condition="@(context.Response.StatusCode &gt;= 200 &amp;&amp; context.Response.StatusCode &lt; 400)" />
  </inbound>
</policies>`, t0)
	g.backend.status.Store(429)
	for range 5 {
		expect(t, "backend 429", g.azure(t, "key-a"), 429, throttled, nil)
	}
	g.backend.status.Store(200)
	// A call is 302 bytes (a request of 62, an answer of 240): after three
	// calls 906 of 1,024 bytes are used, so the fourth passes and the fifth
	// finds 1,208.
	for i := range 4 {
		expect(t, "call "+string(rune('1'+i)), g.azure(t, []string{"key-a", "key-b"}[i%2]), 200, completion, nil)
		g.clock.Advance(15 * time.Minute)
	}
	expect(t, "fifth", g.azure(t, "key-a"), 403, `{ "statusCode": 403, "message": "Out of bandwidth quota. Quota will be replenished in 1.02:00:00." }`,
		map[string]string{"Retry-After": "93600"})
	g.refusal(t, 403, record.OutcomeQuotaExceeded, "none", 93600000)
	g.clock.Advance(26 * time.Hour) // 2026-12-02T12:00: the next period
	expect(t, "next period", g.azure(t, "key-a"), 200, completion, nil)
}

// TestCounterPolicyErrors: what gateway check refuses in the call policies,
// at the attribute's line and column.
func TestCounterPolicyErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, doc, want string
	}{
		// API Management's longest sliding window is 300 s
		{"window", `<policies><inbound>
  <rate-limit-by-key calls="5" renewal-period="301" counter-key="@(context.Subscription.Id)" />
</inbound></policies>`, `p.xml:2:32: renewal-period on <rate-limit-by-key> must be 1 to 300 seconds (API Management's longest sliding window), got "301"`},
		// an increment condition over anything but the answer's status is named
		{"condition", `<policies><inbound>
  <rate-limit-by-key calls="5" renewal-period="60" counter-key="x" increment-condition="@(context.Request.Method == &quot;POST&quot;)" />
</inbound></policies>`, `p.xml:2:68: increment-condition on <rate-limit-by-key>: `},
		{"count", `<policies><inbound>
  <rate-limit-by-key calls="5" renewal-period="60" counter-key="x" increment-count="0" />
</inbound></policies>`, `p.xml:2:68: increment-count on <rate-limit-by-key> must be >= 1, got "0"`},
		// quota-by-key's shortest period is 300 s; 0 never renews
		{"short period", `<policies><inbound>
  <quota-by-key calls="5" renewal-period="60" counter-key="x" />
</inbound></policies>`, `p.xml:2:27: renewal-period on <quota-by-key> must be 0 (never renews) or at least 300 seconds, as in API Management, got "60"`},
		{"neither", `<policies><inbound>
  <quota renewal-period="3600" />
</inbound></policies>`, `p.xml:2:3: <quota> needs calls, bandwidth or both`},
		{"start", `<policies><inbound>
  <quota-by-key calls="5" renewal-period="3600" counter-key="x" first-period-start="2026-01-01" />
</inbound></policies>`, `p.xml:2:65: first-period-start must be yyyy-MM-ddTHH:mm:ssZ (UTC), got "2026-01-01"`},
		// <api> names one of the gateway's APIs
		{"api", `<policies><inbound>
  <rate-limit calls="5" renewal-period="60"><api name="petstore" calls="1" renewal-period="10" /></rate-limit>
</inbound></policies>`, `p.xml:2:50: <api> name "petstore" names no api of aiload's gateway`},
		{"operation", `<policies><inbound>
  <quota calls="5" renewal-period="60"><api id="openai" calls="1" renewal-period="60"><operation name="images" calls="1" renewal-period="60" /></api></quota>
</inbound></policies>`, `p.xml:2:98: <operation> name "images" names no operation of aiload's gateway`},
	} {
		_, _, err := apimxml.Parse("p.xml", []byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}
