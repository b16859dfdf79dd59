package mockllm_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/aiload/aiload/gateway/chat"
	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/gateway/tokens"
)

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

// TestEmbeddingsRoutes: both routes answer one embedding per input with
// the model's dimensions (or those asked for), usage counted with the
// model's tokenizer, and base64 when asked.
func TestEmbeddingsRoutes(t *testing.T) {
	t.Parallel()
	url := serve(t, mockllm.Config{Seed: 1})
	text := "How do I reset the password of my account?"
	want, _ := tokens.NewCounter().Text("text-embedding-3-small", text)
	for _, c := range []struct {
		path, body string
		n, dim     int
	}{
		// one string, the OpenAI route
		{"/v1/embeddings", `{"model":"text-embedding-3-small","input":"` + text + `"}`, 1, 1536},
		// an array of two strings, the Azure route, large model
		{"/openai/deployments/text-embedding-3-large/embeddings?api-version=2024-10-21", `{"input":["` + text + `","` + text + `"]}`, 2, 3072},
		// dimensions asked for, base64
		{"/v1/embeddings", `{"model":"text-embedding-3-small","input":"` + text + `","dimensions":256,"encoding_format":"base64"}`, 1, 256},
	} {
		status, body := postPath(t, url, c.path, c.body)
		if status != 200 {
			t.Fatalf("%s: status %d: %s", c.path, status, body)
		}
		var r chat.EmbeddingsResponse
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		if len(r.Data) != c.n || len(r.Data[0].Vector) != c.dim {
			t.Fatalf("%s: %d embeddings of %d dimensions, want %d of %d", c.path, len(r.Data), len(r.Data[0].Vector), c.n, c.dim)
		}
		if r.Usage.PromptTokens != want*int64(c.n) || r.Usage.TotalTokens != r.Usage.PromptTokens {
			t.Errorf("%s: usage %+v, want %d prompt tokens", c.path, *r.Usage, want*int64(c.n))
		}
		if strings.Contains(c.body, "base64") != strings.Contains(body, `"embedding":"`) {
			t.Errorf("%s: encoding: %.120s", c.path, body)
		}
	}
	status, body := postPath(t, url, "/v1/embeddings", `{"model":"text-embedding-3-small"}`)
	if status != http.StatusBadRequest || !strings.Contains(body, "missing_required_parameter") {
		t.Errorf("no input: %d %s", status, body)
	}
}

// TestEmbeddingsSimilarity: the same text gets the same vector; texts
// sharing most words score close; unrelated texts do not; the in-process
// answer equals the HTTP one.
func TestEmbeddingsSimilarity(t *testing.T) {
	t.Parallel()
	base := "please summarise the quarterly sales report for the northern region and list the three largest accounts by revenue growth"
	para := "please summarise the quarterly sales report for the southern region and list the three biggest accounts by revenue growth"
	other := "write a haiku about autumn leaves falling on a quiet pond"
	a, b, c := mockllm.Embed(base, 1536), mockllm.Embed(para, 1536), mockllm.Embed(other, 1536)
	if s := cosine(a, mockllm.Embed(base, 1536)); math.Abs(s-1) > 1e-6 {
		t.Errorf("same text: similarity %g, want 1", s)
	}
	if s := cosine(a, b); s < 0.85 || s > 0.95 {
		t.Errorf("2 of 20 words changed: similarity %g, want about 0.9", s)
	}
	if s := cosine(a, c); s > 0.3 {
		t.Errorf("unrelated texts: similarity %g, want near 0", s)
	}
	m := mockllm.New(mockllm.Config{Seed: 1})
	ans := m.Embed(context.Background(), &chat.EmbedCall{Model: "text-embedding-3-small", Input: []string{base}})
	if ans.Status != 200 || cosine(ans.Vectors[0], a) < 0.999999 {
		t.Fatalf("in process: %+v", ans.Error)
	}
	want, _ := tokens.NewCounter().Text("text-embedding-3-small", base)
	if ans.PromptTokens != want {
		t.Errorf("in process: %d prompt tokens, want %d", ans.PromptTokens, want)
	}
}
