package mockllm_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway/chat"
	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/gateway/policy/policytest"
	"github.com/aiload/aiload/gateway/tokens"
)

// TestCallAnswersAsHTTP: two mocks with one config and seed, one called
// over HTTP and one in process with the same requests, decide the same:
// status, retry advice, usage, the completion's token count, and the
// tokens they tally.
func TestCallAnswersAsHTTP(t *testing.T) {
	t.Parallel()
	clock := policytest.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	cfg := mockllm.Config{Seed: 5, PTUTPM: 3000, ErrorRate: 0.2, Clock: clock}
	overHTTP, direct := mockllm.New(cfg), mockllm.New(cfg)
	srv := httptest.NewServer(overHTTP)
	t.Cleanup(srv.Close)
	url := srv.URL
	counter := tokens.NewCounter()
	prompts := []string{"hello there", strings.Repeat("a longer prompt about quarterly sales ", 40), "x"}
	seen := map[int]int{}
	for i := range 24 {
		text := prompts[i%len(prompts)]
		maxTok := int64(50 + 30*(i%4))
		b, _ := json.Marshal(map[string]any{"model": "gpt-4o-mini", "max_tokens": maxTok,
			"messages": []map[string]string{{"role": "system", "content": "be brief"}, {"role": "user", "content": text}}})
		req, _ := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", strings.NewReader(string(b)))
		req.Header.Set(mockllm.PersonaHeader, "p")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		n, _ := counter.Text("gpt-4o-mini", text)
		known := []int64{-1, n}[i%2] // counted by the mock, or given
		a := direct.Call(context.Background(), &chat.Call{Header: chat.Header{{Name: mockllm.PersonaHeader, Value: "p"}},
			Body: chat.Body{Model: "gpt-4o-mini", MaxTokens: maxTok, Messages: []chat.Msg{
				{Role: "system", Text: "be brief", Tokens: -1}, {Role: "user", Text: text, Tokens: known}}}})
		if a.Status != resp.StatusCode || a.Header.Get("retry-after-ms") != resp.Header.Get("retry-after-ms") {
			t.Fatalf("request %d: in process %d (retry-after-ms %q), over HTTP %d (%q)", i, a.Status,
				a.Header.Get("retry-after-ms"), resp.StatusCode, resp.Header.Get("retry-after-ms"))
		}
		if resp.StatusCode == http.StatusOK {
			var cr chat.Response
			_ = json.Unmarshal(out, &cr)
			content := cr.Choices[0].Message.Text()
			want, _ := counter.Text("gpt-4o-mini", content)
			if *a.Usage != *cr.Usage || a.Text != content || a.TextTokens != want {
				t.Fatalf("request %d: in process usage %+v text %d tokens, over HTTP %+v and %d", i, *a.Usage, a.TextTokens, *cr.Usage, want)
			}
		}
		seen[resp.StatusCode]++
		clock.Advance(500 * time.Millisecond)
	}
	if seen[200] == 0 || seen[429] == 0 || seen[500] == 0 {
		t.Fatalf("statuses %v: want 200s, 429s and 500s", seen)
	}
	if got, want := direct.Served(), overHTTP.Served(); got["p"] != want["p"] || want["p"].Requests == 0 {
		t.Fatalf("tallied in process %+v, over HTTP %+v", got, want)
	}
}

// TestCallStreamTiming: a streamed answer in process says when its first
// chunk (after first_token_delay) and its first content (one chunk of
// per-token delays later) were sent, and sleeps the whole stream.
func TestCallStreamTiming(t *testing.T) {
	t.Parallel()
	clock := policytest.NewFakeClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	slept := time.Duration(0)
	m := mockllm.New(mockllm.Config{MinFraction: 1, FirstTokenDelay: 80 * time.Millisecond, PerTokenDelay: time.Millisecond,
		Clock: clock, Sleep: func(_ context.Context, d time.Duration) error { clock.Advance(d); slept += d; return nil }})
	a := m.Call(context.Background(), &chat.Call{Body: chat.Body{Model: "gpt-4o-mini", MaxTokens: 20, Stream: true, IncludeUsage: true,
		Messages: []chat.Msg{{Role: "user", Text: "hi", Tokens: -1}}}})
	if !a.Stream || a.FirstChunk != 80*time.Millisecond || a.FirstContent != 88*time.Millisecond || slept != 100*time.Millisecond {
		t.Fatalf("stream: first chunk %v, first content %v, slept %v; want 80ms, 88ms, 100ms", a.FirstChunk, a.FirstContent, slept)
	}
	if a.Usage == nil || a.Usage.CompletionTokens != 20 || a.Header.Get("content-type") != "text/event-stream" {
		t.Fatalf("stream answer: %+v", a)
	}
}
