package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/record"
)

// served is a running `aiload gateway serve` (in-process) on loopback.
type served struct {
	api, log string
	stop     func() // cancels and waits; records are flushed after it
}

// serveGateway runs gateway.Serve in front of backendURL with opts'
// timeouts and limits (Config, Listen, Admin and Log are filled in).
func serveGateway(t *testing.T, backendURL string, opts gateway.ServeOptions) *served {
	t.Helper()
	return serveConfig(t, `
backends: [{name: b, url: `+backendURL+`}]
products: [{name: p, tokens_per_minute: 1000000}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, opts)
}

// serveConfig runs gateway.Serve on loopback with the config text cfg.
func serveConfig(t *testing.T, cfg string, opts gateway.ServeOptions) *served {
	t.Helper()
	dir := t.TempDir()
	opts.Config, opts.Log = filepath.Join(dir, "gateway.yaml"), filepath.Join(dir, "tokens.jsonl")
	opts.Listen, opts.Admin = "127.0.0.1:0", "127.0.0.1:0"
	writeFile(t, opts.Config, cfg)
	ready := make(chan string, 1)
	opts.Ready = func(api, _ string) { ready <- api }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gateway.Serve(ctx, opts, io.Discard) }()
	s := &served{log: opts.Log}
	select {
	case s.api = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("Serve: %v", err)
	}
	var stopped bool
	s.stop = func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		}
	}
	t.Cleanup(s.stop)
	return s
}

// records stops the gateway and reads its record log.
func (s *served) records(t *testing.T) []record.Record {
	t.Helper()
	s.stop()
	b, err := os.ReadFile(s.log)
	if err != nil {
		t.Fatal(err)
	}
	var out []record.Record
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var r record.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("record %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// TestServeSlowClients: a client that trickles its headers (slowloris) is
// disconnected after the header timeout; one that stops sending its body
// gets 400 after the body timeout; and an answer that streams for longer
// than the body timeout is not cut.
func TestServeSlowClients(t *testing.T) {
	t.Parallel()
	mock := httptest.NewServer(mockllm.New(mockllm.Config{Seed: 1, PerTokenDelay: 25 * time.Millisecond, MinFraction: 1}))
	defer mock.Close()
	s := serveGateway(t, mock.URL, gateway.ServeOptions{HeaderTimeout: 300 * time.Millisecond, BodyTimeout: 300 * time.Millisecond})

	// Headers trickled: the server closes the connection without an answer.
	c := dial(t, s.api)
	_, _ = io.WriteString(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nOcp-Apim-Subscription-Key: k1\r\n")
	if n, err := c.Read(make([]byte, 512)); !closedByPeer(err) {
		t.Errorf("trickled headers: read %d bytes, err %v; want the connection closed by the gateway", n, err)
	}

	// Body stalled after 10 of 200 bytes: 400 with an OpenAI-style error.
	c = dial(t, s.api)
	_, _ = io.WriteString(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nOcp-Apim-Subscription-Key: k1\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"model\":")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("stalled body: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if a := (answer{status: resp.StatusCode, body: body}); a.status != 400 || a.errorCode(t) != "invalid_body" {
		t.Errorf("stalled body: %d %s; want 400 invalid_body", a.status, body)
	}

	// A stream of 16 tokens at 25 ms each outlasts the 300 ms body timeout.
	a := post(t, "http://"+s.api, chatPath, "k1", `{"model":"gpt-4o-mini","stream":true,"max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`, nil)
	if a.status != 200 || !strings.Contains(string(a.body), "data: [DONE]") {
		t.Errorf("long stream: %d %q; want 200 ending in [DONE]", a.status, a.body)
	}
	recs := s.records(t)
	if len(recs) != 2 || recs[0].Outcome != record.OutcomeBadRequest || recs[1].Outcome != record.OutcomeOK || recs[1].CompletionTokens != 16 {
		t.Errorf("records: %+v; want bad_request then ok with 16 completion tokens", recs)
	}
}

// TestServeOversized: headers over MaxHeaderBytes get 431 with an
// OpenAI-style error and a record (up to four times the cap; beyond that
// net/http's plain-text answer, before the gateway sees the request);
// bodies over max_body_bytes get 413 with an OpenAI-style error and a
// record.
func TestServeOversized(t *testing.T) {
	t.Parallel()
	be := newSpy(t, 42)
	s := serveGateway(t, be.srv.URL, gateway.ServeOptions{MaxHeaderBytes: 8 << 10})
	url := "http://" + s.api
	a := post(t, url, chatPath, "k1", chatBody(5), map[string]string{"X-Padding": strings.Repeat("a", 12<<10)})
	if a.status != http.StatusRequestHeaderFieldsTooLarge || a.errorCode(t) != "request_headers_too_large" {
		t.Errorf("12 KiB header against an 8 KiB cap: %d %s; want 431 request_headers_too_large", a.status, a.body)
	}
	a = post(t, url, chatPath, "k1", chatBody(5), map[string]string{"X-Padding": strings.Repeat("a", 7<<10)})
	if a.status != http.StatusOK {
		t.Errorf("7 KiB header against an 8 KiB cap: %d %s; want 200", a.status, a.body)
	}
	a = post(t, url, chatPath, "k1", chatBody(5), map[string]string{"X-Padding": strings.Repeat("a", 64<<10)})
	if a.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB header against an 8 KiB cap: %d; want 431", a.status)
	}
	big := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("a", 2<<20) + `"}]}`
	a = post(t, url, chatPath, "k1", big, nil)
	if a.status != http.StatusRequestEntityTooLarge || a.errorCode(t) != "request_too_large" {
		t.Errorf("2 MiB body: %d %s; want 413 request_too_large", a.status, a.body)
	}
	if be.hits.Load() != 1 {
		t.Errorf("backend saw %d requests; want the 7 KiB one only", be.hits.Load())
	}
	recs := s.records(t)
	if len(recs) != 3 || recs[0].Status != 431 || recs[0].Outcome != record.OutcomeBadRequest ||
		recs[1].Status != 200 || recs[2].Status != 413 || recs[2].Outcome != record.OutcomeBadRequest {
		t.Errorf("records: %+v; want 431 bad_request, 200, 413 bad_request", recs)
	}
}

// TestClientDisconnectMidStream: a caller that hangs up after two content
// chunks leaves a client_cancelled record (status 499) carrying the tokens
// streamed so far, estimated, not the full completion.
func TestClientDisconnectMidStream(t *testing.T) {
	t.Parallel()
	mock := httptest.NewServer(mockllm.New(mockllm.Config{Seed: 1, PerTokenDelay: 10 * time.Millisecond, MinFraction: 1}))
	defer mock.Close()
	s := serveGateway(t, mock.URL, gateway.ServeOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.api+chatPath,
		strings.NewReader(`{"model":"gpt-4o-mini","stream":true,"max_tokens":400,"messages":[{"role":"user","content":"tell me a long story"}]}`))
	req.Header.Set("Ocp-Apim-Subscription-Key", "k1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	words := 0
	for chunks := 0; chunks < 2 && sc.Scan(); {
		var c struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
		}
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && json.Unmarshal([]byte(data), &c) == nil && len(c.Choices) > 0 && c.Choices[0].Delta.Content != "" {
			words += len(strings.Fields(c.Choices[0].Delta.Content))
			chunks++
		}
	}
	cancel()
	resp.Body.Close()
	recs := s.records(t) // Serve drains the cancelled request before it returns
	if len(recs) != 1 {
		t.Fatalf("%d records; want 1", len(recs))
	}
	r := recs[0]
	if r.Outcome != record.OutcomeClientCancelled || r.Status != 499 || !r.TokensEstimated {
		t.Fatalf("record: %s; want client_cancelled, 499, estimated", recordJSON(r))
	}
	if r.CompletionTokens < int64(words) || r.CompletionTokens >= 400 || r.PromptTokens == 0 ||
		r.TotalTokens != r.PromptTokens+r.CompletionTokens {
		t.Errorf("record tokens prompt %d completion %d total %d; want completion in [%d, 400) (the client saw %d words), prompt > 0",
			r.PromptTokens, r.CompletionTokens, r.TotalTokens, words, words)
	}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second)) // a bound for the test, far above the server's timeouts
	return c
}

// closedByPeer reports whether err means the other side closed the
// connection (rather than our own deadline expiring).
func closedByPeer(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return err != nil
}

// TestServeEmbeddedMock: a backend configured with `mock:` and no url is
// served by an embedded mock on loopback, PTU ceiling included, so the
// gateway can be tried (with an SDK, curl or a load tool) before a real
// backend exists.
func TestServeEmbeddedMock(t *testing.T) {
	t.Parallel()
	s := serveConfig(t, `
backends: [{name: ptu, tier: ptu, mock: {ptu_tpm: 600, min_fraction: 1}}]
products: [{name: p, tokens_per_minute: 1000000}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, gateway.ServeOptions{})
	url := "http://" + s.api
	a := post(t, url, chatPath, "k1", chatBody(200), nil)
	if a.status != http.StatusOK || !strings.Contains(string(a.body), `"completion_tokens":200`) {
		t.Fatalf("first request: %d %s; want 200 with 200 completion tokens", a.status, a.body)
	}
	// 600 TPM of PTU capacity: the third 200-token request does not fit.
	var last answer
	for range 3 {
		last = post(t, url, chatPath, "k1", chatBody(200), nil)
	}
	if last.status != http.StatusTooManyRequests {
		t.Errorf("past the mock's PTU capacity: %d %s; want 429 from the backend", last.status, last.body)
	}
	recs := s.records(t)
	if len(recs) != 4 || recs[0].Backend != "ptu" || recs[0].BackendTier != "ptu" || recs[0].CompletionTokens != 200 {
		t.Errorf("records: %+v; want 4, the first served by backend ptu with 200 completion tokens", recs)
	}
}

// TestServeBackendWithoutURL: a backend with neither url nor mock is a
// config error naming it.
func TestServeBackendWithoutURL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gateway.yaml")
	writeFile(t, cfg, `
backends: [{name: nowhere}]
products: [{name: p, tokens_per_minute: 1000}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`)
	err := gateway.Serve(context.Background(), gateway.ServeOptions{Config: cfg, Log: filepath.Join(dir, "t.jsonl"),
		Listen: "127.0.0.1:0", Admin: "127.0.0.1:0"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `backend "nowhere" has neither a url nor a mock`) {
		t.Errorf("Serve: %v; want an error naming backend nowhere", err)
	}
}
