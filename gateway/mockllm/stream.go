package mockllm

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/aiload/aiload/gateway/chat"
)

// chunkTokens is how many completion tokens one streamed chunk carries.
const chunkTokens = 8

// stream answers with server-sent events: a role chunk, content chunks of
// chunkTokens words each paced by the latency model, a finish chunk, the
// usage chunk when asked for, and [DONE]. It reports whether the stream
// was sent to the end.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, model string, prompt, completion int64, includeUsage bool) bool {
	fl, ok := w.(http.Flusher)
	if !ok {
		chat.WriteError(w, http.StatusInternalServerError, "server_error", "no_flush", "streaming unsupported")
		return false
	}
	id := fmt.Sprintf("chatcmpl-mock-%d", s.seq.Add(1))
	created := s.cfg.Clock.Now().Unix()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	send := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(w, "data: %s\n\n", b)
		fl.Flush()
	}
	chunk := func(delta map[string]any, finish any) map[string]any {
		c := map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
			"choices": []map[string]any{{"index": 0, "delta": delta, "finish_reason": finish}}}
		if includeUsage {
			c["usage"] = nil
		}
		return c
	}
	if s.sleep(r.Context(), s.cfg.FirstTokenDelay) != nil {
		return false
	}
	send(chunk(map[string]any{"role": "assistant", "content": ""}, nil))
	for sent := int64(0); sent < completion; sent += chunkTokens {
		n := min(chunkTokens, completion-sent)
		text := Text(n)
		if sent > 0 {
			text = " " + text
		}
		if s.sleep(r.Context(), time.Duration(n)*s.cfg.PerTokenDelay) != nil {
			return false
		}
		send(chunk(map[string]any{"content": text}, nil))
	}
	send(chunk(map[string]any{}, "stop"))
	if includeUsage {
		send(map[string]any{"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
			"choices": []any{}, "usage": chat.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}})
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	fl.Flush()
	return true
}
