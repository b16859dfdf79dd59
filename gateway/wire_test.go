package gateway_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/aiload/aiload/gateway"
)

// azureLike is a backend that answers as Azure OpenAI does, with its own
// request ids, region and rate-limit headers, and headers that must not
// reach the caller (a cookie, connection-scoped ones).
func azureLike(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("x-request-id", "req-backend-42")
		h.Set("apim-request-id", "apim-backend-42")
		h.Set("x-ms-region", "Sweden Central")
		h.Set("x-ratelimit-remaining-tokens", "777")
		h.Set("Set-Cookie", "affinity=abc")
		h.Set("Connection", "x-hop")
		h.Set("x-hop", "1")
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), `"stream":true`) {
			h.Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":"hi"}}]}`+"\n\n"+
				`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}`+"\n\ndata: [DONE]\n\n")
			return
		}
		h.Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"c1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}`)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestBackendHeadersReachTheSDK: the OpenAI SDK's view of an answer through
// the gateway carries the backend's x-request-id (the SDK's request id),
// apim-request-id and x-ms-region, plain and streamed; the backend's own
// x-ratelimit-remaining-tokens is kept, not replaced by the gateway's; a
// cookie and connection-scoped headers stay behind.
func TestBackendHeadersReachTheSDK(t *testing.T) {
	t.Parallel()
	be := azureLike(t)
	e := start(t, `
products: [{name: p, tokens_per_minute: 100000}]
subscriptions: [{id: s1, key: hdr-key-1, product: p, team: t}]
`, be.URL, nil)
	client := sdkClient(e.url, "hdr-key-1")
	params := openai.ChatCompletionNewParams{Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
	check := func(kind string, h http.Header) {
		t.Helper()
		for k, want := range map[string]string{"x-request-id": "req-backend-42", "apim-request-id": "apim-backend-42", "x-ms-region": "Sweden Central",
			"x-ratelimit-remaining-tokens": "777", "x-ratelimit-limit-tokens": "100000", "Set-Cookie": "", "x-hop": ""} {
			if got := h.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", kind, k, got, want)
			}
		}
		if h.Get("x-ms-request-id") != e.sink.last(t).RequestID {
			t.Errorf("%s: x-ms-request-id %q, want the record's id", kind, h.Get("x-ms-request-id"))
		}
	}
	var raw *http.Response
	if _, err := client.Chat.Completions.New(context.Background(), params, option.WithResponseInto(&raw)); err != nil {
		t.Fatal(err)
	}
	check("completion", raw.Header)
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	s := client.Chat.Completions.NewStreaming(context.Background(), params, option.WithResponseInto(&raw))
	for s.Next() {
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	records(t, e, 2)
	check("stream", raw.Header)
}

// TestWireAPIMInYAML: wire: apim in a hand-written config answers the
// gateway's own refusals as API Management does, without the OpenAI-style
// retry-after-ms and x-ratelimit-* headers; the default keeps OpenAI's.
func TestWireAPIMInYAML(t *testing.T) {
	t.Parallel()
	b := newSpy(t, 150)
	cfg := `
products: [{name: p, token_limits: [{tokens_per_minute: 100, retry_after_header_name: x-wait}]}]
subscriptions: [{id: s1, key: wire-key-1, product: p, team: t}]
`
	e := start(t, "wire: apim"+cfg, b.srv.URL, nil)
	post(t, e.url, chatPath, "wire-key-1", chatBody(10), nil)
	a := post(t, e.url, chatPath, "wire-key-1", chatBody(10), nil)
	if string(a.body) != `{ "statusCode": 429, "message": "Token limit is exceeded. Try again in 60 seconds." }` ||
		a.header.Get("x-wait") != "60" || a.header.Get("Retry-After") != "" || a.header.Get("retry-after-ms") != "" || a.header.Get("x-ratelimit-remaining-tokens") != "" {
		t.Fatalf("wire apim: %d %s, headers %v", a.status, a.body, a.header)
	}
	if a := post(t, e.url, chatPath, "", chatBody(10), nil); !strings.HasPrefix(string(a.body), `{ "statusCode": 401, "message": "Access denied due to missing subscription key.`) ||
		!strings.HasPrefix(a.header.Get("WWW-Authenticate"), "AzureApiManagementKey realm=") {
		t.Fatalf("wire apim, no key: %d %s %v", a.status, a.body, a.header)
	}
	o := start(t, cfg, b.srv.URL, nil)
	post(t, o.url, chatPath, "wire-key-1", chatBody(10), nil)
	a = post(t, o.url, chatPath, "wire-key-1", chatBody(10), nil)
	if a.status != 429 || a.errorCode(t) != "429" || a.header.Get("x-wait") != "60" || a.header.Get("x-ratelimit-remaining-tokens") != "0" {
		t.Fatalf("wire openai: %d %s, headers %v", a.status, a.body, a.header)
	}
}

// TestRetryConfigErrors: retry: and wire: are checked with their paths.
func TestRetryConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ yaml, want string }{
		{`retry: {count: 0}`, "gateway.retry.count: must be within [1, 50], got 0"},
		{`retry: {count: 2, status_codes: ["4xx"]}`, "gateway.retry.status_codes[0]"},
		{`retry: {count: 2, interval: 10s, max_interval: 1s}`, "gateway.retry.max_interval: must be >= interval"},
		{`wire: soap`, `gateway.wire: must be openai or apim, got "soap"`},
	} {
		cfg := gateway.Config{}
		if err := yaml.UnmarshalWithOptions([]byte(tc.yaml), &cfg, yaml.Strict()); err != nil {
			t.Fatal(err)
		}
		cfg.Defaults()
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %s", tc.yaml, err, tc.want)
		}
	}
}
