package apimxml_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/apimxml"
)

// scopedConfig names the documents of testdata/scopes per scope; the
// backends' URLs and the Standard product's limit are named values.
const scopedConfig = `subscriptions:
  - {id: sub-a, key: key-a, product: standard, team: t1}
  - {id: sub-b, key: key-b, product: standard, team: t2}
backends:
  - {name: ptu-eastus, tier: ptu}
  - {name: payg-westus}
apim:
  global: DIR/global.xml
  products: {standard: DIR/standard.xml}
  apis: {azure-openai: DIR/api.xml}
  operations: {azure-openai/embeddings: DIR/embeddings.xml}
  backends: DIR/backends.json
  named_values: {standard-tpm: "20", ptu-url: PTU, payg-url: PAYG}
`

// writeConfig writes yaml with DIR, PTU and PAYG replaced and returns its path.
func writeConfig(t *testing.T, yaml string, repl ...string) string {
	t.Helper()
	dir, _ := filepath.Abs("testdata/scopes")
	yaml = strings.NewReplacer(append([]string{"DIR", dir}, repl...)...).Replace(yaml)
	p := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestScopesCompose: the global, product, API and operation documents
// compose through <base/> into the same limits as the equivalent YAML, and
// the backends file gives the pool, its priorities and the breaker.
func TestScopesCompose(t *testing.T) {
	t.Setenv("STANDARD_QUOTA", "100000") // a named value from the environment
	cfg, warnings, err := apimxml.Load(writeConfig(t, scopedConfig, "PTU", "http://127.0.0.1:1", "PAYG", "http://127.0.0.1:2"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings %v, want none", warnings)
	}
	standard := []gateway.TokenLimit{{CounterKey: "@(context.Subscription.Id)", TokensPerMinute: 20, TokenQuota: 100000,
		TokenQuotaPeriod: "Daily", RemainingTokensHeaderName: "x-remaining-tokens"}}
	if !reflect.DeepEqual(cfg.Products, []gateway.Product{{Name: "standard", TokenLimits: standard}}) {
		t.Errorf("products %+v, want standard with %+v", cfg.Products, standard)
	}
	wantAPIs := []gateway.API{{Name: "azure-openai",
		TokenLimits: []gateway.TokenLimit{{CounterKey: "@(context.Request.IpAddress)", TokensPerMinute: 1000}},
		Operations: []gateway.APIOperation{{Name: "embeddings", TokenLimits: []gateway.TokenLimit{
			{CounterKey: `@(context.Subscription.Id + "-emb")`, TokensPerMinute: 5000, EstimatePromptTokens: true}}}}}}
	if !reflect.DeepEqual(cfg.APIs, wantAPIs) {
		t.Errorf("apis %+v, want %+v", cfg.APIs, wantAPIs)
	}
	if len(cfg.Backends) != 2 {
		t.Fatalf("backends %+v, want the pool's two", cfg.Backends)
	}
	ptu, payg := cfg.Backends[0], cfg.Backends[1]
	wantCB := &gateway.CircuitBreaker{FailureCount: 1, Interval: 10 * time.Second, TripDuration: time.Minute,
		StatusRanges: []string{"429-429", "500-599"}, AcceptRetryAfter: true}
	if ptu.Name != "ptu-eastus" || ptu.Tier != "ptu" || ptu.Priority != 1 || ptu.URL != "http://127.0.0.1:1" || !reflect.DeepEqual(ptu.CircuitBreaker, wantCB) {
		t.Errorf("ptu backend %+v (breaker %+v)", ptu, ptu.CircuitBreaker)
	}
	if payg.Name != "payg-westus" || payg.Priority != 2 || payg.Tier != "payg" || payg.URL != "http://127.0.0.1:2" {
		t.Errorf("payg backend %+v", payg)
	}
	if m := cfg.EmitTokenMetric; m == nil || len(m.Dimensions) != 3 || m.Dimensions[2].Name != "Team" {
		t.Errorf("emit-token-metric %+v", m)
	}
	yaml, err := gateway.LoadConfig("testdata/scopes/equivalent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"products", cfg.Products, yaml.Products}, {"apis", cfg.APIs, yaml.APIs}, {"backends", cfg.Backends, yaml.Backends},
		{"emit_token_metric", cfg.EmitTokenMetric, yaml.EmitTokenMetric},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s from the documents\n%+v\nfrom the equivalent YAML\n%+v", c.what, c.got, c.want)
		}
	}
}

// TestScopesServed: the composed policies served on loopback. Standard's
// 20 tokens a minute per subscription admit two 12-token requests and
// refuse the third with 429; the other subscription has its own counter;
// every answer came from the priority-1 backend of the pool.
func TestScopesServed(t *testing.T) {
	t.Setenv("STANDARD_QUOTA", "100000")
	var ptuHits, paygHits atomic.Int64
	answer := func(hits *atomic.Int64) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"x","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}`)
		}))
		t.Cleanup(s.Close)
		return s
	}
	ptu, payg := answer(&ptuHits), answer(&paygHits)
	url := serveConfig(t, writeConfig(t, scopedConfig, "PTU", ptu.URL, "PAYG", payg.URL))
	a := map[string]string{"api-key": "key-a"}
	for i, want := range []string{"8", "0"} {
		resp := chat(t, url, a)
		if resp.StatusCode != 200 || resp.Header.Get("x-remaining-tokens") != want {
			t.Fatalf("request %d: status %d x-remaining-tokens %q; want 200 and %s", i+1, resp.StatusCode, resp.Header.Get("x-remaining-tokens"), want)
		}
	}
	resp := chat(t, url, a)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third request: status %d Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp := chat(t, url, map[string]string{"api-key": "key-b"}); resp.StatusCode != 200 {
		t.Fatalf("sub-b: status %d, want 200", resp.StatusCode)
	}
	if resp := chat(t, url, nil); resp.StatusCode != 401 {
		t.Fatalf("no key: status %d, want 401", resp.StatusCode)
	}
	if ptuHits.Load() != 3 || paygHits.Load() != 0 {
		t.Errorf("backend hits: ptu %d payg %d, want 3 and 0 (priority 1 first)", ptuHits.Load(), paygHits.Load())
	}
}

// serveConfig serves the config at path on loopback and returns its URL.
func serveConfig(t *testing.T, path string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready, served := make(chan string, 1), make(chan error, 1)
	go func() {
		served <- gateway.Serve(ctx, gateway.ServeOptions{Config: path, Listen: "127.0.0.1:0", Admin: "127.0.0.1:0",
			Log: filepath.Join(filepath.Dir(path), "tokens.jsonl"),
			Load: func(p string) (gateway.Config, error) {
				c, _, err := apimxml.Load(p, nil)
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
		return "http://" + api
	case err := <-served:
		served <- nil // the cleanup waits for it
		t.Fatalf("serve: %v", err)
	}
	return ""
}

// TestBackendsFileErrors: a backends file's problems name the file, the
// resource's line and column and what is wrong.
func TestBackendsFileErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file, src, want string
	}{
		// malformed JSON, at the offending byte
		{"syntax", "b.json", "[\n  {\"name\": \"a\",}\n]", "b.json:2:17: malformed JSON"},
		// API Management takes one breaker rule
		{"two rules", "b.json", `[{"name": "apim/a", "properties": {"url": "https://a.example", "circuitBreaker": {"rules": [
  {"failureCondition": {"count": 1, "interval": "PT1M"}, "tripDuration": "PT1M"},
  {"failureCondition": {"count": 1, "interval": "PT1M"}, "tripDuration": "PT1M"}]}}}]`,
			`b.json:1:11: backend apim/a: circuitBreaker.rules: API Management takes exactly one rule per backend, got 2`},
		// a duration that is not ISO 8601
		{"duration", "b.json", `[{"name": "a", "properties": {"url": "https://a.example", "circuitBreaker": {"rules": [
  {"name": "r", "failureCondition": {"count": 1, "interval": "10s"}, "tripDuration": "PT1M"}]}}}]`,
			`b.json:1:11: backend a: circuitBreaker.rules[0] (r): failureCondition.interval: "10s" is not an ISO 8601 duration`},
		// a pool member found nowhere
		{"member", "b.json", `[{"name": "pool", "properties": {"type": "Pool", "pool": {"services": [{"id": "/backends/ghost"}]}}}]`,
			`b.json:1:11: pool pool: member "ghost" is not a backend of the file or the config`},
		// an unbuilt template name
		{"expression", "b.json", `[{"name": "[concat(parameters('apim'), '/a')]", "properties": {}}]`, "the name is an ARM template expression"},
		{"bicep", "b.bicep", `resource b 'Microsoft.ApiManagement/service/backends@2023-09-01-preview' = {}`, "b.bicep:1:1: Bicep is not read"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, tc.file), []byte(tc.src), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := gateway.Config{Subscriptions: []gateway.Subscription{{ID: "s", Key: "k"}}, APIM: &gateway.APIMSources{Backends: tc.file, Dir: dir}}
		cfg.Defaults()
		_, err := apimxml.Resolve(&cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	for in, want := range map[string]time.Duration{"PT10S": 10 * time.Second, "PT1M": time.Minute, "PT1H30M": 90 * time.Minute, "P1D": 24 * time.Hour, "P1W": 7 * 24 * time.Hour, "PT0.5S": 500 * time.Millisecond} {
		if got, err := apimxml.ISODuration(in); err != nil || got != want {
			t.Errorf("ISODuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"P1M", "P1Y", "PT", "P", "1m"} {
		if _, err := apimxml.ISODuration(in); err == nil {
			t.Errorf("ISODuration(%q) accepted", in)
		}
	}
}
