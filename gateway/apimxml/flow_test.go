package apimxml_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/apimxml"
	"github.com/aiload/aiload/gateway/policy/policytest"
	"github.com/aiload/aiload/record"
)

// flowGlobal is shaped like Microsoft's choose and return-response samples:
// a variable from the User-Agent, a refusal without x-team, a refusal of
// gpt-4o to the trial product, request headers for the backend in the
// otherwise branch and outside any, and response headers in outbound.
const flowGlobal = `<policies>
  <inbound>
    <base />
    <set-variable name="isMobile" value="@(context.Request.Headers.GetValueOrDefault(&quot;User-Agent&quot;,&quot;&quot;).Contains(&quot;iPad&quot;) || context.Request.Headers.GetValueOrDefault(&quot;User-Agent&quot;,&quot;&quot;).Contains(&quot;iPhone&quot;))" />
    <choose>
      <when condition="@(context.Request.Headers.GetValueOrDefault(&quot;x-team&quot;,&quot;&quot;) == &quot;&quot;)">
        <return-response>
          <set-status code="400" reason="Bad Request" />
          <set-header name="Content-Type" exists-action="override">
            <value>application/json</value>
          </set-header>
          <set-body>{"error": "Name your team in x-team"}</set-body>
        </return-response>
      </when>
      <when condition="@(context.Product.Name.Equals(&quot;trial&quot;) &amp;&amp; context.Request.Headers.GetValueOrDefault(&quot;x-model&quot;,&quot;&quot;) == &quot;gpt-4o&quot;)">
        <return-response>
          <set-status code="403" reason="Forbidden" />
          <set-header name="WWW-Authenticate" exists-action="override">
            <value>Bearer error="insufficient_scope"</value>
          </set-header>
        </return-response>
      </when>
      <otherwise>
        <set-header name="x-team-id" exists-action="override">
          <value>@(context.Request.Headers.GetValueOrDefault("x-team","") + ":" + context.Subscription.Id)</value>
        </set-header>
      </otherwise>
    </choose>
    <set-header name="x-forwarded-client" exists-action="skip">
      <value>aiload</value>
    </set-header>
    <set-header name="x-tags" exists-action="append">
      <value>gateway</value>
    </set-header>
    <choose>
      <when condition="@(context.Variables.GetValueOrDefault&lt;bool&gt;(&quot;isMobile&quot;))">
        <set-header name="x-mobile" exists-action="override">
          <value>true</value>
        </set-header>
      </when>
    </choose>
    <set-backend-service backend-id="aoai" />
  </inbound>
  <backend><forward-request /></backend>
  <outbound>
    <set-header name="x-powered-by" exists-action="override">
      <value>aiload</value>
    </set-header>
    <set-header name="x-ms-region" exists-action="delete" />
    <set-header name="x-served-for" exists-action="override">
      <value>@(context.Subscription.Name)</value>
    </set-header>
    <base />
  </outbound>
</policies>`

// flowTrial adds, for the trial product only, a response header and a
// token limit under a condition the gateway cannot place.
const flowTrial = `<policies>
  <inbound>
    <base />
    <choose>
      <when condition="@(context.Request.Headers.GetValueOrDefault(&quot;x-model&quot;,&quot;&quot;) == &quot;gpt-4o-mini&quot;)">
        <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="500" estimate-prompt-tokens="false" />
      </when>
    </choose>
  </inbound>
  <outbound>
    <base />
    <set-header name="x-trial" exists-action="override">
      <value>yes</value>
    </set-header>
  </outbound>
</policies>`

const flowYAML = `products: [{name: standard}, {name: trial}]
subscriptions:
  - {id: sub-a, key: key-a, product: standard, team: t1}
  - {id: sub-t, key: key-t, product: trial, team: t2}
backends: [{name: aoai, url: "BACKEND"}]
apim:
  global: global.xml
  products: {trial: trial.xml}
`

// headerBackend answers a completion with Azure's headers and keeps the
// request headers it received.
type headerBackend struct {
	mu   sync.Mutex
	seen []http.Header
	url  string
}

func newHeaderBackend(t *testing.T) *headerBackend {
	t.Helper()
	b := &headerBackend{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.seen = append(b.seen, r.Header.Clone())
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("x-ms-region", "Sweden Central")
		w.Header().Set("x-request-id", "req-1")
		_, _ = io.WriteString(w, completion)
	}))
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

func (b *headerBackend) requests() []http.Header {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]http.Header(nil), b.seen...)
}

func flowGateway(t *testing.T) (string, *headerBackend, *memSink, []apimxml.Warning) {
	t.Helper()
	b, sink := newHeaderBackend(t), &memSink{}
	path := writeDocs(t, map[string]string{"gateway.yaml": strings.Replace(flowYAML, "BACKEND", b.url, 1),
		"global.xml": flowGlobal, "trial.xml": flowTrial})
	cfg, warnings, err := apimxml.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(cfg, "", gateway.Options{Clock: policytest.NewFakeClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)), Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return srv.URL, b, sink, warnings
}

func flowCall(t *testing.T, url string, headers map[string]string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
		strings.NewReader(`{"messages":[{"role":"user","content":"hi"}]}`))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, body}
}

// TestChooseReturnResponse: the first true when's return-response answers
// with its status, headers and body bytes, before any backend; a request
// no when refuses reaches the backend.
func TestChooseReturnResponse(t *testing.T) {
	url, backend, sink, _ := flowGateway(t)
	a := flowCall(t, url, map[string]string{"api-key": "key-a"})
	if a.status != 400 || string(a.body) != `{"error": "Name your team in x-team"}` || a.header.Get("Content-Type") != "application/json" {
		t.Fatalf("without x-team: %d %q Content-Type %q; want 400, the set-body, application/json", a.status, a.body, a.header.Get("Content-Type"))
	}
	if r := sink.last(t); r.Outcome != record.OutcomeReturnResponse || r.Status != 400 || r.SubscriptionID != "sub-a" || len(r.BackendAttempts) != 0 {
		t.Errorf("record: outcome %s status %d subscription %q attempts %d; want return_response 400 sub-a 0", r.Outcome, r.Status, r.SubscriptionID, len(r.BackendAttempts))
	}
	a = flowCall(t, url, map[string]string{"api-key": "key-t", "x-team": "qa", "x-model": "gpt-4o"})
	if a.status != 403 || len(a.body) != 0 || a.header.Get("WWW-Authenticate") != `Bearer error="insufficient_scope"` || a.header.Get("Content-Type") != "" {
		t.Fatalf("trial asking gpt-4o: %d %q WWW-Authenticate %q Content-Type %q; want 403, no body, the challenge, no type",
			a.status, a.body, a.header.Get("WWW-Authenticate"), a.header.Get("Content-Type"))
	}
	if n := len(backend.requests()); n != 0 {
		t.Fatalf("the backend saw %d requests, want none", n)
	}
	a = flowCall(t, url, map[string]string{"api-key": "key-a", "x-team": "qa", "x-model": "gpt-4o"}) // standard: the second when is false
	if a.status != 200 || string(a.body) != completion {
		t.Fatalf("standard asking gpt-4o: %d %s", a.status, a.body)
	}
	if a := flowCall(t, url, nil); a.status != 401 {
		t.Errorf("without a key: %d, want 401 (the subscription key is checked before the policies)", a.status)
	}
}

// TestSetHeader: inbound set-headers shape the request the backend gets
// (override with an expression, skip keeping the caller's value, append,
// a conditional one from a variable); outbound ones shape the answer
// (override, delete a backend header, an expression, a product's own).
func TestSetHeader(t *testing.T) {
	url, backend, _, _ := flowGateway(t)
	a := flowCall(t, url, map[string]string{"api-key": "key-a", "x-team": "support", "User-Agent": "Mozilla/5.0 (iPad; CPU OS 17_0)",
		"x-forwarded-client": "client-7", "x-tags": "batch"})
	if a.status != 200 {
		t.Fatalf("status %d %s", a.status, a.body)
	}
	seen := backend.requests()
	if len(seen) != 1 {
		t.Fatalf("backend requests %d, want 1", len(seen))
	}
	for name, want := range map[string]string{"x-team-id": "support:sub-a", "x-forwarded-client": "client-7", "x-tags": "batch,gateway", "x-mobile": "true"} {
		if got := seen[0].Get(name); got != want {
			t.Errorf("backend got %s %q, want %q", name, got, want)
		}
	}
	for name, want := range map[string]string{"x-powered-by": "aiload", "x-ms-region": "", "x-served-for": "sub-a", "x-request-id": "req-1", "x-trial": ""} {
		if got := a.header.Get(name); got != want {
			t.Errorf("answer %s %q, want %q", name, got, want)
		}
	}
	a = flowCall(t, url, map[string]string{"api-key": "key-t", "x-team": "qa", "User-Agent": "curl/8"})
	seen = backend.requests()
	if a.status != 200 || a.header.Get("x-trial") != "yes" || a.header.Get("x-served-for") != "sub-t" {
		t.Errorf("trial: %d x-trial %q x-served-for %q; want 200, yes, sub-t", a.status, a.header.Get("x-trial"), a.header.Get("x-served-for"))
	}
	if h := seen[len(seen)-1]; h.Get("x-mobile") != "" || h.Get("x-forwarded-client") != "aiload" || h.Get("x-tags") != "gateway" {
		t.Errorf("trial request: x-mobile %q x-forwarded-client %q x-tags %q; want none, aiload, gateway", h.Get("x-mobile"), h.Get("x-forwarded-client"), h.Get("x-tags"))
	}
}

// TestChooseNotPlaced: a token limit under a condition is listed at its
// file:line:column, not dropped silently.
func TestChooseNotPlaced(t *testing.T) {
	_, _, _, warnings := flowGateway(t)
	var got []string
	for _, w := range warnings {
		got = append(got, w.String())
	}
	want := "trial.xml:6:9: <llm-token-limit> inside <choose> is not emulated"
	if len(got) != 1 || !strings.Contains(got[0], want) {
		t.Errorf("warnings %q, want one containing %q", got, want)
	}
}

// TestFlowErrors: problems at file:line:column.
func TestFlowErrors(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, want string
	}{
		// a condition outside the supported forms
		{"condition", `@(context.Product.Name.Equals(&quot;trial&quot;)`, `@(context.Deployment.Region.Equals(&quot;trial&quot;)`, `global.xml:15:13: condition`},
		// a header a policy cannot set
		{"fixed", `name="x-tags"`, `name="Content-Length"`, "Content-Length cannot be set or deleted by a policy"},
		// an unknown exists-action
		{"action", `exists-action="append"`, `exists-action="replace"`, `must be override, skip, append or delete, got "replace"`},
		// a set-body expression
		{"body", `{"error": "Name your team in x-team"}`, `@("x")`, "set-body with a policy expression is not emulated"},
	} {
		src := strings.Replace(flowGlobal, tc.old, tc.new, 1)
		if src == flowGlobal {
			t.Fatalf("%s: %q not in the document", tc.name, tc.old)
		}
		path := writeDocs(t, map[string]string{"gateway.yaml": strings.Replace(flowYAML, "BACKEND", "http://127.0.0.1:1", 1),
			"global.xml": src, "trial.xml": flowTrial})
		_, _, err := apimxml.Load(path, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v\nwant one containing %q", tc.name, err, tc.want)
		}
	}
}
