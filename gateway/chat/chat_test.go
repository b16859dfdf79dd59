package chat

import (
	"encoding/json"
	"testing"
)

// TestText: a message's text is what decoding its content gives, whether
// the content is a plain string, a string with escapes, parts, or invalid.
func TestText(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		raw, want string
	}{
		{`"plain words"`, "plain words"},                                    // no escapes: bytes as they are
		{`"caf\u00e9 \"q\" a\\b\n"`, "café \"q\" a\\b\n"},                   // escapes decoded
		{`"東京"`, "東京"},                                                      // raw UTF-8
		{"\"bad \xff byte\"", "bad \ufffd byte"},                            // invalid UTF-8 replaced, as decoding does
		{`[{"type":"text","text":"a"},{"type":"text","text":"b"}]`, "a\nb"}, // parts joined
		{`""`, ""}, // empty string
		{`42`, ""}, // neither
	} {
		m := Message{Role: "user", Content: json.RawMessage(c.raw)}
		if got := m.Text(); got != c.want {
			t.Errorf("Text(%s) = %q, want %q", c.raw, got, c.want)
		}
	}
}
