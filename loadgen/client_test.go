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
		body, err := chatRequest(c, msgs, 250)
		if err != nil {
			t.Fatalf("stream %v: %v", stream, err)
		}
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
