package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/gateway/store/redisstore/redistest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// lines collects a process's stderr lines.
type lines struct {
	mu  sync.Mutex
	all []string
}

func (l *lines) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range l.all {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

// TestGatewayServeRedisOutage: `aiload gateway serve --redis` with the
// default fail_closed mode answers 503 with Retry-After while Redis is down,
// logs the outage, shows it in /metrics, and serves again once Redis is back.
func TestGatewayServeRedisOutage(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	backend := httptest.NewServer(mockllm.New(mockllm.Config{Seed: 1}))
	t.Cleanup(backend.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`backends: [{name: payg, url: %q}]
products: [{name: p, token_limits: [{counter_key: subscription, tokens_per_minute: 100000}]}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, backend.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	api, admin := freeAddr(t), freeAddr(t)
	cmd := exec.Command(ailoadBinary(t), "gateway", "serve", "--config", cfg, "--listen", api, "--admin", admin,
		"--log", filepath.Join(dir, "tokens.jsonl"), "--redis", "redis://"+rs.Addr+"/0")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var log lines
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.mu.Lock()
			log.all = append(log.all, sc.Text())
			log.mu.Unlock()
		}
	}()
	var lastBody, lastID string
	call := func() (int, string) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+api+"/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":5}`))
		req.Header.Set("api-key", "k1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		lastBody, lastID = string(b), resp.Header.Get("x-ms-request-id")
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 15 s; stderr:\n%s", what, strings.Join(log.all, "\n"))
			}
		}
	}
	eventually("gateway answers 200 with Redis up", func() bool { code, _ := call(); return code == 200 })

	rs.Stop()
	code, retry := call()
	if code != http.StatusServiceUnavailable || retry == "" {
		t.Fatalf("with Redis down: status %d, Retry-After %q; want 503 with Retry-After (fail_closed)", code, retry)
	}
	// The body names neither Redis nor its address, only the request id;
	// the gateway's log has the details.
	if strings.Contains(lastBody, rs.Addr) || lastID == "" || !strings.Contains(lastBody, lastID) {
		t.Fatalf("503 body %s; want the request id %s and not the store's address %s", lastBody, lastID, rs.Addr)
	}
	eventually("outage logged", func() bool { return log.has("counter store unreachable") })
	eventually("the refused request's cause logged with its id", func() bool { return log.has(lastID) })
	eventually("the refused request recorded as store_unavailable", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "tokens.jsonl"))
		return strings.Contains(string(b), `"request_id":"`+lastID+`"`) && strings.Contains(string(b), `"outcome":"store_unavailable"`)
	})
	if m := metrics(t, admin); !strings.Contains(m, "aiload_gateway_counter_store_up 0") {
		t.Fatalf("/metrics during the outage lacks aiload_gateway_counter_store_up 0")
	}

	rs.Restart(t)
	eventually("gateway answers 200 once Redis is back", func() bool { code, _ := call(); return code == 200 })
	eventually("recovery logged", func() bool { return log.has("counter store reachable again") })
	if m := metrics(t, admin); !strings.Contains(m, "aiload_gateway_counter_store_up 1") {
		t.Fatalf("/metrics after recovery lacks aiload_gateway_counter_store_up 1")
	}
}

func metrics(t *testing.T, admin string) string {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
