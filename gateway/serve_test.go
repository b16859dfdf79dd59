package gateway_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiload/aiload/gateway"
)

// TestServe runs `aiload gateway serve` in-process: the API on one
// loopback listener, /metrics and /healthz on the admin one, records
// appended to the log, a clean stop on cancel.
func TestServe(t *testing.T) {
	t.Parallel()
	be := newSpy(t, 42)
	dir := t.TempDir()
	cfgPath, logPath := filepath.Join(dir, "gateway.yaml"), filepath.Join(dir, "tokens.jsonl")
	writeFile(t, cfgPath, `
id: edge-1
backends:
  - {name: aoai-east, tier: payg, url: `+be.srv.URL+`, api_key: backend-secret}
products: [{name: p, token_limits: [{tokens_per_minute: 40}]}]
subscriptions: [{id: s1, key: k1, product: p, team: research}]
`)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- gateway.Serve(ctx, gateway.ServeOptions{Config: cfgPath, Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Log: logPath,
			Ready: func(api, admin string) { ready <- [2]string{api, admin} }}, io.Discard)
	}()
	var addrs [2]string
	select {
	case addrs = <-ready:
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	api, admin := "http://"+addrs[0], "http://"+addrs[1]
	if a := post(t, api, chatPath, "k1", chatBody(5), nil); a.status != 200 {
		t.Fatalf("first request: %d", a.status)
	}
	if a := post(t, api, chatPath, "k1", chatBody(5), nil); a.status != 429 {
		t.Fatalf("second request after 42 tokens against 40 TPM: %d", a.status)
	}
	metrics := get(t, admin+"/metrics")
	for _, want := range []string{
		`aiload_gateway_requests_total{backend="aoai-east",outcome="ok",product="p",status="200",subscription="s1",team="research"} 1`,
		`aiload_gateway_requests_total{backend="",outcome="throttled",product="p",status="429",subscription="s1",team="research"} 1`,
		`aiload_gateway_tokens_total{backend="aoai-east",outcome="ok",product="p",subscription="s1",team="research",type="total"} 42`,
		`aiload_gateway_circuit_open{backend="aoai-east",tier="payg"} 0`,
		`aiload_gateway_request_duration_seconds_count{backend="aoai-east",outcome="ok"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s\n%s", want, metrics)
		}
	}
	if got := get(t, admin+"/healthz"); got != "ok\n" {
		t.Errorf("/healthz = %q", got)
	}
	if resp, err := http.Get(api + "/metrics"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("/metrics is served on the API listener")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	b, _ := os.ReadFile(logPath)
	if n := strings.Count(string(b), "\n"); n != 2 || strings.Contains(string(b), "k1\"") || strings.Contains(string(b), "backend-secret") {
		t.Fatalf("log has %d lines (want 2, no keys):\n%s", n, b)
	}
}

// TestLoadConfigErrors: config problems name the file, line and field, and
// an unsupported counter-key expression is named, never taken as a constant.
func TestLoadConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"unsupported expression", `
products:
  - name: p
    token_limits:
      - counter_key: '@(context.User.Email)'
        tokens_per_minute: 100
subscriptions: [{id: s1, key: k1, product: p}]
`, []string{":5:", "products[0].token_limits[0].counter_key", "context.User.Email"}},
		{"quota without period", `
products: [{name: p, token_limits: [{token_quota: 100}]}]
`, []string{"token_quota_period", "must be set"}},
		{"bad period and mode", `
products: [{name: p, token_limits: [{tokens_per_minute: 5, token_quota: 9, token_quota_period: Fortnightly, mode: lenient}]}]
`, []string{"Fortnightly", "mode", "lenient"}},
		{"unknown field", `
products: [{name: p, tokens_per_hour: 5}]
`, []string{":2:22: products[0].tokens_per_hour: unknown field"}},
		// a value of the wrong type: where it is, which field, in YAML terms
		{"wrong type", `
id: gw
products:
  - name: p
    tokens_per_minute: lots
`, []string{":5:24: products[0].tokens_per_minute: want an integer, got a string \"lots\""}},
		{"syntax error", `
products: [{name: p
`, []string{":2:12: could not find flow mapping end token"}},
		{"breaker and backend", `
backends: [{name: a, url: "ftp://x", tier: spot, circuit_breaker: {status_ranges: ["abc"], failure_count: 1}}]
`, []string{"backends[0].url", "backends[0].tier", "abc"}},
		{"duplicate backend names", `
backends: [{name: a, url: "http://127.0.0.1:1"}, {name: a, url: "http://127.0.0.1:2"}]
`, []string{"backends[1].name", "duplicate backend"}},
		{"jwt without keys", `
jwt: {issuer: x}
`, []string{"jwt.keys"}},
	} {
		p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
		writeFile(t, p, tc.yaml)
		_, err := gateway.LoadConfig(p)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", tc.name, err, w)
			}
		}
	}
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestExampleConfig keeps docs/gateway.example.yaml valid.
func TestExampleConfig(t *testing.T) {
	t.Parallel()
	if _, err := gateway.LoadConfig("../docs/gateway.example.yaml"); err != nil {
		t.Fatalf("docs/gateway.example.yaml: %v", err)
	}
}
