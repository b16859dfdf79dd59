package mockllm

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/aiload/aiload/gateway/chat"
)

// chunkTokens is how many completion tokens one streamed chunk carries.
const chunkTokens = 8

// z95 is the standard normal quantile at 0.95.
const z95 = 1.6448536269514722

// chunkDelay is the time to generate a chunk of n tokens: n ×
// PerTokenDelay, or with PerTokenDelayP95 set n × a lognormal draw of
// median PerTokenDelay and p95 PerTokenDelayP95 (one draw per chunk).
func (s *Server) chunkDelay(n int64) time.Duration {
	d := s.cfg.PerTokenDelay
	if p95 := s.cfg.PerTokenDelayP95; p95 > d && d > 0 {
		sigma := math.Log(float64(p95)/float64(d)) / z95
		s.mu.Lock()
		z := s.rng.NormFloat64()
		s.mu.Unlock()
		d = time.Duration(float64(d) * math.Exp(sigma*z))
	}
	return time.Duration(n) * d
}

// generation is the time to generate a completion of n tokens, chunk by
// chunk as stream sends it.
func (s *Server) generation(n int64) time.Duration {
	if s.cfg.PerTokenDelayP95 <= s.cfg.PerTokenDelay {
		return time.Duration(n) * s.cfg.PerTokenDelay
	}
	var total time.Duration
	for sent := int64(0); sent < n; sent += chunkTokens {
		total += s.chunkDelay(min(chunkTokens, n-sent))
	}
	return total
}

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
		if s.sleep(r.Context(), s.chunkDelay(n)) != nil {
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
