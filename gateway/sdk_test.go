package gateway_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"

	"github.com/aiload/aiload/gateway/mockllm"
)

// TestOpenAISDK uses the official OpenAI Go SDK as a client of the gateway:
// completions, streams, and a typed 429 error carrying the retry delay.
func TestOpenAISDK(t *testing.T) {
	t.Parallel()
	_, url := serveMock(t, mockllm.Config{MinFraction: 1})
	e := start(t, `
products: [{name: p, token_limits: [{tokens_per_minute: 200}]}]
subscriptions: [{id: s1, key: sdk-key-1, product: p, team: t}]
`, url, nil)
	// The subscription key as the SDK's API key (Authorization: Bearer).
	client := openai.NewClient(
		option.WithBaseURL(e.url+"/v1/"),
		option.WithAPIKey("sdk-key-1"),
		option.WithMaxRetries(0),
	)
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:     "gpt-4o-mini",
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello.")},
		MaxTokens: openai.Int(30),
	}

	resp, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatalf("completion: %v", err)
	}
	if r := e.sink.last(t); resp.Usage.CompletionTokens != 30 || resp.Usage.TotalTokens != r.TotalTokens || resp.Choices[0].Message.Content == "" {
		t.Fatalf("completion usage %+v, record total %d", resp.Usage, r.TotalTokens)
	}

	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	acc := openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	// the stream's record is written once the stream has been relayed, which
	// may be just after the client read [DONE]
	r := e.sink.last(t)
	for i := 0; i < 200 && !r.Stream; i++ {
		time.Sleep(10 * time.Millisecond)
		r = e.sink.last(t)
	}
	if acc.Usage.TotalTokens == 0 || acc.Usage.TotalTokens != r.TotalTokens || acc.Choices[0].Message.Content == "" || !r.Stream {
		t.Fatalf("stream usage %+v content %q, record %+v", acc.Usage, acc.Choices[0].Message.Content, r)
	}

	// Two answers of ~45 tokens... the third crosses 200 and the fourth is refused.
	var apiErr *openai.Error
	for i := 0; i < 10 && apiErr == nil; i++ {
		_, err = client.Chat.Completions.New(ctx, params)
		errors.As(err, &apiErr)
	}
	if apiErr == nil || apiErr.StatusCode != 429 || apiErr.Type != "rate_limit_error" {
		t.Fatalf("want a typed 429 error, got %v", err)
	}
	ra, _ := strconv.ParseInt(apiErr.Response.Header.Get("Retry-After"), 10, 64)
	ms, _ := strconv.ParseInt(apiErr.Response.Header.Get("retry-after-ms"), 10, 64)
	if ra < 1 || ms < 1 || (ms+999)/1000 != ra {
		t.Fatalf("429 retry delay: Retry-After %d s, retry-after-ms %d; want the seconds rounded up from the milliseconds", ra, ms)
	}
}

// TestRetryAfterMillisIsExact shows the 429's retry-after-ms is the exact
// wait, not Retry-After's whole seconds times 1000: a window filled 250 ms
// ago frees up in 59.75 s, which Retry-After rounds up to 60 s, and 60000 ms
// is a value the OpenAI Node SDK ignores (it honours retry-after-ms below
// 60000 only, and falls back to a backoff of a second or two that is
// refused again). The request passes after exactly the advertised wait.
func TestRetryAfterMillisIsExact(t *testing.T) {
	t.Parallel()
	b := newSpy(t, 150)
	e := start(t, `
products: [{name: p, tokens_per_minute: 100}]
subscriptions: [{id: s1, key: ms-key-1, product: p, team: t}]
`, b.srv.URL, nil)
	if a := post(t, e.url, chatPath, "ms-key-1", chatBody(10), nil); a.status != 200 {
		t.Fatalf("first request: %d %s", a.status, a.body)
	}
	e.clock.Advance(250 * time.Millisecond)
	a := post(t, e.url, chatPath, "ms-key-1", chatBody(10), nil)
	if a.status != 429 || a.header.Get("Retry-After") != "60" || a.header.Get("retry-after-ms") != "59750" {
		t.Fatalf("second request: %d, Retry-After %q, retry-after-ms %q; want 429, 60 and 59750",
			a.status, a.header.Get("Retry-After"), a.header.Get("retry-after-ms"))
	}
	if r := e.sink.last(t); r.RetryAfterMS != 59750 {
		t.Fatalf("record retry_after_ms %d, want the advertised 59750", r.RetryAfterMS)
	}
	e.clock.Advance(59749 * time.Millisecond)
	if a := post(t, e.url, chatPath, "ms-key-1", chatBody(10), nil); a.status != 429 || a.header.Get("retry-after-ms") != "1" {
		t.Fatalf("1 ms early: %d, retry-after-ms %q; want 429 and 1", a.status, a.header.Get("retry-after-ms"))
	}
	e.clock.Advance(time.Millisecond)
	if a := post(t, e.url, chatPath, "ms-key-1", chatBody(10), nil); a.status != 200 {
		t.Fatalf("after the advertised wait: %d %s", a.status, a.body)
	}
}

// TestOpenAISDKAzure uses the SDK's Azure mode (api-key header, deployment
// in the path, api-version query) against the Azure route.
func TestOpenAISDKAzure(t *testing.T) {
	t.Parallel()
	_, url := serveMock(t, mockllm.Config{MinFraction: 1})
	e := start(t, `
backend: {deployments: [chat-4o-mini]}
products: [{name: p, tokens_per_minute: 100000}]
subscriptions: [{id: s1, key: azure-key-1, product: p, team: t}]
`, url, nil)
	client := openai.NewClient(
		azure.WithEndpoint(e.url, "2024-10-21"),
		azure.WithAPIKey("azure-key-1"),
		azure.WithUnsafeAllowHTTP(),
		option.WithMaxRetries(0),
	)
	resp, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:     "chat-4o-mini", // the deployment name
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello.")},
		MaxTokens: openai.Int(12),
	})
	if err != nil {
		t.Fatalf("completion through the Azure route: %v", err)
	}
	r := e.sink.last(t)
	if resp.Usage.CompletionTokens != 12 || r.API != "azure-openai" || r.Model != "chat-4o-mini" || r.SubscriptionID != "s1" {
		t.Fatalf("usage %+v, record api %q model %q subscription %q", resp.Usage, r.API, r.Model, r.SubscriptionID)
	}
	_, err = client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "no-such-deployment", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")},
	})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "DeploymentNotFound" {
		t.Fatalf("unknown deployment: %v", err)
	}
}
