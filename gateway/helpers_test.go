package gateway_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/policy/policytest"
	"github.com/aiload/aiload/record"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// sink keeps records in memory.
type sink struct {
	mu   sync.Mutex
	recs []record.Record
}

func (s *sink) Write(r *record.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, *r)
	return nil
}

func (s *sink) all() []record.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]record.Record(nil), s.recs...)
}

func (s *sink) last(t *testing.T) record.Record {
	t.Helper()
	all := s.all()
	if len(all) == 0 {
		t.Fatal("no record written")
	}
	return all[len(all)-1]
}

// spy is a backend that remembers what reached it and answers with a fixed
// usage (or a status).
type spy struct {
	srv      *httptest.Server
	hits     atomic.Int64
	mu       sync.Mutex
	headers  []http.Header
	queries  []string
	bodies   [][]byte
	usage    atomic.Int64 // total tokens per answer (prompt 10, rest completion)
	status   atomic.Int64 // answered status (default 200)
	retryMS  atomic.Int64 // retry-after-ms on non-200
	hold     chan struct{}
	arrivals atomic.Int64
}

func newSpy(t *testing.T, usage int64) *spy {
	t.Helper()
	s := &spy{}
	s.usage.Store(usage)
	s.status.Store(200)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.hits.Add(1)
		s.mu.Lock()
		s.headers = append(s.headers, r.Header.Clone())
		s.queries = append(s.queries, r.URL.RawQuery)
		s.bodies = append(s.bodies, body)
		hold := s.hold
		s.mu.Unlock()
		s.arrivals.Add(1)
		if hold != nil {
			<-hold
		}
		if st := int(s.status.Load()); st != 200 {
			if ms := s.retryMS.Load(); ms > 0 {
				w.Header().Set("retry-after-ms", itoa(ms))
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(st)
			_, _ = io.WriteString(w, `{"error":{"message":"backend says no","type":"server_error","code":"x"}}`)
			return
		}
		u := s.usage.Load()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-spy", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
			"choices": []map[string]any{{"index": 0, "message": map[string]any{"role": "assistant", "content": "hi"}, "finish_reason": "stop"}},
			"usage":   map[string]any{"prompt_tokens": 10, "completion_tokens": u - 10, "total_tokens": u},
		})
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// env is a gateway on loopback with a fake clock.
type env struct {
	url   string
	clock *policytest.FakeClock
	sink  *sink
	gw    *gateway.Gateway
}

// start parses a YAML gateway config and serves it on loopback.
func start(t *testing.T, cfgYAML string, backendURL string, urls map[string]string) *env {
	t.Helper()
	return startClock(t, policytest.NewFakeClock(t0), cfgYAML, backendURL, urls)
}

// startClock is start on a given fake clock (shared with mock backends).
func startClock(t *testing.T, clock *policytest.FakeClock, cfgYAML string, backendURL string, urls map[string]string) *env {
	t.Helper()
	var cfg gateway.Config
	if err := yaml.UnmarshalWithOptions([]byte(cfgYAML), &cfg, yaml.Strict()); err != nil {
		t.Fatalf("config: %v", err)
	}
	e := &env{clock: clock, sink: &sink{}}
	gw, err := gateway.New(cfg, backendURL, gateway.Options{Clock: e.clock, Sink: e.sink, BackendURLs: urls})
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	e.gw = gw
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) errorCode(t *testing.T) string {
	t.Helper()
	var b struct {
		Error struct {
			Message, Type, Code string
		} `json:"error"`
	}
	if err := json.Unmarshal(a.body, &b); err != nil || b.Error.Message == "" {
		t.Fatalf("body %q is not an OpenAI-style error: %v", a.body, err)
	}
	return b.Error.Code
}

// chatBody is a small chat request with max_tokens.
func chatBody(maxTokens int) string {
	return `{"model":"gpt-4o-mini","max_tokens":` + itoa(int64(maxTokens)) + `,"messages":[{"role":"user","content":"hello there"}]}`
}

func post(t *testing.T, url, path, key, body string, hdr map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Ocp-Apim-Subscription-Key", key)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

const chatPath = "/v1/chat/completions"

func indent(s string) string { return strings.ReplaceAll(s, "\t", "  ") }

func recordJSON(r record.Record) string {
	b, _ := json.Marshal(r)
	return string(b)
}

// unsignedJWT builds a token whose payload is claims (signature not valid).
func unsignedJWT(claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	p, _ := json.Marshal(claims)
	enc := func(b []byte) string { return strings.TrimRight(base64.URLEncoding.EncodeToString(b), "=") }
	return enc(h) + "." + enc(p) + ".c2ln"
}

// behaviour is one documented behaviour and the test that checks it.
type behaviour struct {
	name string
	run  func(t *testing.T)
}

// runBehaviours runs each behaviour as a parallel subtest.
func runBehaviours(t *testing.T, bs []behaviour) {
	t.Helper()
	for _, b := range bs {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			b.run(t)
		})
	}
}
