package loadgen

import (
	"strings"
	"sync"

	"github.com/aiload/aiload/gateway/chat"
)

// InProcess is a gateway that takes requests in process: aiload's own
// (gateway.Gateway), in a simulation. See Options.Gateway.
type InProcess interface {
	chat.Caller
	// Tokens counts text under model's encoding as the gateway's own
	// estimates do (-1 if it cannot).
	Tokens(model, text string) int64
}

// texts makes the load generator's message texts: filler prompts cut from
// one long text instead of built per request, and, for an in-process
// gateway, their token counts, counted once per model and length by the
// gateway's tokenizer, so that the gateway and its mocks count a message's
// text once for the whole run rather than on every request that carries it.
type texts struct {
	gw InProcess // nil: counts are not needed

	mu     sync.Mutex
	filler string // PromptText(words)
	words  int64
	counts map[textKey]int64
	// logs are the earlier prompts of personas with repeat:.
	logs map[*Persona]*promptLog
}

// textKey names a text's count under a model: a filler of n words, or a
// literal text (n < 0).
type textKey struct {
	model string
	n     int64
	text  string
}

// prompt returns PromptText(n).
func (t *texts) prompt(n int64) string {
	size := promptWords.Len(n)
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.filler) < size {
		t.words = max(n, 2*t.words, 4096)
		t.filler = PromptText(t.words)
	}
	return t.filler[:size]
}

// count returns the token count of key's text (text, or the filler of n
// words) for an in-process gateway; -1 when there is none to count for.
func (t *texts) count(k textKey, text string) int64 {
	if t.gw == nil {
		return -1
	}
	t.mu.Lock()
	n, ok := t.counts[k]
	t.mu.Unlock()
	if ok {
		return n
	}
	n = t.gw.Tokens(k.model, text)
	t.mu.Lock()
	if t.counts == nil {
		t.counts = map[textKey]int64{}
	}
	t.counts[k] = n
	t.mu.Unlock()
	return n
}

// user returns a user message of n filler tokens for c's model.
func (t *texts) user(c *call, n int64) message {
	if c.p.Repeat != nil {
		return t.varied(c, n)
	}
	if c.p.Profile != "" {
		return t.prefixed(c, n)
	}
	s := t.prompt(n)
	return message{Role: "user", Content: s, tokens: n, counted: t.count(textKey{model: c.model, n: n}, s)}
}

// system returns the system message for c's model.
func (t *texts) system(c *call) message {
	return message{Role: "system", Content: systemPrompt, tokens: 6,
		counted: t.count(textKey{model: c.model, n: -1, text: systemPrompt}, systemPrompt)}
}

// doCall is do for an in-process gateway (Options.Gateway): the request
// goes as a chat.Call with the same headers, and its answer comes back
// whole; a stream's time to first token is when its first content was sent.
func (e *engine) doCall(c *call, msgs []message, maxTokens int64, a *attempt, n int) reply {
	r := reply{remaining: -1, limit: -1, counted: -1}
	if c.p.API == chat.OpResponses {
		maxTokens = max(maxTokens, responsesMinOutput) // as requestBody sends it
	}
	if c.p.API == chat.OpEmbeddings && len(msgs) > 0 {
		msgs, maxTokens = msgs[len(msgs)-1:], 0 // as requestBody sends it: the last message, no cap
	}
	req := &chat.Call{RemoteAddr: c.src, Body: chat.Body{Model: c.model, MaxTokens: maxTokens, Stream: c.p.Stream,
		IncludeUsage: c.p.Stream, User: c.userID, Messages: make([]chat.Msg, len(msgs))}, Operation: c.p.API}
	if e.opts.Target.API != APIOpenAI {
		req.Deployment = c.model
	}
	for i, m := range msgs {
		req.Body.Messages[i] = chat.Msg{Role: m.Role, Text: m.Content, Tokens: m.counted}
	}
	e.callerHeaders(&req.Header, c, n)
	a.sent = e.tb.now()
	e.collect(c, func(col *collector) { col.send(a, e.opts.LateThreshold) })
	ans := e.opts.Gateway.Call(e.inflight, req)
	a.latency = e.since(a.sent)
	if ans.Err != nil {
		return r
	}
	a.ttft, a.status = a.latency, ans.Status
	e.limitHeaders(ans.Header, &r)
	a.utilization = utilizationOf(ans.Header)
	switch {
	case ans.Status == 200 && ans.Stream:
		// as readStream: TTFT at the first content, usage from the usage
		// chunk, else the words received
		if ans.Text != "" {
			a.ttft, a.gaps = ans.FirstContent, ans.ContentGaps
		}
		if u := ans.Usage; u != nil {
			a.usage = usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens}
		}
		if a.usage.CompletionTokens == 0 {
			a.usage.CompletionTokens = int64(len(strings.Fields(ans.Text)))
		}
		a.streamed = true
		r.content, r.counted = ans.Text, ans.TextTokens
	case ans.Status == 200:
		if u := ans.Usage; u != nil {
			a.usage = usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens}
		}
		r.content, r.counted = ans.Text, ans.TextTokens
	case ans.Status == 429:
		r.retryAfter, a.retryAfter = retryAfter(ans.Header, e.opts.Target.RetryAfterHeader, e.tb.now())
		if !a.retryAfter && ans.Error != nil {
			r.retryAfter, a.retryAfter = retryAfterText(ans.Error.Message, r.retryAfter)
		}
	}
	return r
}
