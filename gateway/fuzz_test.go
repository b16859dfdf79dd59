package gateway_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/golang-jwt/jwt/v5"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/policy/policytest"
	"github.com/aiload/aiload/record"
)

// roundTrip answers backend requests in process, without sockets.
type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

const completionJSON = `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}`

// fuzzGateway builds a gateway from YAML whose backend answers with body.
func fuzzGateway(f *testing.F, cfgYAML string, contentType string, body func() []byte) (*gateway.Gateway, *sink) {
	f.Helper()
	var cfg gateway.Config
	if err := yaml.Unmarshal([]byte(cfgYAML), &cfg); err != nil {
		f.Fatal(err)
	}
	s := &sink{}
	gw, err := gateway.New(cfg, "http://backend.invalid", gateway.Options{
		Sink:  s,
		Clock: policytest.NewFakeClock(t0),
		Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
			_, _ = io.Copy(io.Discard, r.Body)
			return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {contentType}},
				Body: io.NopCloser(bytes.NewReader(body())), Request: r}, nil
		}),
	})
	if err != nil {
		f.Fatal(err)
	}
	return gw, s
}

const fuzzCfg = `
products: [{name: p, token_limits: [{counter_key: subscription, tokens_per_minute: 1000000000}]}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`

// FuzzChatRequest: whatever body a caller sends, the gateway answers 200 or
// a 4xx with an OpenAI-style error body, never panics, never answers 5xx,
// and writes exactly one record per request.
func FuzzChatRequest(f *testing.F) {
	for _, seed := range []string{
		`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"max_tokens":5}`,
		`{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"x"}}]}]}`,
		`{"messages":[]}`, `{"messages":null}`, `{`, `[]`, `""`, `{"messages":[{"role":1}]}`,
		`{"messages":[{"role":"user","content":"x"}],"max_tokens":-1}`,
		`{"messages":[{"role":"user","content":"x"}],"max_tokens":1e309}`,
		`{"messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true}}`,
	} {
		f.Add([]byte(seed))
	}
	gw, s := fuzzGateway(f, fuzzCfg, "application/json", func() []byte { return []byte(completionJSON) })
	f.Fuzz(func(t *testing.T, body []byte) {
		before := len(s.all())
		req := httptest.NewRequest(http.MethodPost, "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", bytes.NewReader(body))
		req.Header.Set("api-key", "k1")
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("body %q: status %d, want 200 or 4xx", body, rec.Code)
		}
		if rec.Code >= 400 {
			var e struct {
				Error struct {
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Message == "" {
				t.Fatalf("body %q: %d with a body that is not an OpenAI error: %q", body, rec.Code, rec.Body.String())
			}
		}
		if got := len(s.all()) - before; got != 1 {
			t.Fatalf("body %q: %d records written, want 1", body, got)
		}
	})
}

// FuzzStreamRelay: whatever server-sent events a backend streams, the
// gateway relays them without panicking and records the request once, with
// non-negative token counts.
func FuzzStreamRelay(f *testing.F) {
	for _, seed := range []string{
		"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\n\ndata: [DONE]\n\n",
		"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n",
		"data: [DONE]\n\n", "data: {not json}\n\n", ": comment\n\nevent: x\ndata: 1\n\n", "data:", "\n\n\n", "",
		"data: {\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":-1,\"total_tokens\":-6}}\n\n",
	} {
		f.Add([]byte(seed))
	}
	var stream []byte
	gw, s := fuzzGateway(f, fuzzCfg, "text/event-stream", func() []byte { return stream })
	f.Fuzz(func(t *testing.T, sse []byte) {
		stream = sse
		before := len(s.all())
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,"max_tokens":8}`))
		req.Header.Set("api-key", "k1")
		gw.ServeHTTP(httptest.NewRecorder(), req)
		all := s.all()
		if len(all)-before != 1 {
			t.Fatalf("stream %q: %d records, want 1", sse, len(all)-before)
		}
		r := all[len(all)-1]
		if r.PromptTokens < 0 || r.CompletionTokens < 0 || r.TotalTokens < 0 || !r.Outcome.Valid() {
			t.Fatalf("stream %q: record %+v has negative tokens or an unknown outcome", sse, r)
		}
	})
}

// FuzzBearerToken: no token a caller can forge passes validate-jwt: the
// answer is 401 with an OpenAI-style body, and the record says unauthorized.
func FuzzBearerToken(f *testing.F) {
	claims := jwt.MapClaims{"iss": "https://issuer.example", "aud": "api://aiload", "sub": "u", "exp": t0.Unix() + 3600}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	other, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(strings.Repeat("y", 40)))
	for _, seed := range []string{none, other, "", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "Bearer", strings.Repeat(".", 100)} {
		f.Add(seed)
	}
	cfg := fuzzCfg + `
jwt:
  issuer: https://issuer.example
  audiences: [api://aiload]
  keys: [{kid: hs, alg: HS256, secret: "` + strings.Repeat("s", 40) + `"}]
`
	gw, s := fuzzGateway(f, cfg, "application/json", func() []byte { return []byte(completionJSON) })
	f.Fuzz(func(t *testing.T, token string) {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("api-key", "k1")
		req.Header["Authorization"] = []string{"Bearer " + token}
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("token %q: status %d, want 401", token, rec.Code)
		}
		if r := s.last(t); r.Outcome != record.OutcomeUnauthorized {
			t.Fatalf("token %q: record outcome %q, want unauthorized", token, r.Outcome)
		}
	})
}
