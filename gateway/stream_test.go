package gateway_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway/mockllm"
)

const streamBody = `{"model":"gpt-4o-mini","stream":true,"max_tokens":40,"messages":[{"role":"user","content":"tell me a story"}]}`

// TestStreamConformance covers streamed answers: SSE passes through event
// by event, usage comes from the final usage chunk or is estimated and
// flagged, and streaming requests always have their prompt estimated.
func TestStreamConformance(t *testing.T) {
	t.Parallel()
	runBehaviours(t, []behaviour{
		// stream_options.include_usage: the gateway asks for the usage chunk,
		// charges it, and does not pass it to a caller who did not ask.
		{"usage from the final chunk", streamUsage},
		// No usage chunk from the backend: prompt estimated, completion
		// counted from the streamed text, tokens_estimated set.
		{"estimated usage when the backend sends none", streamEstimated},
		// llm-token-limit: "When stream is set to true ... prompt tokens are
		// always estimated, regardless of estimate-prompt-tokens".
		{"streaming always estimates the prompt", streamEstimatesPrompt},
		// SSE passthrough without buffering the whole answer.
		{"events pass through before the answer ends", streamNotBuffered},
	})
}

// readSSE returns the data payloads of a streamed answer.
func readSSE(t *testing.T, body string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}

func streamUsage(t *testing.T) {
	_, url := serveMock(t, mockllm.Config{MinFraction: 1})
	e := start(t, `
products: [{name: p, token_limits: [{tokens_per_minute: 10000}]}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, url, nil)
	a := post(t, e.url, chatPath, "k1", streamBody, nil)
	events := readSSE(t, string(a.body))
	if a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/event-stream") || events[len(events)-1] != "[DONE]" {
		t.Fatalf("status %d type %q events %v", a.status, a.header.Get("Content-Type"), events)
	}
	for _, ev := range events {
		if strings.Contains(ev, `"prompt_tokens"`) {
			t.Fatalf("caller did not ask for usage but got %s", ev)
		}
	}
	r := e.sink.last(t)
	if !r.Stream || r.TokensEstimated || r.CompletionTokens != 40 || r.PromptTokens == 0 || r.TTFTMS <= 0 {
		t.Fatalf("record %+v: want stream, reported usage (40 completion), ttft", r)
	}
	// The usage was charged: the next answer shows it.
	b := post(t, e.url, chatPath, "k1", chatBody(5), nil)
	if got, want := b.header.Get("x-ratelimit-remaining-tokens"), fmt.Sprint(10000-r.TotalTokens-e.sink.last(t).TotalTokens); got != want {
		t.Fatalf("remaining after the stream: %s, want %s", got, want)
	}
	// A caller who asks for usage gets the usage chunk.
	c := post(t, e.url, chatPath, "k1", strings.Replace(streamBody, `"stream":true`, `"stream":true,"stream_options":{"include_usage":true}`, 1), nil)
	if !strings.Contains(string(c.body), `"total_tokens"`) {
		t.Fatalf("usage chunk missing for a caller who asked: %s", c.body)
	}
}

func streamEstimated(t *testing.T) {
	_, url := serveMock(t, mockllm.Config{MinFraction: 1, OmitStreamUsage: true})
	e := start(t, `
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, url, nil)
	if a := post(t, e.url, chatPath, "k1", streamBody, nil); a.status != 200 {
		t.Fatalf("status %d", a.status)
	}
	r := e.sink.last(t)
	if !r.TokensEstimated || r.PromptTokens == 0 || r.CompletionTokens < 36 || r.CompletionTokens > 44 {
		t.Fatalf("record %+v: want estimated usage, about 40 completion tokens", r)
	}
}

func streamEstimatesPrompt(t *testing.T) {
	_, url := serveMock(t, mockllm.Config{MinFraction: 1})
	e := start(t, `
products: [{name: p, token_limits: [{tokens_per_minute: 100, estimate_prompt_tokens: false}]}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, url, nil)
	long := strings.Repeat("word ", 200)
	plain := `{"model":"gpt-4o-mini","max_tokens":5,"messages":[{"role":"user","content":"` + long + `"}]}`
	streamed := strings.Replace(plain, `"max_tokens":5`, `"max_tokens":5,"stream":true`, 1)
	if a := post(t, e.url, chatPath, "k1", streamed, nil); a.status != 429 {
		t.Fatalf("streamed 200-token prompt against 100 TPM: %d, want 429 (prompt estimated)", a.status)
	}
	if a := post(t, e.url, chatPath, "k1", plain, nil); a.status != 200 {
		t.Fatalf("same prompt without streaming: %d, want 200 (estimation off: sent, then blocks)", a.status)
	}
}

func streamNotBuffered(t *testing.T) {
	release := make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"first\"}}]}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1,\"total_tokens\":6}}\n\ndata: [DONE]\n\n")
	}))
	t.Cleanup(be.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	e := start(t, `
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, be.URL, nil)
	req, _ := http.NewRequest(http.MethodPost, e.url+chatPath, strings.NewReader(streamBody))
	req.Header.Set("Ocp-Apim-Subscription-Key", "k1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if !strings.Contains(line, "first") {
			t.Fatalf("first line %q", line)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first event did not arrive while the backend was still streaming: the gateway buffers")
	}
	close(release)
}

// TestStreamOptionsKept checks that asking the backend for the usage chunk
// keeps the caller's other stream_options.
func TestStreamOptionsKept(t *testing.T) {
	be := newSpy(t, 20)
	e := start(t, `
products: [{name: p, token_limits: [{tokens_per_minute: 10000}]}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, be.srv.URL, nil)
	post(t, e.url, chatPath, "k1", `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_obfuscation":false},"messages":[{"role":"user","content":"hi"}]}`, nil)
	be.mu.Lock()
	defer be.mu.Unlock()
	if len(be.bodies) != 1 {
		t.Fatalf("backend saw %d requests", len(be.bodies))
	}
	var sent struct {
		StreamOptions map[string]any `json:"stream_options"`
	}
	if err := json.Unmarshal(be.bodies[0], &sent); err != nil {
		t.Fatal(err)
	}
	if sent.StreamOptions["include_usage"] != true || sent.StreamOptions["include_obfuscation"] != false {
		t.Fatalf("backend got stream_options %v, want include_usage true and include_obfuscation false kept", sent.StreamOptions)
	}
}

// TestStreamCallerClosesAfterDone: the OpenAI SDKs close the connection
// once they have read [DONE], which may come before the backend ends its
// body. The answer was whole: the record is ok with the usage chunk's
// tokens, not a cancelled request. A caller who leaves before [DONE] is
// recorded as cancelled (499).
func TestStreamCallerClosesAfterDone(t *testing.T) {
	t.Parallel()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		chunk := `{"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"hello"},"finish_reason":null}]}`
		fmt.Fprintf(w, "data: %s\n\n", chunk)
		w.(http.Flusher).Flush()
		if r.URL.Query().Get("cut") == "" {
			fmt.Fprint(w, `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}`+"\n\n")
			fmt.Fprint(w, "data: [DONE]\n\n")
			w.(http.Flusher).Flush()
		}
		// the backend ends its body late
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(backend.Close)
	e := start(t, `
products: [{name: p, token_limits: [{tokens_per_minute: 10000}]}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`, backend.URL, nil)

	stream := func(path, until string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(streamBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("api-key", "k1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() && !strings.Contains(sc.Text(), until) {
		}
		resp.Body.Close() // before the end of the body: the connection closes
	}
	waitRecord := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); len(e.sink.all()) < n; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d records after 5 s; want %d", len(e.sink.all()), n)
			}
		}
	}

	stream(chatPath, "[DONE]")
	waitRecord(1)
	if r := e.sink.last(t); r.Outcome != "ok" || r.Status != 200 || r.PromptTokens != 11 || r.CompletionTokens != 7 || r.TokensEstimated {
		t.Errorf("closed after [DONE]: record %s %d, %d+%d tokens (estimated %v); want ok 200 with the usage chunk's 11+7",
			r.Outcome, r.Status, r.PromptTokens, r.CompletionTokens, r.TokensEstimated)
	}

	stream(chatPath+"?cut=1", "hello")
	waitRecord(2)
	if r := e.sink.last(t); r.Outcome != "client_cancelled" || r.Status != 499 {
		t.Errorf("closed before [DONE]: record %s %d; want client_cancelled 499", r.Outcome, r.Status)
	}
}
