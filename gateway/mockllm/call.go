package mockllm

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/aiload/aiload/gateway/chat"
)

// errReset is a reset connection, as an in-process caller sees it.
var errReset = errors.New("connection reset by peer")

// errGone is an answer that never came: the caller gave up, or the
// simulation stopped, while the mock waited.
var errGone = errors.New("in-process backend ended without an answer (the simulation was stopped)")

var _ chat.Caller = (*Server)(nil)

// Call answers c in process as the HTTP handler answers the same request:
// the same validation, prompt count, PTU ceiling, faults, completion draw,
// latency (slept with Config.Sleep) and tally. Instead of a body the answer
// carries the usage and the completion's text (cut from one long text, not
// generated) with its token count; a stream's answer arrives whole, with
// the times its first chunks were sent.
func (s *Server) Call(ctx context.Context, c *chat.Call) *chat.Answer {
	b := &c.Body
	model := b.Model
	if c.Deployment != "" && model == "" {
		model = c.Deployment
	}
	start := s.cfg.Clock.Now()
	invalid := b.Validate()
	if invalid == nil {
		invalid = b.CheckRoles()
	}
	prompt := func() (int64, error) { return s.counter.Messages(model, b.Messages) }
	if c.Operation == chat.OpCompletions {
		prompt = func() (int64, error) { return s.counter.Text(model, b.PromptText()) }
	}
	v := s.decide(ctx, request{model: model, maxOut: b.MaxTokens, given: b.MaxTokens != 0, invalid: invalid, prompt: prompt})
	if v.kind != serve {
		a := s.refusal(v)
		if a.Err == nil {
			s.setUtilization(&a.Header)
		}
		return a
	}
	a := &chat.Answer{Status: http.StatusOK, Text: s.reply(v.completion), TextTokens: s.replyTokens(model, v.completion)}
	usage := &chat.Usage{PromptTokens: v.prompt, CompletionTokens: v.completion, TotalTokens: v.prompt + v.completion}
	if !b.Stream {
		if s.waitAnswer(ctx, v) != nil {
			return &chat.Answer{Err: errGone}
		}
		a.Header, a.Usage = chat.Header{{Name: "Content-Type", Value: "application/json"}}, usage
		s.done(c.Header.Get(PersonaHeader), v)
		s.setUtilization(&a.Header)
		return a
	}
	// the chunks' pacing of stream, slept in two parts: to the role chunk,
	// then to the end; its headers leave before the first
	var atHeaders chat.Header
	s.setUtilization(&atHeaders)
	if v.plan != nil {
		if !s.callPlanned(ctx, a, start, v.plan) {
			return &chat.Answer{Err: errGone}
		}
		return s.streamed(c, a, atHeaders, usage, v)
	}
	if s.sleep(ctx, s.cfg.FirstTokenDelay) != nil {
		return &chat.Answer{Err: errGone}
	}
	a.Stream, a.FirstChunk = true, s.cfg.Clock.Now().Sub(start)
	var gen time.Duration
	for sent := int64(0); sent < v.completion; sent += chunkTokens {
		d := s.chunkDelay(min(chunkTokens, v.completion-sent))
		if sent == 0 {
			a.FirstContent = a.FirstChunk + d
		} else {
			a.ContentGaps = append(a.ContentGaps, d)
		}
		gen += d
	}
	if s.sleep(ctx, gen) != nil {
		return &chat.Answer{Err: errGone}
	}
	return s.streamed(c, a, atHeaders, usage, v)
}

// streamed finishes an in-process stream's answer: its headers, its usage
// when asked for, and the tally.
func (s *Server) streamed(c *chat.Call, a *chat.Answer, atHeaders chat.Header, usage *chat.Usage, v verdict) *chat.Answer {
	a.Header = append(chat.Header{{Name: "Content-Type", Value: "text/event-stream"}, {Name: "Cache-Control", Value: "no-cache"}}, atHeaders...)
	if c.Body.IncludeUsage && !s.cfg.OmitStreamUsage {
		a.Usage = usage
	}
	s.done(c.Header.Get(PersonaHeader), v)
	return a
}

// refusal is the in-process answer to a request the mock does not serve,
// as writeVerdict writes it.
func (s *Server) refusal(v verdict) *chat.Answer {
	switch v.kind {
	case invalid:
		return chat.FailRequest(v.err)
	case tokenizerFailed:
		return chat.Fail(http.StatusInternalServerError, "server_error", "tokenizer", v.err.Error())
	case throttled:
		a := chat.Fail(http.StatusTooManyRequests, "rate_limit_error", "429", s.throttleMessage(v.retryMS))
		a.Header.Set("retry-after-ms", strconv.FormatInt(v.retryMS, 10))
		a.Header.Set("Retry-After", strconv.FormatInt((v.retryMS+999)/1000, 10))
		return a
	case failed:
		a := chat.Fail(http.StatusInternalServerError, "server_error", "500", failMessage)
		a.Header.Set("Content-Type", "text/plain; charset=utf-8")
		return a
	case reset:
		return &chat.Answer{Err: errReset}
	}
	return &chat.Answer{Err: errGone}
}

// replyWords are the words of Text, in order.
var replyWords = chat.Filler{"the", "model", "answers", "with", "synthetic", "tokens", "for", "load"}

// reply returns Text(n), cut from the longest reply text made so far.
func (s *Server) reply(n int64) string {
	size := replyWords.Len(n)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.text) < size {
		s.text = Text(max(n, 2*s.textWords))
		s.textWords = max(n, 2*s.textWords)
	}
	return s.text[:size]
}

// replyKey names the token count of Text(n) under a model's encoding.
type replyKey struct {
	model string
	n     int64
}

// replyTokens returns the token count of Text(n) under model's encoding
// (-1 if the tokenizer fails), counted once per length.
func (s *Server) replyTokens(model string, n int64) int64 {
	k := replyKey{model, n}
	s.mu.Lock()
	got, ok := s.replyCounts[k]
	s.mu.Unlock()
	if ok {
		return got
	}
	got, err := s.counter.Text(model, s.reply(n))
	if err != nil {
		return -1
	}
	s.mu.Lock()
	s.replyCounts[k] = got
	s.mu.Unlock()
	return got
}
