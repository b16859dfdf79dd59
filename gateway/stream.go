package gateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/aiload/aiload/gateway/chat"
	"github.com/aiload/aiload/record"
)

// streamChunk is the part of a streamed event the gateway reads: a
// chat.completion.chunk (choices[].delta.content), a legacy completions
// chunk (choices[].text) or a Responses API event (type, delta, and
// response.usage in response.completed).
type streamChunk struct {
	Choices []struct {
		Delta struct {
			Content   string          `json:"content"`
			ToolCalls json.RawMessage `json:"tool_calls"`
		} `json:"delta"`
		Text         string `json:"text"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *chat.Usage `json:"usage"`

	Type     string `json:"type"`
	Delta    string `json:"delta"`
	Response *struct {
		Usage *chat.ResponsesUsage `json:"usage"`
	} `json:"response"`
}

// streamed is what the gateway gathers from a relayed stream: its text,
// the finish reason, and whether it called tools.
type streamed struct {
	text      strings.Builder
	finish    string
	toolCalls bool
	// last: the event read is the stream's last ([DONE], or
	// response.completed); done: it was passed on to the caller, so what
	// the backend's body or the caller do after it cannot cut the answer
	// short
	last, done bool
}

// responsesEvent reads a Responses API event: whether it carries output
// (a *.delta event), its output text and the usage of response.completed.
func (c *streamChunk) responsesEvent(text *strings.Builder) (output bool, usage *chat.Usage) {
	if c.Type == "response.output_text.delta" {
		text.WriteString(c.Delta)
	}
	if c.Type == "response.completed" && c.Response != nil {
		usage = c.Response.Usage.Usage()
	}
	return strings.HasSuffix(c.Type, ".delta"), usage
}

// relayStream passes a server-sent-events answer through event by event,
// flushing each one, without holding the whole answer. Usage comes from the
// final usage chunk; when the backend sends none, prompt tokens are the
// gateway's estimate and completion tokens are counted from the streamed
// text, and the record is flagged estimated. The usage chunk the gateway
// asked for on the caller's behalf is not passed on.
func (g *Gateway) relayStream(x *exchange, a *admission, l *leg) {
	resp := l.resp
	h := x.w.Header()
	if len(a.checks) > 0 {
		a.setHeaders(h, false, 0)
	}
	copyBackendHeaders(h, resp.Header)
	g.outbound(x, h)
	x.rec.UtilizationPct = utilizationOf(resp.Header)
	h.Set("Cache-Control", "no-cache")
	x.w.WriteHeader(http.StatusOK)
	flusher, _ := x.w.(http.Flusher)
	var got streamed
	var usage *chat.Usage
	br := bufio.NewReaderSize(resp.Body, 32<<10)
	var event bytes.Buffer
	var readErr error
	for {
		line, err := br.ReadBytes('\n')
		event.Write(line)
		if len(bytes.TrimSpace(line)) == 0 || err != nil {
			if u, drop := g.streamEvent(x, event.Bytes(), &got, x.wantsUse); !drop && event.Len() > 0 {
				if _, werr := x.w.Write(event.Bytes()); werr != nil {
					readErr = werr
					break
				}
				x.answerBytes += int64(event.Len())
				got.done = got.last
				if flusher != nil {
					flusher.Flush()
				}
				if u != nil {
					usage = u
				}
			} else if u != nil {
				usage = u
			}
			event.Reset()
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
	}
	if got.done {
		// a caller that closes the connection once it has read the last
		// event (the OpenAI SDKs do) cancels the rest of the backend's
		// body: the answer was whole
		readErr = nil
	}
	x.rec.BackendLatencyMS = ms(g.since(l.bstart))
	text := got.text.String()
	g.streamDone(x, a, usage, func() int64 { return g.countCompletion(x, text) }, readErr, func() {
		if !got.toolCalls {
			g.storeStreamed(x, text, -1, got.finish)
		}
	})
}

// streamEvent inspects one SSE event: it records the time to first token,
// gathers the streamed text (and finish reason, and tool calls) and returns
// the usage it carries, and whether to drop it (a usage-only chunk the
// caller did not ask for).
func (g *Gateway) streamEvent(x *exchange, ev []byte, got *streamed, callerWantsUsage bool) (*chat.Usage, bool) {
	text := &got.text
	for _, line := range bytes.Split(ev, []byte("\n")) {
		data, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r"), []byte("data:"))
		data = bytes.TrimSpace(data)
		if ok && bytes.Equal(data, []byte("[DONE]")) {
			got.last = true
		}
		if !ok || len(data) == 0 || bytes.Equal(data, []byte("[DONE]")) {
			continue
		}
		var c streamChunk
		if json.Unmarshal(data, &c) != nil {
			continue
		}
		if x.op() == chat.OpResponses {
			output, u := c.responsesEvent(text)
			got.last = got.last || c.Type == "response.completed"
			if x.rec.TTFTMS == 0 && output {
				x.rec.TTFTMS = ms(g.since(x.wall))
			}
			if u != nil && u.Plausible() {
				return u, false
			}
			continue
		}
		if x.rec.TTFTMS == 0 && len(c.Choices) > 0 {
			x.rec.TTFTMS = ms(g.since(x.wall))
		}
		for _, ch := range c.Choices {
			text.WriteString(ch.Delta.Content)
			text.WriteString(ch.Text)
			if ch.FinishReason != "" {
				got.finish = ch.FinishReason
			}
			if len(ch.Delta.ToolCalls) > 0 && string(ch.Delta.ToolCalls) != "null" {
				got.toolCalls = true
			}
		}
		if c.Usage != nil && c.Usage.Plausible() {
			return c.Usage, len(c.Choices) == 0 && !callerWantsUsage
		}
	}
	return nil, false
}

// streamDone charges and records a finished stream: usage is its usage
// chunk (nil when none came), completion counts its text. store, run once
// a complete stream is charged and before it is recorded, keeps it in the
// semantic cache.
func (g *Gateway) streamDone(x *exchange, a *admission, usage *chat.Usage, completion func() int64, readErr error, store func()) {
	x.rec.Status, x.rec.Outcome = http.StatusOK, record.OutcomeOK
	g.charge(x, usage, completion)
	if readErr == nil {
		store()
	}
	if readErr != nil {
		x.rec.Outcome = record.OutcomeBackendError
		if x.ctx().Err() != nil {
			x.rec.Status, x.rec.Outcome = 499, record.OutcomeClientCancelled
		} else {
			g.opts.Logf("request %s: stream from backend %s cut short: %v", x.rec.RequestID, x.rec.Backend, readErr)
		}
	}
	g.settle(x, a, x.rec.TotalTokens)
	g.finish(x)
}
