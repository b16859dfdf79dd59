package gateway

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/aiload/aiload/gateway/chat"
)

var _ chat.Caller = (*Gateway)(nil)

// Call serves c in process, as ServeHTTP serves the same request: the same
// pipeline (subscription key, validate-jwt, token limits with their counter
// keys, estimates, reservations and settlement, quotas, the backend pool
// and its circuit breakers) takes the same decisions and writes the same
// record, without the wire format. Backends are reached in process
// (Options.InProcess); a backend without one fails as an unreachable one
// does. A simulation's load generator sends its requests here.
//
// What differs from HTTP: there is no query string (the subscription key
// comes in a header), no request-size limit, no backend timeout (a
// simulated backend answers or the simulation stops), and a stream's
// answer arrives whole, with the times of its first chunks.
func (g *Gateway) Call(ctx context.Context, c *chat.Call) *chat.Answer {
	x := &exchange{call: c, callCtx: ctx, answer: &chat.Answer{TextTokens: -1}}
	g.open(x, c.Deployment, cmp.Or(c.RemoteAddr, "127.0.0.1"))
	x.rec.Operation = cmp.Or(c.Operation, chat.OpChat)
	g.serve(x)
	return x.answer
}

// Tokens is the token count of text under model's encoding, as the
// gateway's estimates count it (see chat.Msg.Tokens); -1 if the tokenizer
// fails.
func (g *Gateway) Tokens(model, text string) int64 {
	n, err := g.counter.Text(model, text)
	if err != nil {
		return -1
	}
	return n
}

// attemptCall is attempt for an in-process request: the backend's
// in-process Caller gets the request as attempt would send it (max_tokens
// set when strict mode reserved a default cap, usage asked for on
// streams, the load generator's headers, never the caller's credentials).
func (g *Gateway) attemptCall(x *exchange, m *member) (*leg, error) {
	if m.inProcess == nil {
		return nil, fmt.Errorf("dial %s: no in-process backend", strings.TrimPrefix(m.url, "http://"))
	}
	if x.op() == chat.OpEmbeddings {
		return g.attemptEmbed(x, m)
	}
	c := &chat.Call{Deployment: x.deployment, Body: x.call.Body, Operation: x.call.Operation}
	if x.capMaxTokens > 0 {
		c.Body.MaxTokens = x.capMaxTokens
	}
	c.Body.IncludeUsage = c.Body.IncludeUsage || x.stream
	c.Header = x.passedOn()
	bstart := g.opts.Timing.Now()
	ans := m.inProcess.Call(x.ctx(), c)
	if ans.Err != nil {
		return nil, ans.Err
	}
	return &leg{status: ans.Status, header: ans.Header, from: m, bstart: bstart, answer: ans}, nil
}

// relayCallStream is relayStream for an in-process answer: it arrives
// whole, so the time to first token is when its first chunk was sent.
func (g *Gateway) relayCallStream(x *exchange, a *admission, l *leg) {
	h := x.respHeader()
	if len(a.checks) > 0 {
		a.setHeaders(h, false, 0)
	}
	copyBackendHeaders(h, l.header)
	x.rec.UtilizationPct = utilizationOf(l.header)
	h.Set("Cache-Control", "no-cache")
	ans := l.answer
	sent := l.bstart.Sub(x.wall) // the backend's times count from here
	if x.rec.TTFTMS = ms(sent + ans.FirstChunk); x.rec.TTFTMS == 0 {
		x.rec.TTFTMS = ms(sent + ans.FirstContent) // as relayStream: the first chunk that is not at 0
	}
	var usage *chat.Usage
	if ans.Usage != nil && ans.Usage.Plausible() {
		usage = ans.Usage
	}
	x.rec.BackendLatencyMS = ms(g.since(l.bstart))
	g.streamDone(x, a, usage, func() int64 { return g.answerTokens(x, ans) }, nil,
		func() { g.storeStreamed(x, ans.Text, ans.TextTokens, "") })
	g.deliver(x, ans)
	x.answer.Stream = true
	x.answer.FirstChunk, x.answer.FirstContent = sent+ans.FirstChunk, sent+ans.FirstContent
	x.answer.ContentGaps = ans.ContentGaps
	if !x.wantsUse {
		x.answer.Usage = nil // the usage chunk the gateway asked for is not passed on
	}
}

// answerTokens is the completion tokens of an in-process answer's text.
func (g *Gateway) answerTokens(x *exchange, ans *chat.Answer) int64 {
	if ans.TextTokens >= 0 {
		return ans.TextTokens
	}
	return g.countCompletion(x, ans.Text)
}

// deliver passes a backend's in-process answer on to the caller.
func (g *Gateway) deliver(x *exchange, ans *chat.Answer) {
	out := x.answer
	out.Status = ans.Status
	if ans.Status == http.StatusOK {
		out.Usage, out.Text, out.TextTokens = ans.Usage, ans.Text, ans.TextTokens
	}
	out.Error = ans.Error
}

// attemptEmbed is attemptCall for an embeddings request: the backend's
// in-process Embedder embeds the messages' texts, and its answer comes
// back as an answer with the usage and no text.
func (g *Gateway) attemptEmbed(x *exchange, m *member) (*leg, error) {
	e, ok := m.inProcess.(chat.Embedder)
	if !ok {
		return nil, fmt.Errorf("dial %s: no in-process embeddings backend", strings.TrimPrefix(m.url, "http://"))
	}
	c := &chat.EmbedCall{Deployment: x.deployment, Model: x.call.Body.Model}
	for _, msg := range x.call.Body.Messages {
		c.Input = append(c.Input, msg.Text)
	}
	c.Header = x.passedOn()
	bstart := g.opts.Timing.Now()
	ea := e.Embed(x.ctx(), c)
	if ea.Err != nil {
		return nil, ea.Err
	}
	ans := &chat.Answer{Status: ea.Status, Header: ea.Header, Error: ea.Error, TextTokens: 0}
	if ea.Status == http.StatusOK {
		ans.Usage = &chat.Usage{PromptTokens: ea.PromptTokens, TotalTokens: ea.PromptTokens}
	}
	return &leg{status: ans.Status, header: ans.Header, from: m, bstart: bstart, answer: ans}, nil
}
