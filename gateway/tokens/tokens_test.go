package tokens

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tiktoken-go/tokenizer"

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

// TestPiecesSumToWhole: counting a long text in remembered pieces gives the
// tokenizer's count of the whole text, for prose, code, numbers, runs of
// spaces, newlines and non-ASCII text, under both encodings.
func TestPiecesSumToWhole(t *testing.T) {
	t.Parallel()
	parts := []string{"The quarterly report", "  two  spaces", "x = f(1234567, 'it''s')", "\n\nNew paragraph",
		" café naïve 東京 ", "don't won't they're", "\t tab", "https://example.com/a?b=c", "word", " 42 apples", ".", " ."}
	var b strings.Builder
	for i := 0; b.Len() < 20000; i++ {
		b.WriteString(parts[(i*7)%len(parts)])
		if i%3 == 0 {
			b.WriteByte(' ')
		}
	}
	text := b.String()
	for _, enc := range []tokenizer.Encoding{tokenizer.O200kBase, tokenizer.Cl100kBase} {
		cd, err := tokenizer.Get(enc)
		if err != nil {
			t.Fatal(err)
		}
		want, err := cd.Count(text)
		if err != nil {
			t.Fatal(err)
		}
		model := "gpt-4o"
		if enc == tokenizer.Cl100kBase {
			model = "gpt-4"
		}
		c := NewCounter()
		for round := 0; round < 2; round++ { // the second round hits the memo
			got, err := c.Text(model, text)
			if err != nil {
				t.Fatal(err)
			}
			if got != int64(want) {
				t.Fatalf("%s round %d: pieces sum to %d tokens, whole text has %d", enc, round, got, want)
			}
		}
	}
}

// TestMessagesAsPrompt: the messages of an in-process request count as the
// same messages sent as JSON, whether their texts' counts are given or not.
func TestMessagesAsPrompt(t *testing.T) {
	t.Parallel()
	c := NewCounter()
	texts := []string{"You are a helpful assistant.", strings.Repeat("please summarize the report ", 200), "ok"}
	roles := []string{"system", "user", "assistant"}
	var wire []chat.Message
	var given, counted []chat.Msg
	for i, s := range texts {
		raw, _ := json.Marshal(s)
		wire = append(wire, chat.Message{Role: roles[i], Content: raw, Name: []string{"", "", "bot"}[i]})
		n, _ := c.Text("gpt-4o", s)
		given = append(given, chat.Msg{Role: roles[i], Name: wire[i].Name, Text: s, Tokens: n})
		counted = append(counted, chat.Msg{Role: roles[i], Name: wire[i].Name, Text: s, Tokens: -1})
	}
	want, _ := c.Prompt("gpt-4o", wire)
	for name, msgs := range map[string][]chat.Msg{"given": given, "counted": counted} {
		if got, err := c.Messages("gpt-4o", msgs); err != nil || got != want {
			t.Errorf("Messages with counts %s = %d, %v; Prompt = %d", name, got, err, want)
		}
	}
}
