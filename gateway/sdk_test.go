package gateway_test

import (
	"context"
	"errors"
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
	if ra, ms := apiErr.Response.Header.Get("Retry-After"), apiErr.Response.Header.Get("retry-after-ms"); ra == "" || ms != ra+"000" {
		t.Fatalf("429 retry delay: Retry-After %q retry-after-ms %q", ra, ms)
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
