package gateway_test

import (
	"context"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/azure"
	"github.com/openai/openai-go/v3/option"

	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/gateway/tokens"
)

// TestEmbeddingsSDK sends embeddings requests with the official SDK
// through the gateway, on the OpenAI and the Azure routes: the vectors
// arrive (float and base64), the record has operation embeddings and the
// answer's usage, and the token limit counts them and refuses what does
// not fit.
func TestEmbeddingsSDK(t *testing.T) {
	t.Parallel()
	_, url := serveMock(t, mockllm.Config{})
	e := start(t, `
products: [{name: p, token_limits: [{tokens_per_minute: 60, estimate_prompt_tokens: true}]}]
subscriptions: [{id: s1, key: emb-key-1, product: p, team: t}]
backends: [{name: b1}]
`, url, nil)
	ctx := context.Background()
	text := "Where is the nearest train station to the conference venue?"
	want, _ := tokens.NewCounter().Text("text-embedding-3-small", text)
	client := sdkClient(e.url, "emb-key-1")
	resp, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "text-embedding-3-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String(text)},
	})
	if err != nil {
		t.Fatalf("embeddings: %v", err)
	}
	if len(resp.Data) != 1 || len(resp.Data[0].Embedding) != 1536 || resp.Usage.PromptTokens != want || resp.Usage.TotalTokens != want {
		t.Fatalf("answer: %d embeddings, usage %+v; want 1 of 1536 dimensions and %d tokens", len(resp.Data), resp.Usage, want)
	}
	r := e.sink.last(t)
	if r.Operation != "embeddings" || r.Model != "text-embedding-3-small" || r.PromptTokens != want || r.CompletionTokens != 0 ||
		r.TotalTokens != want || r.TokensEstimated || r.Status != 200 || r.Backend != "b1" {
		t.Fatalf("record %+v; want operation embeddings with %d prompt tokens", r, want)
	}

	az := openai.NewClient(azure.WithEndpoint(e.url, "2024-10-21"), azure.WithAPIKey("emb-key-1"), azure.WithUnsafeAllowHTTP(), option.WithMaxRetries(0))
	resp, err = az.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model:          "text-embedding-3-small",
		Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{text, "hello"}},
		Dimensions:     openai.Int(64),
		EncodingFormat: openai.EmbeddingNewParamsEncodingFormatBase64,
	})
	if err != nil {
		t.Fatalf("azure embeddings: %v", err)
	}
	if len(resp.Data) != 2 || len(resp.Data[1].Embedding) != 64 {
		t.Fatalf("azure answer: %d embeddings", len(resp.Data))
	}
	r = e.sink.last(t)
	if r.API != "azure-openai" || r.Operation != "embeddings" || r.PromptTokens != resp.Usage.PromptTokens {
		t.Fatalf("azure record %+v", r)
	}

	// The window now holds more than 60 − 13 tokens: a long input is refused.
	_, err = client.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "text-embedding-3-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfString: openai.String(strings.Repeat("word ", 40))},
	})
	if !typed429(err) {
		t.Fatalf("over the limit: %v, want the SDK's 429", err)
	}
	if r = e.sink.last(t); r.Outcome != "throttled" || r.Operation != "embeddings" {
		t.Fatalf("refused record %+v", r)
	}
}
