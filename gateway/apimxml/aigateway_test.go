package apimxml_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/apimxml"
	"github.com/aiload/aiload/gateway/policy/policytest"
	"github.com/aiload/aiload/record"
)

// aiGatewayConfig names the documents of testdata/aigateway, shaped like
// Microsoft's public AI gateway samples: subscription keys, validate-jwt,
// a per-product token limit with a quota (product open has none),
// emit-token-metric and a backend
// pool whose PTU member has a circuit breaker. GLOBAL is global.xml (with
// <retry>) or global-noretry.xml.
const aiGatewayConfig = `products: [{name: standard}, {name: open}]
subscriptions:
  - {id: sub-a, key: key-a, product: standard, team: t1}
  - {id: sub-o, key: key-o, product: open, team: t2}
backends:
  - {name: ptu-swedencentral, tier: ptu}
  - {name: payg-westeurope}
apim:
  global: DIR/GLOBAL
  products: {standard: DIR/product.xml}
  backends: DIR/backends.json
  named_values: {ptu-url: PTU, payg-url: PAYG}
`

// sampleBackend is an Azure OpenAI stand-in: it answers a completion of
// 200 tokens with the headers Azure OpenAI sends, or 429 with Retry-After.
type sampleBackend struct {
	name   string
	srv    *httptest.Server
	hits   atomic.Int64
	status atomic.Int64
}

// completion is the body every sample backend answers with.
const completion = `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":190,"total_tokens":200}}`

// throttled is its 429 body.
const throttled = `{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current AIServices S0 pricing tier. Please retry after 10 seconds."}}`

func newSampleBackend(t *testing.T, name string) *sampleBackend {
	t.Helper()
	b := &sampleBackend{name: name}
	b.status.Store(200)
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := b.hits.Add(1)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("x-ms-region", "Sweden Central")
		h.Set("apim-request-id", fmt.Sprintf("apim-%s-%d", name, n))
		h.Set("x-request-id", fmt.Sprintf("req-%s-%d", name, n))
		h.Set("x-ratelimit-remaining-tokens", "149800")
		if r.Header.Get("api-key") != "" || r.Header.Get("Ocp-Apim-Subscription-Key") != "" || r.Header.Get("Authorization") != "" {
			h.Set("x-saw-caller-credentials", "yes")
		}
		if st := int(b.status.Load()); st != 200 {
			h.Set("Retry-After", "10")
			w.WriteHeader(st)
			_, _ = io.WriteString(w, throttled)
			return
		}
		_, _ = io.WriteString(w, completion)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

type memSink struct {
	mu   sync.Mutex
	recs []record.Record
}

func (s *memSink) Write(r *record.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, *r)
	return nil
}

func (s *memSink) last(t *testing.T) record.Record {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.recs) == 0 {
		t.Fatal("no record")
	}
	return s.recs[len(s.recs)-1]
}

// aiGateway serves the sample documents (global is global.xml or
// global-noretry.xml) on loopback on a fake clock at start.
type aiGateway struct {
	url        string
	clock      *policytest.FakeClock
	sink       *memSink
	ptu, payg  *sampleBackend
	validToken string
}

func startAIGateway(t *testing.T, global string, start time.Time) *aiGateway {
	t.Helper()
	g := &aiGateway{clock: policytest.NewFakeClock(start), sink: &memSink{},
		ptu: newSampleBackend(t, "ptu"), payg: newSampleBackend(t, "payg")}
	dir, _ := filepath.Abs("testdata/aigateway")
	yaml := strings.NewReplacer("DIR", dir, "GLOBAL", global, "PTU", g.ptu.srv.URL, "PAYG", g.payg.srv.URL).Replace(aiGatewayConfig)
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := apimxml.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(cfg, "", gateway.Options{Clock: g.clock, Sink: g.sink})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	g.url = srv.URL
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"aud": "api://aiload", "sub": "user-1", "exp": start.Add(24 * time.Hour).Unix()})
	g.validToken, err = tok.SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// answer is what a caller got.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// post sends a chat completion with the subscription key (if any) and a
// bearer token (if any).
func (g *aiGateway) post(t *testing.T, key, bearer string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.url+"/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
		strings.NewReader(`{"messages":[{"role":"user","content":"hi"}]}`))
	if key != "" {
		req.Header.Set("Ocp-Apim-Subscription-Key", key)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, body}
}

func attemptsOf(r record.Record) string {
	var parts []string
	for _, a := range r.BackendAttempts {
		parts = append(parts, fmt.Sprintf("%s:%d", a.Backend, a.Status))
	}
	return strings.Join(parts, " ")
}

// expect checks an answer's status, body bytes and headers (a header
// wanted "" must be absent).
func expect(t *testing.T, step string, a answer, status int, body string, headers map[string]string) {
	t.Helper()
	if a.status != status || !bytes.Equal(a.body, []byte(body)) {
		t.Fatalf("%s: got %d %s\nwant %d %s", step, a.status, a.body, status, body)
	}
	for k, v := range headers {
		if got := a.header.Get(k); got != v || v == "" && len(a.header.Values(k)) > 0 {
			t.Fatalf("%s: header %s = %q, want %q (all headers %v)", step, k, got, v, a.header)
		}
	}
}

// TestAIGatewaySamples serves policy documents shaped like Microsoft's AI
// gateway samples and checks what callers get, byte for byte, as API
// Management sends it: 401 for a missing or invalid subscription key and
// for a missing token, 200 with the backend's own headers passed through
// and the limit's named headers, 429 once the minute's tokens are used
// ("Try again in 41 seconds", Retry-After only), 403 once the hourly quota
// is ("21 minutes and 33 seconds" before the hour ends), and which backend
// answered each request.
func TestAIGatewaySamples(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 25, 12, 34, 27, 0, time.UTC)
	g := startAIGateway(t, "global.xml", t0)
	ct := map[string]string{"Content-Type": "application/json", "retry-after-ms": "", "x-ratelimit-limit-tokens": ""}

	a := g.post(t, "", g.validToken)
	expect(t, "no key", a, 401, `{ "statusCode": 401, "message": "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API." }`,
		map[string]string{"Content-Type": "application/json", "WWW-Authenticate": `AzureApiManagementKey realm="` + g.url + `/openai",name="Ocp-Apim-Subscription-Key",type="header"`})
	a = g.post(t, "key-x", g.validToken)
	expect(t, "wrong key", a, 401, `{ "statusCode": 401, "message": "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription." }`,
		map[string]string{"Content-Type": "application/json", "WWW-Authenticate": `AzureApiManagementKey realm="` + g.url + `/openai",name="Ocp-Apim-Subscription-Key",type="header"`})
	a = g.post(t, "key-a", "")
	expect(t, "no token", a, 401, `{ "statusCode": 401, "message": "Unauthorized. Access token is missing or invalid." }`, ct)
	if r := g.sink.last(t); r.Outcome != record.OutcomeUnauthorized || len(r.BackendAttempts) != 0 {
		t.Fatalf("no token: record %s attempts %v", r.Outcome, r.BackendAttempts)
	}

	// 200: the backend's body and headers (its own x-ratelimit-remaining-tokens
	// too), the product limit's named headers, nothing else of the gateway's
	a = g.post(t, "key-a", g.validToken)
	expect(t, "first request", a, 200, completion, map[string]string{
		"Content-Type": "application/json", "x-ms-region": "Sweden Central", "apim-request-id": "apim-ptu-1", "x-request-id": "req-ptu-1",
		"x-ratelimit-remaining-tokens": "149800", "x-ratelimit-limit-tokens": "", "x-remaining-tokens": "100",
		"x-remaining-quota-tokens": "800", "x-consumed-tokens": "200", "x-saw-caller-credentials": ""})
	r := g.sink.last(t)
	if r.Backend != "ptu-swedencentral" || attemptsOf(r) != "ptu-swedencentral:200" || r.TotalTokens != 200 ||
		r.Dims["Subscription ID"] != "sub-a" || r.Dims["API ID"] != "azure-openai" || r.Dims["User ID"] != "user-1" {
		t.Fatalf("first request: record backend %s attempts %q tokens %d dims %v", r.Backend, attemptsOf(r), r.TotalTokens, r.Dims)
	}
	// a second at once: 200 of 300 used, admitted (API Management admits
	// while the counter is under the limit); it uses the minute up
	if a = g.post(t, "key-a", g.validToken); a.status != 200 || a.header.Get("x-remaining-tokens") != "0" {
		t.Fatalf("second request: %d, x-remaining-tokens %q", a.status, a.header.Get("x-remaining-tokens"))
	}
	// 19 s later the minute frees in 41 s
	g.clock.Advance(19 * time.Second)
	a = g.post(t, "key-a", g.validToken)
	expect(t, "over the minute", a, 429, `{ "statusCode": 429, "message": "Token limit is exceeded. Try again in 41 seconds." }`,
		map[string]string{"Content-Type": "application/json", "Retry-After": "41", "retry-after-ms": "", "x-remaining-tokens": "0",
			"x-ratelimit-remaining-tokens": "", "x-request-id": ""})
	if r := g.sink.last(t); r.Outcome != record.OutcomeThrottled || r.RetryAfterMS != 41000 || len(r.BackendAttempts) != 0 {
		t.Fatalf("over the minute: record %s retry %d attempts %v", r.Outcome, r.RetryAfterMS, r.BackendAttempts)
	}
	// use the hour's quota up: 1000 tokens in five answers
	for _, step := range []time.Duration{101 * time.Second, 0, 60 * time.Second} {
		g.clock.Advance(step)
		if a := g.post(t, "key-a", g.validToken); a.status != 200 {
			t.Fatalf("quota step: %d %s", a.status, a.body)
		}
	}
	// 12:38:27: the quota is used, the hour ends in 21 minutes and 33 seconds
	g.clock.Advance(60 * time.Second)
	if now := g.clock.Now(); now != time.Date(2026, 11, 25, 12, 38, 27, 0, time.UTC) {
		t.Fatalf("clock at %v", now)
	}
	a = g.post(t, "key-a", g.validToken)
	expect(t, "over the quota", a, 403, `{ "statusCode": 403, "message": "Token quota is exceeded. Try again in 21 minutes and 33 seconds." }`,
		map[string]string{"Content-Type": "application/json", "Retry-After": "1293", "retry-after-ms": "", "x-remaining-quota-tokens": "0"})
	if r := g.sink.last(t); r.Outcome != record.OutcomeQuotaExceeded || r.Status != 403 {
		t.Fatalf("over the quota: record %s %d", r.Outcome, r.Status)
	}
	if g.ptu.hits.Load() != 5 || g.payg.hits.Load() != 0 {
		t.Fatalf("backend hits: ptu %d payg %d, want 5 and 0 (priority 1 first)", g.ptu.hits.Load(), g.payg.hits.Load())
	}
}

// TestAIGatewaySamplesRetry: the PTU answers 429 and its breaker (one
// failure, acceptRetryAfter) trips for the 10 s it asks. With the sample's
// <retry> the request goes to the pool again and pay-as-you-go answers;
// without it the caller gets the PTU's 429 as the PTU sent it. Either way
// the next requests go to pay-as-you-go until the 10 s have passed, and
// every attempt is in the record.
func TestAIGatewaySamplesRetry(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		global      string
		first       int
		firstBody   string
		firstHeader map[string]string
		firstTrail  string
	}{
		{"global.xml", 200, completion, map[string]string{"x-request-id": "req-payg-1", "apim-request-id": "apim-payg-1", "Retry-After": ""},
			"ptu-swedencentral:429 payg-westeurope:200"},
		{"global-noretry.xml", 429, throttled, map[string]string{"x-request-id": "req-ptu-1", "Retry-After": "10", "x-ms-region": "Sweden Central"},
			"ptu-swedencentral:429"},
	} {
		t.Run(tc.global, func(t *testing.T) {
			t.Parallel()
			g := startAIGateway(t, tc.global, t0)
			g.ptu.status.Store(429)
			a := g.post(t, "key-o", g.validToken)
			expect(t, "PTU throttles", a, tc.first, tc.firstBody, tc.firstHeader)
			r := g.sink.last(t)
			if attemptsOf(r) != tc.firstTrail || r.Status != tc.first {
				t.Fatalf("PTU throttles: attempts %q status %d, want %q", attemptsOf(r), r.Status, tc.firstTrail)
			}
			g.ptu.status.Store(200)
			for _, step := range []struct {
				advance time.Duration
				trail   string
			}{{time.Second, "payg-westeurope:200"}, {8 * time.Second, "payg-westeurope:200"}, {time.Second, "ptu-swedencentral:200"}} {
				g.clock.Advance(step.advance)
				if a := g.post(t, "key-o", g.validToken); a.status != 200 || attemptsOf(g.sink.last(t)) != step.trail {
					t.Fatalf("%v later: %d via %q, want 200 via %q", step.advance, a.status, attemptsOf(g.sink.last(t)), step.trail)
				}
			}
			if g.ptu.hits.Load() != 2 {
				t.Fatalf("PTU hits %d, want 2 (the 429, then after the trip)", g.ptu.hits.Load())
			}
		})
	}
}
