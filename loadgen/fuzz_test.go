package loadgen

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// FuzzReadStream: the caller-side SSE reader takes any stream a server
// sends without panicking, and never ends with negative token counts or a
// TTFT before the request was sent.
func FuzzReadStream(f *testing.F) {
	for _, s := range []string{
		"data: {\"choices\":[{\"delta\":{\"content\":\"hello there\"}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\ndata: [DONE]\n\n",
		"data:[DONE]", "data: {\n", ": keep-alive\n\n", "event: error\ndata: {\"error\":{}}\n\n", "",
		"data: " + strings.Repeat("x", 70000) + "\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		a := &attempt{sent: time.Now()}
		var r reply
		if err := readStream(bytes.NewReader(stream), a, &r); err != nil {
			return // e.g. a line over the 4 MiB limit: reported, not a crash
		}
		if a.ttft < 0 || a.usage.CompletionTokens < 0 && !bytes.Contains(stream, []byte("-")) {
			t.Fatalf("stream %q: ttft %v usage %+v", stream, a.ttft, a.usage)
		}
	})
}
