package gateway

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aiload/aiload/gateway/chat"
	"github.com/aiload/aiload/gateway/semcache"
	"github.com/aiload/aiload/record"
)

// The semantic cache in the pipeline (see docs/semantic-cache.md): a
// request's prompt is embedded by the embeddings backend, the store is
// searched for the nearest answer of the request's partition, and a score
// within the threshold answers from the cache; otherwise the backend's 200
// is stored when it is relayed. A lookup that fails (embeddings backend
// down, store error) lets the request through uncached, as API Management
// does.

// embeddingsAPIVersion is the api-version of the embeddings calls.
const embeddingsAPIVersion = "2024-10-21"

// cacheMiss is what a missed lookup keeps for the store.
type cacheMiss struct {
	c         *semanticCache
	partition string
	vector    []float32
}

// compileCaches compiles every scope's semantic cache (validated already).
func (g *Gateway) compileCaches() {
	names := map[string]bool{}
	for _, m := range g.pool.members {
		names[m.cfg.Name] = true
	}
	add := func(key string, sc *SemanticCache) {
		if sc == nil {
			return
		}
		if c, err := compileCache(sc, names); err == nil {
			g.caches[key] = c
		}
	}
	for _, p := range g.cfg.Products {
		add("product/"+p.Name, p.SemanticCache)
	}
	for _, a := range g.cfg.APIs {
		add("api/"+a.Name, a.SemanticCache)
		for _, o := range a.Operations {
			add("op/"+a.Name+"/"+o.Name, o.SemanticCache)
		}
	}
}

// cacheFor is the semantic cache of x's most specific scope (nil: none).
func (g *Gateway) cacheFor(x *exchange) *semanticCache {
	if len(g.caches) == 0 {
		return nil
	}
	if c := g.caches["op/"+x.rec.API+"/"+x.op()]; c != nil {
		return c
	}
	if c := g.caches["api/"+x.rec.API]; c != nil {
		return c
	}
	if x.sub != nil {
		return g.caches["product/"+x.sub.Product]
	}
	return nil
}

// cacheText is the text of x's prompt that is embedded, and whether x may
// use the cache at all: chat completions (streamed or not) and Responses
// requests (not streamed), with at most max-message-count messages once
// system messages are left out (when ignore-system-messages says so).
func cacheText(x *exchange, c *semanticCache) (string, bool) {
	if x.op() != chat.OpChat && (x.op() != chat.OpResponses || x.stream) {
		return "", false
	}
	var b strings.Builder
	n := 0
	add := func(role, text string) {
		if c.ignoreSys && (role == "system" || role == "developer") {
			return
		}
		n++
		b.WriteString(role)
		b.WriteString(": ")
		b.WriteString(text)
		b.WriteString("\n")
	}
	if x.call != nil {
		for _, m := range x.call.Body.Messages {
			add(m.Role, m.Text)
		}
	} else {
		for _, m := range x.req.Messages {
			add(m.Role, m.Text())
		}
	}
	if n == 0 || c.maxMessages > 0 && n > c.maxMessages {
		return "", false
	}
	return b.String(), true
}

// partition is x's cache partition: operation, model and the vary-by values.
func (g *Gateway) partition(x *exchange, c *semanticCache) string {
	parts := []string{x.op(), x.rec.Model}
	if len(c.varyBy) > 0 {
		f := g.facts(x)
		for _, k := range c.varyBy {
			parts = append(parts, k.Resolve(f))
		}
	}
	return strings.Join(parts, "\x00")
}

// lookup runs llm-semantic-cache-lookup for x and reports whether x was
// answered from the cache. a is the admission when the lookup sits after
// the token limits (nil before them).
func (g *Gateway) lookup(x *exchange, c *semanticCache, a *admission) bool {
	text, ok := cacheText(x, c)
	if !ok {
		return false
	}
	vec, used, err := g.embed(x, c, text)
	x.rec.EmbeddingModel, x.rec.EmbeddingTokens = c.deployment, used
	if err != nil {
		g.opts.Logf("request %s: semantic cache lookup skipped: embeddings backend %s: %v", x.rec.RequestID, c.backend, err)
		return false
	}
	part := g.partition(x, c)
	hit, found, err := g.cacheStore.Lookup(x.ctx(), part, vec, g.opts.Clock.Now())
	if err != nil {
		g.opts.Logf("request %s: semantic cache lookup skipped: %v", x.rec.RequestID, err)
		return false
	}
	if found && hit.Score <= c.threshold && (!x.stream || replayable(hit.Entry)) {
		g.metrics.cacheLookup(true)
		g.answerCached(x, a, hit.Entry)
		return true
	}
	g.metrics.cacheLookup(false)
	x.cacheMiss = &cacheMiss{c: c, partition: part, vector: vec}
	return false
}

// answerCached answers x with a cached answer. After the token limits the
// cached answer's tokens are charged as a backend's would be.
func (g *Gateway) answerCached(x *exchange, a *admission, e semcache.Entry) {
	x.rec.Status, x.rec.Outcome = http.StatusOK, record.OutcomeCacheHit
	x.rec.CachePromptTokens, x.rec.CacheCompletionTokens = e.PromptTokens, e.CompletionTokens
	h := x.respHeader()
	if a != nil && len(a.checks) > 0 {
		used := e.PromptTokens + e.CompletionTokens
		g.settle(x, a, used)
		a.setHeaders(h, true, used)
	}
	if x.stream {
		g.answerCachedStream(x, e)
		return
	}
	h.Set("Content-Type", "application/json")
	g.outbound(x, h)
	g.finish(x)
	if x.w != nil {
		body := e.Body
		if body == nil {
			body = cachedCompletion(x.rec.Model, e)
		}
		x.w.WriteHeader(http.StatusOK)
		_, _ = x.w.Write(body)
		return
	}
	text, textTokens := e.Text, e.TextTokens
	if e.Body != nil && text == "" {
		text, textTokens = answerText(x, e.Body), -1
	}
	x.answer.Status, x.answer.Text, x.answer.TextTokens = http.StatusOK, text, textTokens
	x.answer.Usage = &chat.Usage{PromptTokens: e.PromptTokens, CompletionTokens: e.CompletionTokens, TotalTokens: e.PromptTokens + e.CompletionTokens}
}

// cachedCompletion is a chat completion body for an entry kept as text
// (from an in-process answer or a stream).
func cachedCompletion(model string, e semcache.Entry) []byte {
	content, _ := json.Marshal(e.Text)
	b, _ := json.Marshal(chat.Response{ID: "chatcmpl-cache", Object: "chat.completion", Model: model,
		Choices: []chat.Choice{{Message: chat.Message{Role: "assistant", Content: content}, FinishReason: cmp.Or(e.FinishReason, "stop")}},
		Usage:   &chat.Usage{PromptTokens: e.PromptTokens, CompletionTokens: e.CompletionTokens, TotalTokens: e.PromptTokens + e.CompletionTokens}})
	return b
}

// answerText is the completion text of a stored HTTP body.
func answerText(x *exchange, body []byte) string {
	if x.op() == chat.OpResponses {
		return chat.ResponsesOutputText(body)
	}
	var r struct {
		Choices []struct {
			Message chat.Message `json:"message"`
		} `json:"choices"`
	}
	_ = json.Unmarshal(body, &r)
	var b strings.Builder
	for _, c := range r.Choices {
		b.WriteString(c.Message.Text())
	}
	return b.String()
}

// storeAnswer runs llm-semantic-cache-store for a relayed 200 of a missed
// lookup: the answer (body over HTTP, text in process) is kept for the
// cache's duration with the usage the record charged.
func (g *Gateway) storeAnswer(x *exchange, body []byte, ans *chat.Answer) {
	m := x.cacheMiss
	if m == nil || x.rec.Status != http.StatusOK {
		return
	}
	now := g.opts.Clock.Now()
	e := semcache.Entry{Vector: m.vector, PromptTokens: x.rec.PromptTokens, CompletionTokens: x.rec.CompletionTokens,
		Expires: now.Add(m.c.duration), TextTokens: -1}
	if ans != nil {
		e.Text, e.TextTokens = ans.Text, ans.TextTokens
	} else {
		e.Body = bytes.Clone(body)
	}
	if err := g.cacheStore.Put(context.WithoutCancel(x.ctx()), m.partition, e, now); err != nil {
		g.opts.Logf("request %s: semantic cache store: %v", x.rec.RequestID, err)
	}
}

// storeStreamed runs llm-semantic-cache-store for a complete, charged
// stream of a missed lookup: its assembled text is kept, with the usage the
// record charged and its finish reason. A stream without text (tool calls
// only) is not kept.
func (g *Gateway) storeStreamed(x *exchange, text string, textTokens int64, finish string) {
	m := x.cacheMiss
	if m == nil || text == "" {
		return
	}
	now := g.opts.Clock.Now()
	e := semcache.Entry{Vector: m.vector, Text: text, TextTokens: textTokens, FinishReason: finish,
		PromptTokens: x.rec.PromptTokens, CompletionTokens: x.rec.CompletionTokens, Expires: now.Add(m.c.duration)}
	if err := g.cacheStore.Put(context.WithoutCancel(x.ctx()), m.partition, e, now); err != nil {
		g.opts.Logf("request %s: semantic cache store: %v", x.rec.RequestID, err)
	}
}

// cachedBody is what replaying an entry as a stream needs from a stored
// chat completion body: its first choice's text and finish reason, and
// whether it called tools (such an answer is not replayed as a stream).
type cachedBody struct {
	Choices []struct {
		Message struct {
			Content   *string         `json:"content"`
			ToolCalls json.RawMessage `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
}

// streamText is the text and finish reason a stream replaying e carries,
// and false when e cannot be replayed as a stream of text.
func streamText(e semcache.Entry) (string, string, bool) {
	if e.Body == nil {
		return e.Text, cmp.Or(e.FinishReason, "stop"), true
	}
	var b cachedBody
	if json.Unmarshal(e.Body, &b) != nil || len(b.Choices) != 1 {
		return "", "", false
	}
	c := b.Choices[0]
	if (len(c.Message.ToolCalls) > 0 && string(c.Message.ToolCalls) != "null") || c.Message.Content == nil {
		return "", "", false
	}
	return *c.Message.Content, cmp.Or(c.FinishReason, "stop"), true
}

// replayable reports whether e can answer a streamed request.
func replayable(e semcache.Entry) bool {
	_, _, ok := streamText(e)
	return ok
}

// answerCachedStream answers a streamed request from the cache: over HTTP
// an event stream of chat.completion.chunk events (the assistant role, the
// text, the finish reason, the usage chunk when stream_options.include_usage
// asked for it, then [DONE]); in process a stream answer whose first chunk
// and content arrive now.
func (g *Gateway) answerCachedStream(x *exchange, e semcache.Entry) {
	text, finish, _ := streamText(e)
	usage := &chat.Usage{PromptTokens: e.PromptTokens, CompletionTokens: e.CompletionTokens, TotalTokens: e.PromptTokens + e.CompletionTokens}
	x.rec.TTFTMS = ms(g.since(x.wall))
	if x.w == nil {
		g.finish(x)
		at := g.since(x.wall)
		x.answer.Status, x.answer.Text, x.answer.TextTokens = http.StatusOK, text, e.TextTokens
		x.answer.Stream, x.answer.FirstChunk, x.answer.FirstContent = true, at, at
		if x.wantsUse {
			x.answer.Usage = usage
		}
		return
	}
	body := cachedStream(x.rec.Model, g.opts.Clock.Now().Unix(), text, finish, usage, x.wantsUse)
	h := x.respHeader()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	x.answerBytes = int64(len(body))
	g.finish(x)
	x.w.WriteHeader(http.StatusOK)
	_, _ = x.w.Write(body)
	if f, ok := x.w.(http.Flusher); ok {
		f.Flush()
	}
}

// cachedStream is the event stream replaying a cached chat completion.
func cachedStream(model string, created int64, text, finish string, usage *chat.Usage, withUsage bool) []byte {
	var b bytes.Buffer
	event := func(choices []map[string]any, u *chat.Usage) {
		m := map[string]any{"id": "chatcmpl-cache", "object": "chat.completion.chunk", "created": created, "model": model,
			"system_fingerprint": nil, "choices": choices}
		if withUsage {
			m["usage"] = u // null on every chunk but the last, as OpenAI sends it
		}
		j, _ := json.Marshal(m)
		b.WriteString("data: ")
		b.Write(j)
		b.WriteString("\n\n")
	}
	choice := func(delta map[string]any, finish any) []map[string]any {
		return []map[string]any{{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}}
	}
	event(choice(map[string]any{"role": "assistant", "content": ""}, nil), nil)
	if text != "" {
		event(choice(map[string]any{"content": text}, nil), nil)
	}
	event(choice(map[string]any{}, finish), nil)
	if withUsage {
		event([]map[string]any{}, usage)
	}
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
}

// embed has the cache's embeddings backend embed text, in process when the
// backend is a built-in mock of a simulation, else over HTTP with the
// backend's credential. It returns the vector and the call's tokens.
func (g *Gateway) embed(x *exchange, c *semanticCache, text string) ([]float32, int64, error) {
	m := g.pool.byName(c.backend)
	if m == nil {
		return nil, 0, fmt.Errorf("no backend %q", c.backend)
	}
	if x.call != nil {
		e, ok := m.inProcess.(chat.Embedder)
		if !ok {
			return nil, 0, fmt.Errorf("dial %s: no in-process backend", strings.TrimPrefix(m.url, "http://"))
		}
		ans := e.Embed(x.ctx(), &chat.EmbedCall{Deployment: c.deployment, Model: c.deployment, Input: []string{text}, Header: x.passedOn()})
		switch {
		case ans.Err != nil:
			return nil, 0, ans.Err
		case ans.Status != http.StatusOK || len(ans.Vectors) != 1:
			return nil, 0, fmt.Errorf("status %d", ans.Status)
		}
		return ans.Vectors[0], ans.PromptTokens, nil
	}
	return g.embedHTTP(x.ctx(), m, c.deployment, text, x.passedOn())
}

// embedHTTP posts text to m's embeddings route for deployment.
// The caller's X-Aiload-* headers (pass) go along, as on its backend
// attempts.
func (g *Gateway) embedHTTP(ctx context.Context, m *member, deployment, text string, pass chat.Header) ([]float32, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	body, _ := json.Marshal(map[string]string{"model": deployment, "input": text})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		m.url+"/openai/deployments/"+deployment+"/embeddings?api-version="+embeddingsAPIVersion, bytes.NewReader(body))
	if err != nil {
		return nil, 0, fmt.Errorf("build embeddings request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	for _, f := range pass {
		req.Header.Set(f.Name, f.Value)
	}
	if err := m.cred.apply(ctx, req.Header); err != nil {
		return nil, 0, err
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, 0, fmt.Errorf("read embeddings answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	var r chat.EmbeddingsResponse
	if err := json.Unmarshal(raw, &r); err != nil || len(r.Data) != 1 {
		return nil, 0, fmt.Errorf("embeddings answer: not one embedding (%v)", err)
	}
	var used int64
	if r.Usage != nil {
		used = r.Usage.PromptTokens
	}
	return r.Data[0].Vector, used, nil
}
