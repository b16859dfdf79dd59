package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/reports/dashboard"
)

func TestGatewayServeBadInput(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"gateway", "serve"}, "--config is required"},
		{[]string{"gateway", "check", "--config", "testdata/gateway_bad_key.yaml"}, `context.Variables`},
		// The unsupported expression is named at its line, exit status 2.
		{[]string{"gateway", "serve", "--config", "testdata/gateway_bad_key.yaml", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"},
			`testdata/gateway_bad_key.yaml:6:`},
	} {
		code, _, stderr := execute(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.wantErr) {
			t.Errorf("aiload %v: exit %d stderr %q; want exit 2 and %q", tc.args, code, stderr, tc.wantErr)
		}
	}
}

// TestGatewayServeSnapshot: the admin listener of `aiload gateway serve`
// serves the dashboard snapshot that `aiload dash` polls.
func TestGatewayServeSnapshot(t *testing.T) {
	t.Parallel()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"x","object":"chat.completion","model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}`)
	}))
	defer backend.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gateway.yaml")
	_ = os.WriteFile(cfg, []byte("backends: [{name: east, url: "+backend.URL+"}]\nproducts: [{name: p, tokens_per_minute: 1000}]\nsubscriptions: [{id: s1, key: k1, product: p, team: research}]\n"), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready, served := make(chan [2]string, 1), make(chan error, 1)
	go func() {
		served <- gateway.Serve(ctx, gateway.ServeOptions{Config: cfg, Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Log: filepath.Join(dir, "t.jsonl"),
			ID: "gw-east-2", Observe: dashboardTally, Ready: func(a, b string) { ready <- [2]string{a, b} }}, io.Discard)
	}()
	addrs := <-ready
	req, _ := http.NewRequest(http.MethodPost, "http://"+addrs[0]+"/v1/chat/completions", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("api-key", "k1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("chat request: %v %v", resp, err)
	}
	resp.Body.Close()
	snap, err := (&dashboard.Poller{URL: "http://" + addrs[1]}).Fetch(ctx)
	if err != nil {
		t.Fatalf("fetch snapshot: %v", err)
	}
	b, _ := json.Marshal(snap)
	if !strings.Contains(string(b), "research") || !strings.Contains(string(b), "east") || snap.Scenario != "gw-east-2" {
		t.Fatalf("snapshot lacks the subscription's team or the backend, or is not named gw-east-2 (--id): %s", b)
	}
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("serve: %v", err)
	}
	log, err := os.ReadFile(filepath.Join(dir, "t.jsonl"))
	if err != nil || !strings.Contains(string(log), `"gateway_id":"gw-east-2"`) {
		t.Errorf("record log (%v) lacks gateway_id gw-east-2:\n%s", err, log)
	}
}

func TestGatewayCheck(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := execute(t, "gateway", "check", "--config", "../../docs/gateway.example.yaml")
	if code != 0 || !strings.Contains(stdout, "ok (2 products, 2 subscriptions, 2 backends)") {
		t.Fatalf("exit %d stdout %q stderr %q", code, stdout, stderr)
	}
}

// TestGatewayCheckPolicies: API Management policy documents are checked
// alone or on top of a config; what the gateway does not enforce is a
// warning with its line; a policy document given as serve's config is
// refused with the way to give it.
func TestGatewayCheckPolicies(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := execute(t, "gateway", "check", "--config", "../../examples/apim/policy.xml")
	if code != 0 || !strings.Contains(stdout, "policy.xml: ok (1 token limits, emit-token-metric with 3 dimensions, backend openai-backend-pool)") {
		t.Fatalf("check policy.xml: exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	code, stdout, stderr = execute(t, "gateway", "check", "--config", "../../examples/apim/gateway.yaml",
		"--policy", "../../examples/apim/policy.xml", "--policy", "product:standard=../../examples/apim/standard.xml")
	if code != 0 || strings.Contains(stdout, "rate-limit-by-key") || !strings.Contains(stdout, "gateway.yaml: ok (2 products, 2 subscriptions, 1 backends)") {
		t.Fatalf("check with policies: exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	code, _, stderr = execute(t, "gateway", "check", "--config", "../../examples/apim/gateway.yaml", "--policy", "product:gold=../../examples/apim/standard.xml")
	if code != 2 || !strings.Contains(stderr, `no product "gold" in the config (products: standard, premium)`) {
		t.Fatalf("unknown product: exit %d stderr %q", code, stderr)
	}
	code, _, stderr = execute(t, "gateway", "serve", "--config", "../../examples/apim/policy.xml")
	if code != 2 || !strings.Contains(stderr, "--policy ../../examples/apim/policy.xml") {
		t.Fatalf("serve policy.xml: exit %d stderr %q", code, stderr)
	}
}

// TestGatewayCheckScopes: a config naming API Management documents per
// scope is checked with what each scope enforces; a named value that is
// neither given nor in the environment is an error at its file:line:column.
func TestGatewayCheckScopes(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := execute(t, "gateway", "check", "--config", "../../examples/apim/scoped/gateway.yaml")
	for _, want := range []string{
		"  product standard: rate-limit-by-key 100 calls/1m0s by @(context.Subscription.Id)",
		"gateway.yaml: ok (2 products, 2 subscriptions, 2 backends)",
		"  product standard: 20000 tokens/min by @(context.Subscription.Id); 2000000 tokens Monthly by",
		"  operation azure-openai/embeddings: 100000 tokens/min",
		"  pool: aoai-ptu-eastus (priority 1, weight 1), aoai-payg-westus (priority 2, weight 1)",
	} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Fatalf("check: exit %d, stdout %q lacks %q (stderr %q)", code, stdout, want, stderr)
		}
	}
	dir := t.TempDir() // the example without the standard product's named value
	entries, _ := os.ReadDir("../../examples/apim/scoped")
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join("../../examples/apim/scoped", e.Name()))
		if e.Name() == "gateway.yaml" {
			b = []byte(strings.Replace(string(b), `standard-tpm: "20000"`, "", 1))
		}
		_ = os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600)
	}
	code, _, stderr = execute(t, "gateway", "check", "--config", filepath.Join(dir, "gateway.yaml"))
	want := filepath.Join(dir, "standard.xml") + ":6:13: named value {{standard-tpm}} is not defined: give it under apim.named_values or in the environment as STANDARD_TPM"
	if code != 2 || !strings.Contains(stderr, want) {
		t.Fatalf("missing named value: exit %d stderr %q, want %q", code, stderr, want)
	}
}

// A literal backend key is accepted with a warning that names the field, not the key.
func TestGatewayCheckWarnsLiteralKey(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "gateway.yaml")
	_ = os.WriteFile(cfg, []byte("backends: [{name: east, url: https://east.example.com, api_key: sk-literal-1234}]\nsubscriptions: [{id: s1, key: k1}]\n"), 0o600)
	code, stdout, stderr := execute(t, "gateway", "check", "--config", cfg)
	want := "warning: backends[0].api_key: a literal key is stored in the config"
	if code != 0 || !strings.Contains(stdout, want) || strings.Contains(stdout+stderr, "sk-literal-1234") {
		t.Fatalf("exit %d stdout %q stderr %q; want exit 0, %q and no key", code, stdout, stderr, want)
	}
}
