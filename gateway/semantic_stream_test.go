package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/record"
)

// sseEvents are the data payloads of an event stream, in order.
func sseEvents(t *testing.T, body []byte) []string {
	t.Helper()
	var out []string
	for _, ev := range strings.Split(strings.TrimSpace(string(body)), "\n\n") {
		data, ok := strings.CutPrefix(ev, "data: ")
		if !ok {
			t.Fatalf("event %q is not a data event", ev)
		}
		out = append(out, data)
	}
	return out
}

// TestSemanticCacheStreams: a streamed chat completion is cached (its
// assembled text, with the usage the record charged) and a similar prompt,
// streamed or not, is answered from the cache: a stream hit is an event
// stream of chat.completion.chunk events, with the usage chunk only when
// stream_options.include_usage asks for it, ending with [DONE]; a plain
// request gets the text as a chat completion. The OpenAI SDK's accumulator
// reads the replayed stream as it reads the model's.
func TestSemanticCacheStreams(t *testing.T) {
	t.Parallel()
	mock, url := serveMock(t, mockllm.Config{MinFraction: 1})
	e := start(t, cacheConfig(100000, ""), url, nil)
	client := openai.NewClient(option.WithBaseURL(e.url+"/v1/"), option.WithAPIKey("cache-key-1"), option.WithMaxRetries(0),
		option.WithHeader("X-Aiload-Persona", "chat"))
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:         "gpt-4o-mini",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage(question)},
		MaxTokens:     openai.Int(50),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	stream := func() (openai.ChatCompletionAccumulator, record.Record) {
		t.Helper()
		n := len(e.sink.all())
		s := client.Chat.Completions.NewStreaming(ctx, params)
		acc := openai.ChatCompletionAccumulator{}
		for s.Next() {
			acc.AddChunk(s.Current())
		}
		if err := s.Err(); err != nil {
			t.Fatalf("stream: %v", err)
		}
		return acc, records(t, e, n+1)[n]
	}
	first, miss := stream()
	if miss.Outcome != record.OutcomeOK || !miss.Stream || miss.CompletionTokens != 50 || first.Choices[0].Message.Content == "" {
		t.Fatalf("first stream: record %s stream %v %d completion tokens, text %q", miss.Outcome, miss.Stream, miss.CompletionTokens, first.Choices[0].Message.Content)
	}
	text, finish := first.Choices[0].Message.Content, first.Choices[0].FinishReason

	before := mock.Served()["chat"].Requests
	again, hit := stream()
	if called := mock.Served()["chat"].Requests - before - 1; called != 0 { // the lookup's embeddings call aside
		t.Errorf("the repeated stream called the model %d times", called)
	}
	if hit.Outcome != record.OutcomeCacheHit || !hit.Stream || hit.CachePromptTokens != miss.PromptTokens || hit.CacheCompletionTokens != 50 || hit.TotalTokens != 0 {
		t.Errorf("hit record: %s stream %v cached %d+%d total %d; want cache_hit with the first stream's %d+50",
			hit.Outcome, hit.Stream, hit.CachePromptTokens, hit.CacheCompletionTokens, hit.TotalTokens, miss.PromptTokens)
	}
	if got := again.Choices[0]; got.Message.Content != text || got.FinishReason != finish ||
		again.Usage.PromptTokens != miss.PromptTokens || again.Usage.CompletionTokens != 50 || again.Usage.TotalTokens != miss.PromptTokens+50 {
		t.Errorf("replayed stream: %q finish %q usage %+v; want the first's text, finish %q and usage %d+50",
			got.Message.Content, got.FinishReason, again.Usage, finish, miss.PromptTokens)
	}

	// the bytes: role, text, finish, no usage chunk without include_usage, [DONE]
	raw := post(t, e.url, chatPath, "cache-key-1", strings.Replace(askBody(paraphrase), `"max_tokens"`, `"stream":true,"max_tokens"`, 1), nil)
	if raw.status != 200 || raw.header.Get("Content-Type") != "text/event-stream" || e.sink.last(t).Outcome != record.OutcomeCacheHit {
		t.Fatalf("paraphrase streamed: %d %q %s", raw.status, raw.header.Get("Content-Type"), e.sink.last(t).Outcome)
	}
	evs := sseEvents(t, raw.body)
	if len(evs) != 4 || evs[3] != "[DONE]" {
		t.Fatalf("events %q, want role, text, finish and [DONE]", evs)
	}
	type chunk struct {
		Object  string `json:"object"`
		Model   string `json:"model"`
		Choices []struct {
			Delta        map[string]string `json:"delta"`
			FinishReason *string           `json:"finish_reason"`
		} `json:"choices"`
		Usage json.RawMessage `json:"usage"`
	}
	var cs [3]chunk
	for i := range cs {
		if err := json.Unmarshal([]byte(evs[i]), &cs[i]); err != nil || cs[i].Object != "chat.completion.chunk" || cs[i].Model != "gpt-4o-mini" || cs[i].Usage != nil {
			t.Fatalf("event %d %s: %v", i, evs[i], err)
		}
	}
	if cs[0].Choices[0].Delta["role"] != "assistant" || cs[1].Choices[0].Delta["content"] != text ||
		cs[2].Choices[0].FinishReason == nil || *cs[2].Choices[0].FinishReason != finish {
		t.Errorf("events %q: want the assistant role, the cached text, finish_reason %q", evs, finish)
	}

	// a plain request gets the stream's text as a chat completion
	plain := ask(t, e, "cache-key-1", question)
	var resp struct {
		Choices []struct {
			Message      struct{ Content string } `json:"message"`
			FinishReason string                   `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			CompletionTokens int64 `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(plain.body, &resp); err != nil || e.sink.last(t).Outcome != record.OutcomeCacheHit ||
		resp.Choices[0].Message.Content != text || resp.Choices[0].FinishReason != finish || resp.Usage.CompletionTokens != 50 {
		t.Errorf("plain request after the stream: %s %s", e.sink.last(t).Outcome, plain.body)
	}

	// and a stream replays an answer stored from a plain request
	params.Messages = []openai.ChatCompletionMessageParamUnion{openai.UserMessage(unrelated)}
	plainFirst := ask(t, e, "cache-key-1", unrelated)
	replayed, r := stream()
	if r.Outcome != record.OutcomeCacheHit || !bytes.Contains(plainFirst.body, []byte(jsonString(replayed.Choices[0].Message.Content))) {
		t.Errorf("stream after a plain answer: %s, text %q not in %s", r.Outcome, replayed.Choices[0].Message.Content, plainFirst.body)
	}
}

// TestSemanticCacheStreamToolCalls: a stream that answers with tool calls
// and no text is not kept, so the same prompt goes to the model again.
func TestSemanticCacheStreamToolCalls(t *testing.T) {
	t.Parallel()
	_, url := serveMock(t, mockllm.Config{}) // tools offered: always a tool call
	e := start(t, cacheConfig(100000, ""), url, nil)
	body := `{"model":"gpt-4o-mini","stream":true,"max_tokens":40,"messages":[{"role":"user","content":"` + question + `"}],` +
		`"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}`
	for i := range 2 {
		a := post(t, e.url, chatPath, "cache-key-1", body, nil)
		r := records(t, e, i+1)[i]
		if a.status != 200 || !bytes.Contains(a.body, []byte(`"tool_calls"`)) || r.Outcome != record.OutcomeOK {
			t.Fatalf("request %d: %d %s, outcome %s; want the model's tool call each time", i, a.status, a.body, r.Outcome)
		}
	}
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }
