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
	cs, ok := s.openChatStream(w, model, includeUsage)
	if !ok {
		return false
	}
	send, chunk := cs.send, cs.chunk
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
	cs.finish(chat.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion})
	return true
}

// chatStream is an open server-sent-events answer made of
// chat.completion.chunk objects.
type chatStream struct {
	w            http.ResponseWriter
	fl           http.Flusher
	id, model    string
	created      int64
	includeUsage bool
}

// openChatStream writes the headers of a streamed chat answer. Without a
// flushable writer it answers 500 and reports false.
func (s *Server) openChatStream(w http.ResponseWriter, model string, includeUsage bool) (*chatStream, bool) {
	fl, ok := w.(http.Flusher)
	if !ok {
		chat.WriteError(w, http.StatusInternalServerError, "server_error", "no_flush", "streaming unsupported")
		return nil, false
	}
	cs := &chatStream{w: w, fl: fl, id: fmt.Sprintf("chatcmpl-mock-%d", s.seq.Add(1)), model: model,
		created: s.cfg.Clock.Now().Unix(), includeUsage: includeUsage}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	return cs, true
}

// send writes one event and flushes it.
func (c *chatStream) send(v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintf(c.w, "data: %s\n\n", b)
	c.fl.Flush()
}

// chunk is a chunk of the stream's one choice; with usage asked for, its
// usage is null as OpenAI sends it on every chunk but the last.
func (c *chatStream) chunk(delta map[string]any, finish any) map[string]any {
	m := map[string]any{"id": c.id, "object": "chat.completion.chunk", "created": c.created, "model": c.model,
		"choices": []map[string]any{{"index": 0, "delta": delta, "finish_reason": finish}}}
	if c.includeUsage {
		m["usage"] = nil
	}
	return m
}

// finish sends the stop chunk, the usage chunk when asked for, and [DONE].
func (c *chatStream) finish(u chat.Usage) {
	c.send(c.chunk(map[string]any{}, "stop"))
	if c.includeUsage {
		c.send(map[string]any{"id": c.id, "object": "chat.completion.chunk", "created": c.created, "model": c.model,
			"choices": []any{}, "usage": u})
	}
	fmt.Fprint(c.w, "data: [DONE]\n\n")
	c.fl.Flush()
}
