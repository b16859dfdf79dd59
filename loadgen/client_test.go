package loadgen

import (
	"encoding/json"
	"testing"

	"github.com/aiload/aiload/gateway/chat"
)

// TestChatRequest: the body an attempt sends is a chat request the gateway
// accepts, with the persona's model, user, cap and streaming options, and
// texts that need escaping intact.
func TestChatRequest(t *testing.T) {
	t.Parallel()
	for _, stream := range []bool{false, true} {
		c := &call{p: &Persona{Stream: stream}, model: "gpt-4o", userID: "chat-3"}
		msgs := []message{{Role: "system", Content: `be "brief"`}, {Role: "user", Content: "line\nbreak <&>"}}
		body := chatRequest(c, msgs, 250)
		var req chat.Request
		if err := json.Unmarshal(body, &req); err != nil {
			t.Fatalf("stream %v: body %s: %v", stream, body, err)
		}
		if err := req.Validate(); err != nil {
			t.Errorf("stream %v: gateway would refuse %s: %v", stream, body, err)
		}
		n, _ := req.MaxOutput()
		if req.Model != "gpt-4o" || req.User != "chat-3" || n != 250 || len(req.Messages) != 2 ||
			req.Messages[0].Text() != `be "brief"` || req.Messages[1].Text() != "line\nbreak <&>" {
			t.Errorf("stream %v: decoded %+v from %s", stream, req, body)
		}
		if req.Stream != stream || (req.StreamOptions != nil && req.StreamOptions.IncludeUsage) != stream {
			t.Errorf("stream %v: stream %v, options %+v", stream, req.Stream, req.StreamOptions)
		}
	}
}

// TestChatRequestBytes: the body is byte for byte what json.Marshal gives
// for the chat.Request it stands for, escapes included.
func TestChatRequestBytes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		stream bool
		user   string
		texts  []string
	}{
		{"filler", false, "chat-0", []string{systemPrompt, PromptText(20)}},
		{"streamed", true, "chat-1", []string{systemPrompt, PromptText(3)}},
		{"no user", false, "", []string{"hello"}},
		{"no messages", false, "u", nil},
		{"quotes, newlines and html", false, `u"1`, []string{`be "brief"\`, "line\nbreak\r\t<&>"}},
		{"html characters alone", false, "u", []string{"a<b", "c>d", "e&f"}},
		{"control bytes", true, "u", []string{"a\x00b\x01c\bd\fe\x1f"}},
		{"non-ASCII", false, "usér", []string{"café ☕ 東京", "sep\u2028par\u2029", "bad \xff\xfe utf-8"}},
		{"empty text", false, "u", []string{""}},
	} {
		c := &call{p: &Persona{Stream: tc.stream}, model: "gpt-4o-mini", userID: tc.user}
		var msgs []message
		for i, s := range tc.texts {
			msgs = append(msgs, message{Role: []string{"system", "user", "assistant"}[i%3], Content: s})
		}
		got := chatRequest(c, msgs, 42)
		want := marshalChatRequest(t, c, msgs, 42)
		if string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, want)
		}
	}
}

// marshalChatRequest is the chat body as json.Marshal encodes the chat.Request.
func marshalChatRequest(t *testing.T, c *call, msgs []message, maxTokens int64) []byte {
	t.Helper()
	req := chat.Request{Model: c.model, Messages: make([]chat.Message, len(msgs)), MaxTokens: &maxTokens, User: c.userID}
	for i, m := range msgs {
		content, err := json.Marshal(m.Content)
		if err != nil {
			t.Fatal(err)
		}
		req.Messages[i] = chat.Message{Role: m.Role, Content: content}
	}
	if c.p.Stream {
		req.Stream, req.StreamOptions = true, &chat.StreamOptions{IncludeUsage: true}
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
