package tokens

import (
	"encoding/json"
	"testing"

	"github.com/aiload/aiload/gateway/chat"
)

func TestPrompt(t *testing.T) {
	t.Parallel()
	c := NewCounter()
	content, _ := json.Marshal("hello hello hello")
	msgs := []chat.Message{{Role: "user", Content: content}}
	// "user" = 1 token, " hello" repeated: "hello hello hello" = 3 tokens;
	// 3 per message + 3 reply priming → 1 + 3 + 3 + 3 = 10.
	got, err := c.Prompt("gpt-4o", msgs)
	if err != nil {
		t.Fatal(err)
	}
	if got != 10 {
		t.Fatalf("Prompt(gpt-4o, %q) = %d, want 10", "hello hello hello", got)
	}
}

func TestEncodingFor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ model, want string }{
		{"gpt-4o-mini", "o200k_base"},
		{"gpt-4", "cl100k_base"},
		{"gpt-35-turbo", "cl100k_base"},
		{"llama-3-70b", "o200k_base"}, // unknown → documented fallback
	} {
		if got := string(EncodingFor(tc.model)); got != tc.want {
			t.Errorf("EncodingFor(%q) = %s, want %s", tc.model, got, tc.want)
		}
	}
}
