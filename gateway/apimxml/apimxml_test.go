package apimxml_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/apimxml"
)

// serve starts the gateway on loopback with the YAML config (its backend
// a server that answers 12 tokens) and the policy documents; it returns
// the gateway's URL and the query strings the backend received.
func serve(t *testing.T, yaml string, files ...apimxml.PolicyFile) (string, chan string) {
	t.Helper()
	queries := make(chan string, 100)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries <- r.URL.RawQuery
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"x","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}`)
	}))
	t.Cleanup(backend.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gateway.yaml")
	yaml = strings.ReplaceAll(yaml, "BACKEND", backend.URL)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, served := make(chan string, 1), make(chan error, 1)
	log := filepath.Join(dir, "tokens.jsonl")
	go func() {
		served <- gateway.Serve(ctx, gateway.ServeOptions{Config: cfg, Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Log: log,
			Load: func(p string) (gateway.Config, error) {
				c, _, err := apimxml.Load(p, files)
				return c, err
			},
			Ready: func(api, _ string) { ready <- api }}, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case api := <-ready:
		return "http://" + api, queries
	case err := <-served:
		t.Fatalf("serve: %v", err)
	}
	return "", nil
}

func chat(t *testing.T, url string, headers map[string]string) *http.Response {
	t.Helper()
	return chatQuery(t, url, "", headers)
}

func chatQuery(t *testing.T, url, query string, headers map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"+query,
		strings.NewReader(`{"messages":[{"role":"user","content":"hi"}]}`))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

const twoSubs = `products: [{name: standard}]
subscriptions:
  - {id: sub-a, key: key-a, product: standard, team: t1}
  - {id: sub-b, key: key-b, product: standard, team: t2}
backends: [{name: openai-backend-pool, url: "BACKEND"}]
`

// TestTokenLimitPolicyEnforced: an API-wide llm-token-limit of 20 tokens a
// minute per subscription, read from a policy document, lets a
// subscription's first two 12-token requests through (API Management
// admits while fewer than 20 are used) and refuses the third with 429 and
// Retry-After, while another subscription still passes.
func TestTokenLimitPolicyEnforced(t *testing.T) {
	t.Parallel()
	url, _ := serve(t, twoSubs, apimxml.PolicyFile{Scope: apimxml.ScopeAll, Path: "testdata/ai-gateway.xml"})
	a := map[string]string{"api-key": "key-a", "x-user-id": "alice"}
	for i, want := range []string{"8", "0"} { // remaining after 12, then after 24 tokens
		resp := chat(t, url, a)
		if resp.StatusCode != 200 || resp.Header.Get("remaining-tokens") != want || resp.Header.Get("consumed-tokens") != "12" {
			t.Fatalf("request %d: status %d remaining-tokens %q consumed-tokens %q; want 200, %s, 12", i+1, resp.StatusCode,
				resp.Header.Get("remaining-tokens"), resp.Header.Get("consumed-tokens"), want)
		}
	}
	resp := chat(t, url, a)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third request: status %d Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp := chat(t, url, map[string]string{"api-key": "key-b"}); resp.StatusCode != 200 {
		t.Fatalf("other subscription: status %d, want 200 (its own counter)", resp.StatusCode)
	}
}

// TestProductQuotaPolicy: a product-scope quota keyed by a header, with
// renamed headers, refuses with 403 once the user's 15 tokens are spent;
// another user of the same subscription still passes.
func TestProductQuotaPolicy(t *testing.T) {
	t.Parallel()
	url, _ := serve(t, twoSubs, apimxml.PolicyFile{Scope: apimxml.ScopeProduct, Name: "standard", Path: "testdata/quota.xml"})
	alice := map[string]string{"api-key": "key-a", "x-user-id": "alice"}
	if resp := chat(t, url, alice); resp.StatusCode != 200 || resp.Header.Get("x-quota-left") == "" {
		t.Fatalf("first request: status %d x-quota-left %q; want 200 with the header", resp.StatusCode, resp.Header.Get("x-quota-left"))
	}
	resp := chat(t, url, alice)
	if resp.StatusCode != 403 || resp.Header.Get("x-retry-after") == "" {
		t.Fatalf("second request: status %d x-retry-after %q; want 403 with x-retry-after", resp.StatusCode, resp.Header.Get("x-retry-after"))
	}
	if resp := chat(t, url, map[string]string{"api-key": "key-a", "x-user-id": "bob"}); resp.StatusCode != 200 {
		t.Fatalf("bob: status %d, want 200", resp.StatusCode)
	}
}

// TestErrorsAndWarnings: problems are placed at file:line:column; elements
// the gateway does not enforce are warnings naming them and their line.
func TestErrorsAndWarnings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, doc, want string
	}{
		// a misspelt attribute, at its column
		{"typo", `<policies><inbound>
  <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minut="5" estimate-prompt-tokens="false" />
</inbound></policies>`, `p.xml:2:61: unknown attribute "tokens-per-minut" on <llm-token-limit>`},
		// the gateway's own check, worded with the attribute's name
		{"no limit", `<policies><inbound>
  <llm-token-limit counter-key="@(context.Subscription.Id)" estimate-prompt-tokens="false" />
</inbound></policies>`, `p.xml:2:3: <llm-token-limit>: set tokens-per-minute, token-quota (with token-quota-period), or both`},
		// an expression outside the supported set is named
		{"expression", `<policies><inbound>
  <llm-token-limit counter-key="@(context.Deployment.Region)" tokens-per-minute="5" estimate-prompt-tokens="false" />
</inbound></policies>`, `p.xml:2:20: <llm-token-limit>: counter key expression "@(context.Deployment.Region)": unsupported term "context.Deployment.Region"`},
		// a variable nothing sets, read without a default
		{"variable", `<policies><inbound>
  <llm-token-limit counter-key="@((string)context.Variables[&quot;team&quot;])" tokens-per-minute="5" estimate-prompt-tokens="false" />
</inbound></policies>`, `p.xml:2:20: variable "team" is not set by a <set-variable> before this policy`},
		{"required", `<policies><inbound><llm-token-limit tokens-per-minute="5" /></inbound></policies>`,
			`p.xml:1:20: <llm-token-limit> needs the counter-key attribute`},
		{"section", `<policies><outbound><llm-token-limit counter-key="x" tokens-per-minute="5" estimate-prompt-tokens="false"/></outbound></policies>`,
			`p.xml:1:21: <llm-token-limit> belongs in the inbound section, not outbound`},
		{"bool", `<policies><inbound><validate-jwt require-expiration-time="yes"><openid-config url="https://login.example/.well-known/openid-configuration"/></validate-jwt></inbound></policies>`,
			`p.xml:1:34: require-expiration-time on <validate-jwt> must be true or false, got "yes"`},
		{"malformed", "<policies>\n<inbound>\n</policies>", `p.xml:3:`},
		{"root", `<inbound/>`, `p.xml:1:1: root element is <inbound>, want <policies>`},
	} {
		_, _, err := apimxml.Parse("p.xml", []byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	pol, warnings, err := apimxml.ReadFile("testdata/ai-gateway.xml")
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || warnings[0].String() != "testdata/ai-gateway.xml:16:9: <cors> is not emulated by aiload and is ignored" {
		t.Errorf("warnings %v, want the one for <cors> at line 16", warnings)
	}
	if len(pol.TokenLimits) != 1 || pol.EmitTokenMetric == nil || len(pol.EmitTokenMetric.Dimensions) != 3 || pol.BackendID != "openai-backend-pool" {
		t.Errorf("translated %+v", pol)
	}
}

// TestPolicyFlag: the --policy forms and their scopes.
func TestPolicyFlag(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]apimxml.PolicyFile{
		"p.xml":                  {Scope: apimxml.ScopeAll, Path: "p.xml"},
		"product:standard=s.xml": {Scope: apimxml.ScopeProduct, Name: "standard", Path: "s.xml"},
		"api:azure-openai=a.xml": {Scope: apimxml.ScopeAPI, Name: "azure-openai", Path: "a.xml"},
	} {
		if got, err := apimxml.ParsePolicyFlag(in); err != nil || got != want {
			t.Errorf("ParsePolicyFlag(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	if _, err := apimxml.ParsePolicyFlag("group:x=p.xml"); err == nil {
		t.Error("ParsePolicyFlag accepted an unknown scope")
	}
}

// TestEmitTokenMetricLimits: at most five dimensions, as API Management
// allows; a namespace takes no expression and is kept; Location is left
// out with a warning.
func TestEmitTokenMetricLimits(t *testing.T) {
	t.Parallel()
	six := `<policies><inbound><llm-emit-token-metric namespace="ai">
  <dimension name="API ID" /><dimension name="Operation ID" /><dimension name="Product ID" />
  <dimension name="User ID" /><dimension name="Subscription ID" />
  <dimension name="Backend ID" />
</llm-emit-token-metric></inbound></policies>`
	_, _, err := apimxml.Parse("m.xml", []byte(six))
	if want := "m.xml:4:3: <llm-emit-token-metric> takes at most 5 dimensions"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("six dimensions: error %v, want %q", err, want)
	}
	_, _, err = apimxml.Parse("m.xml", []byte(`<policies><inbound><llm-emit-token-metric namespace="@(context.Api.Name)"><dimension name="API ID" /></llm-emit-token-metric></inbound></policies>`))
	if want := "m.xml:1:43: namespace on <llm-emit-token-metric> takes no policy expression"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("namespace expression: error %v, want %q", err, want)
	}
	pol, warnings, err := apimxml.Parse("m.xml", []byte(`<policies><inbound><llm-emit-token-metric namespace="ai"><dimension name="Location" /><dimension name="API ID" /></llm-emit-token-metric></inbound></policies>`))
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0].String(), "dimension Location is not emulated") || len(pol.EmitTokenMetric.Dimensions) != 1 {
		t.Errorf("Location: %v, warnings %v, dimensions %+v", err, warnings, pol.EmitTokenMetric)
	}
	// The namespace is kept: it names the OTLP export's instrumentation scope.
	if err == nil && pol.EmitTokenMetric.Namespace != "ai" {
		t.Errorf("namespace = %q, want ai", pol.EmitTokenMetric.Namespace)
	}
}

// TestVariables: set-variable defines what a later counter key reads, an
// unset variable read with a default is the default, and an outbound
// set-header that sends a token limit's variable becomes the limit's header.
func TestVariables(t *testing.T) {
	t.Parallel()
	doc := `<policies>
  <inbound>
    <set-variable name="user" value="@(context.Request.Headers.GetValueOrDefault(&quot;x-user-id&quot;,&quot;anon&quot;))" />
    <llm-token-limit counter-key="@(String.Concat((string)context.Variables[&quot;user&quot;], &quot;@&quot;, context.Variables.GetValueOrDefault&lt;string&gt;(&quot;tenant&quot;, &quot;t0&quot;)))"
        tokens-per-minute="20" estimate-prompt-tokens="false" remaining-tokens-variable-name="left" />
  </inbound>
  <outbound>
    <set-header name="x-tokens-left" exists-action="override"><value>@(context.Variables.GetValueOrDefault&lt;int&gt;("left"))</value></set-header>
  </outbound>
</policies>`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "global.xml"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := gateway.Config{Subscriptions: []gateway.Subscription{{ID: "s", Key: "k"}},
		APIM: &gateway.APIMSources{Global: "global.xml", Dir: dir}}
	cfg.Defaults()
	if _, err := apimxml.Resolve(&cfg); err != nil {
		t.Fatal(err)
	}
	l := cfg.APIs[0].TokenLimits[0]
	want := `@(String.Concat((context.Request.Headers.GetValueOrDefault("x-user-id","anon")), "@", "t0"))`
	if l.CounterKey != want || l.RemainingTokensHeaderName != "x-tokens-left" {
		t.Errorf("limit %+v, want counter key %s and header x-tokens-left", l, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("validate: %v", err)
	}
}

// TestValidateAzureADToken: the sample's validate-azure-ad-token becomes
// validate-jwt against the tenant's OpenID configuration, v1 and v2
// issuers, and the client application ids.
func TestValidateAzureADToken(t *testing.T) {
	t.Parallel()
	pol, _, err := apimxml.Parse("aad.xml", []byte(`<policies><inbound>
  <validate-azure-ad-token tenant-id="contoso.onmicrosoft.com" failed-validation-httpcode="403">
    <client-application-ids><application-id>11111111-aaaa</application-id></client-application-ids>
    <backend-application-ids><application-id>22222222-bbbb</application-id></backend-application-ids>
  </validate-azure-ad-token>
</inbound></policies>`))
	if err != nil {
		t.Fatal(err)
	}
	j := pol.JWT
	if j == nil || j.JWKSURL != "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration" ||
		len(j.Issuers) != 2 || j.Issuers[1] != "https://sts.windows.net/contoso.onmicrosoft.com/" ||
		len(j.ClientApplicationIDs) != 1 || j.ClientApplicationIDs[0] != "11111111-aaaa" ||
		len(j.Audiences) != 2 || j.Audiences[1] != "api://22222222-bbbb" || j.FailedValidationHTTPCode != 403 {
		t.Errorf("translated %+v", j)
	}
	_, _, err = apimxml.Parse("aad.xml", []byte(`<policies><inbound><validate-azure-ad-token /></inbound></policies>`))
	if want := "aad.xml:1:20: <validate-azure-ad-token> needs a tenant-id"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("no tenant: %v, want %q", err, want)
	}
}

// TestCheckHeaderTranslated: check-header's attributes and values.
func TestCheckHeaderTranslated(t *testing.T) {
	t.Parallel()
	pol, _, err := apimxml.Parse("c.xml", []byte(`<policies><inbound>
  <check-header name="x-tenant" failed-check-httpcode="401" failed-check-error-message="Tenant missing" ignore-case="true">
    <value>contoso</value><value>fabrikam</value>
  </check-header>
</inbound></policies>`))
	if err != nil || len(pol.CheckHeaders) != 1 {
		t.Fatalf("%v %+v", err, pol)
	}
	c := pol.CheckHeaders[0]
	if c.Name != "x-tenant" || c.FailedCheckHTTPCode != 401 || c.FailedCheckErrorMessage != "Tenant missing" || !c.IgnoreCase || len(c.Values) != 2 {
		t.Errorf("translated %+v", c)
	}
	_, _, err = apimxml.Parse("c.xml", []byte(`<policies><inbound><check-header name="x" failed-check-httpcode="200" failed-check-error-message="m" ignore-case="false" /></inbound></policies>`))
	if want := `c.xml:1:43: <check-header>: must be an error status (400-599), got 200`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("status 200: %v, want %q", err, want)
	}
}

// TestManagedIdentityPolicy: the access-control sample's
// authentication-managed-identity, with the set-header that sends its
// token, makes the pool's backends authenticate with the gateway's managed
// identity; another resource is refused.
func TestManagedIdentityPolicy(t *testing.T) {
	t.Parallel()
	doc := `<policies>
  <inbound>
    <base />
    <authentication-managed-identity resource="https://cognitiveservices.azure.com" client-id="mi-client" output-token-variable-name="managed-id-access-token" ignore-error="false" />
    <set-header name="Authorization" exists-action="override">
      <value>@("Bearer " + (string)context.Variables["managed-id-access-token"])</value>
    </set-header>
    <set-backend-service backend-id="aoai" />
  </inbound>
</policies>`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "api.xml"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := gateway.Config{Subscriptions: []gateway.Subscription{{ID: "s", Key: "k"}},
		Backends: []gateway.Backend{{Name: "aoai", URL: "https://aoai.example.com"}, {Name: "other", URL: "https://other.example.com"}},
		APIM:     &gateway.APIMSources{Global: "api.xml", Dir: dir}}
	cfg.Defaults()
	warnings, err := apimxml.Resolve(&cfg)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("resolve: %v, warnings %v", err, warnings)
	}
	if len(cfg.Backends) != 1 || cfg.Backends[0].Auth != gateway.AuthManagedIdentity || cfg.Backends[0].ClientID != "mi-client" {
		t.Errorf("backends %+v, want aoai alone with managed identity mi-client", cfg.Backends)
	}
	_, _, err = apimxml.Parse("mi.xml", []byte(`<policies><inbound><authentication-managed-identity resource="https://ai.azure.com" /></inbound></policies>`))
	if want := `mi.xml:1:53: resource "https://ai.azure.com" is not emulated`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("other resource: %v, want %q", err, want)
	}
}
