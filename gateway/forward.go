package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aiload/aiload/gateway/chat"
	"github.com/aiload/aiload/record"
)

// errAttemptTimeout marks an attempt whose response headers did not arrive
// within the backend's timeout.
var errAttemptTimeout = errors.New("backend did not answer within its timeout")

// leg is one backend attempt's answer, over HTTP or in process.
type leg struct {
	status int
	header interface{ Get(string) string }
	from   *member
	bstart time.Time      // on the timing clock: when the attempt was sent
	resp   *http.Response // over HTTP: the body is still to be read
	answer *chat.Answer   // in process
}

// close releases an HTTP answer's body.
func (l *leg) close() {
	if l != nil && l.resp != nil {
		l.resp.Body.Close()
	}
}

// forward sends the request to the pool and relays the answer. Without a
// retry policy that is one attempt: a backend's 429 or 5xx goes to the
// caller (and counts in its breaker). With one, an answer the policy names
// is tried again after its wait on the backend the pool picks then (by
// priority, weight and open breakers, as API Management's load balancer
// does: a backend whose breaker did not trip may be picked again). When the
// pool has no backend left (every breaker open) the answer is 503.
func (g *Gateway) forward(x *exchange, a *admission) {
	var body []byte
	if x.call == nil {
		var err error
		if body, err = g.upstreamBody(x); err != nil {
			g.settle(x, a, 0)
			g.reject(x, http.StatusBadRequest, record.OutcomeBadRequest, "invalid_request_error", "invalid_json", err.Error())
			return
		}
	}
	for retries := 0; ; retries++ {
		if d := g.retry.wait(retries); retries > 0 && d > 0 {
			if err := g.opts.Sleep(x.ctx(), d); err != nil {
				g.cancelled(x, a)
				return
			}
		}
		m, sawOpen := g.pool.pick(g.opts.Clock.Now(), x.rec.Model)
		if m == nil {
			g.unavailable(x, a, sawOpen)
			return
		}
		x.member = m
		x.rec.Backend, x.rec.BackendTier, x.rec.BackendAuth = m.cfg.Name, m.cfg.Tier, m.cred.method()
		sent := g.opts.Timing.Now()
		var l *leg
		var err error
		if x.call != nil {
			l, err = g.attemptCall(x, m)
		} else {
			l, err = g.attempt(x, m, body)
		}
		if err != nil {
			if x.ctx().Err() != nil {
				g.cancelled(x, a)
				return
			}
			g.report(m, true, 0)
			g.noteAttempt(x, m, 0, sent)
			if g.retry.again(retries, 0) {
				continue
			}
			g.unreachable(x, a, err)
			return
		}
		failing := m.failing(l.status)
		var wait time.Duration
		if failing {
			wait = retryAfter(l.header)
		}
		g.report(m, failing, wait)
		g.noteAttempt(x, m, l.status, sent)
		if g.retry.again(retries, l.status) {
			l.close()
			continue
		}
		x.relayed = true
		defer l.close()
		switch {
		case x.stream && l.status == http.StatusOK && l.answer != nil:
			g.relayCallStream(x, a, l)
		case x.stream && l.status == http.StatusOK:
			g.relayStream(x, a, l)
		default:
			g.relay(x, a, l)
		}
		return
	}
}

// noteAttempt adds an attempt on m that answered status (0: none) to the
// record, with its latency until now.
func (g *Gateway) noteAttempt(x *exchange, m *member, status int, sent time.Time) {
	x.rec.BackendAttempts = append(x.rec.BackendAttempts, record.Attempt{Backend: m.cfg.Name, Status: status, LatencyMS: ms(g.since(sent))})
}

// report feeds an attempt's result to m's breaker and counts a trip.
func (g *Gateway) report(m *member, failed bool, retryAfter time.Duration) {
	if g.pool.report(m, g.opts.Clock.Now(), failed, retryAfter) {
		g.metrics.trips.WithLabelValues(m.cfg.Name, m.cfg.Tier).Inc()
	}
}

// unreachable answers 502 (or 504 after a timeout) when the last attempt
// got no answer.
func (g *Gateway) unreachable(x *exchange, a *admission, err error) {
	g.settle(x, a, 0)
	status, outcome, code, msg := http.StatusBadGateway, record.OutcomeBackendError, "backend_unreachable", "No backend could be reached."
	if errors.Is(err, errAttemptTimeout) {
		status, outcome, code, msg = http.StatusGatewayTimeout, record.OutcomeTimeout, "backend_timeout", "The backend did not answer in time."
	}
	g.internalError(x, status, outcome, code, msg, fmt.Errorf("backend %s: %w", x.rec.Backend, err))
}

// unavailable answers 503 when the pool has no backend to try: every
// breaker open (sawOpen), or none serves the request.
func (g *Gateway) unavailable(x *exchange, a *admission, sawOpen bool) {
	g.settle(x, a, 0)
	x.rec.Backend, x.rec.BackendTier, x.rec.BackendAuth = "", "", ""
	msg := "No backend is available for this request."
	if sawOpen {
		msg = "Every backend's circuit breaker is open. Try again later."
	}
	g.reject(x, http.StatusServiceUnavailable, record.OutcomeCircuitOpen, "server_error", "circuit_open", msg)
}

func (g *Gateway) cancelled(x *exchange, a *admission) {
	g.settle(x, a, 0)
	x.rec.Status, x.rec.Outcome = 499, record.OutcomeClientCancelled
	g.finish(x)
	if x.answer != nil {
		x.answer.Err = context.Cause(x.ctx())
	}
}

// upstreamBody is the body sent to backends: the caller's, with max_tokens
// set when strict mode reserved a default cap, and with
// stream_options.include_usage on for streams so usage can be charged.
func (g *Gateway) upstreamBody(x *exchange) ([]byte, error) {
	needUsage := x.stream && !x.wantsUse && x.op() != chat.OpResponses
	if x.capMaxTokens == 0 && !needUsage {
		return x.body, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(x.body, &m); err != nil {
		return nil, fmt.Errorf("request body must be a JSON object: %w", err)
	}
	if x.capMaxTokens > 0 {
		m[opCapField(x)] = json.RawMessage(strconv.FormatInt(x.capMaxTokens, 10))
	}
	if needUsage {
		// Keep the caller's other stream options (include_obfuscation, …).
		opts := map[string]json.RawMessage{}
		if raw, ok := m["stream_options"]; ok {
			_ = json.Unmarshal(raw, &opts) // null or not an object: replaced
			if opts == nil {
				opts = map[string]json.RawMessage{}
			}
		}
		opts["include_usage"] = json.RawMessage("true")
		b, err := json.Marshal(opts)
		if err != nil {
			return nil, fmt.Errorf("stream_options: %w", err)
		}
		m["stream_options"] = b
	}
	return json.Marshal(m)
}

// capField is the completion cap's field for model: reasoning models (o1,
// o3, o4, gpt-5) refuse max_tokens and take max_completion_tokens.
func capField(model string) string {
	m := strings.ToLower(model)
	for _, p := range []string{"o1", "o3", "o4", "gpt-5"} {
		if strings.HasPrefix(m, p) {
			return "max_completion_tokens"
		}
	}
	return "max_tokens"
}

// attempt sends one request to m with the gateway's own credentials; the
// caller's Authorization and subscription key are never copied. The
// backend's timeout bounds the wait for response headers.
func (g *Gateway) attempt(x *exchange, m *member, body []byte) (*leg, error) {
	ctx, cancel := context.WithCancelCause(x.r.Context())
	timer := time.AfterFunc(m.cfg.Timeout, func() { cancel(errAttemptTimeout) })
	breq, err := http.NewRequestWithContext(ctx, http.MethodPost, m.url+x.r.URL.Path+upstreamQuery(x.r, g.tokenParam()), bytes.NewReader(body))
	if err != nil {
		timer.Stop()
		cancel(nil)
		return nil, fmt.Errorf("build backend request: %w", err)
	}
	breq.Header.Set("Content-Type", "application/json")
	if x.stream {
		breq.Header.Set("Accept", "text/event-stream")
	}
	if err := m.cred.apply(ctx, breq.Header); err != nil {
		timer.Stop()
		cancel(nil)
		return nil, err
	}
	for _, f := range x.passedOn() {
		breq.Header.Set(f.Name, f.Value)
	}
	x.setUpstream(breq.Header)
	bstart := g.opts.Timing.Now()
	resp, err := g.client.Do(breq)
	timer.Stop()
	if err != nil {
		if c := context.Cause(ctx); errors.Is(c, errAttemptTimeout) {
			err = errAttemptTimeout
		}
		cancel(nil)
		return nil, err
	}
	resp.Body = cancelOnClose{resp.Body, func() { cancel(nil) }}
	return &leg{status: resp.StatusCode, header: resp.Header, from: m, bstart: bstart, resp: resp}, nil
}

// passedOn are the request headers a backend receives from the caller.
var passedOn = [...]string{HeaderScenario, HeaderPersona, HeaderAttempt}

// passedOn are x's values of the passedOn headers, for every call made on
// x's behalf: its backend attempts and the semantic cache's embeddings
// call, so that a backend's tally attributes them to the caller's persona.
func (x *exchange) passedOn() chat.Header {
	var out chat.Header
	for _, h := range passedOn {
		if v := x.header(h); v != "" {
			out = append(out, chat.Field{Name: h, Value: v})
		}
	}
	return out
}

// tokenParam is the query parameter validate-jwt reads its token from ("" for none).
func (g *Gateway) tokenParam() string {
	if g.cfg.JWT == nil {
		return ""
	}
	return g.cfg.JWT.QueryParameterName
}

// upstreamQuery keeps the query (api-version) minus the subscription key
// and the token parameter.
func upstreamQuery(r *http.Request, tokenParam string) string {
	q := r.URL.Query()
	if !q.Has("subscription-key") && (tokenParam == "" || !q.Has(tokenParam)) {
		if r.URL.RawQuery == "" {
			return ""
		}
		return "?" + r.URL.RawQuery
	}
	q.Del("subscription-key")
	if tokenParam != "" {
		q.Del(tokenParam)
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

type cancelOnClose struct {
	io.ReadCloser
	cancel func()
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// relay copies a complete (non-streaming) backend answer to the caller,
// after charging its usage and setting the limit headers.
func (g *Gateway) relay(x *exchange, a *admission, l *leg) {
	var body []byte
	if l.resp != nil {
		var err error
		body, err = io.ReadAll(l.resp.Body)
		x.rec.BackendLatencyMS = ms(g.since(l.bstart))
		if err != nil {
			if x.ctx().Err() != nil {
				g.cancelled(x, a)
				return
			}
			g.settle(x, a, 0)
			g.internalError(x, http.StatusBadGateway, record.OutcomeBackendError, "backend_read", "The backend's answer could not be read.",
				fmt.Errorf("read backend %s's answer: %w", x.rec.Backend, err))
			return
		}
	} else {
		x.rec.BackendLatencyMS = ms(g.since(l.bstart))
	}
	x.rec.Status, x.rec.Outcome = l.status, outcomeOf(l.status)
	x.rec.UtilizationPct = utilizationOf(l.header)
	if l.status == http.StatusTooManyRequests {
		x.rec.RetryAfterMS = retryAfter(l.header).Milliseconds()
	}
	var used int64
	if l.status == http.StatusOK {
		if l.answer != nil {
			g.charge(x, l.answer.Usage, func() int64 { return g.answerTokens(x, l.answer) })
		} else {
			g.usageOf(x, body)
		}
		used = x.rec.TotalTokens
		g.storeAnswer(x, body, l.answer)
	}
	g.settle(x, a, used)
	h := x.respHeader()
	if len(a.checks) > 0 {
		a.setHeaders(h, l.status == http.StatusOK, used)
	}
	copyBackendHeaders(h, l.header)
	g.outbound(x, h)
	x.answerBytes = int64(len(body))
	g.finish(x)
	if x.w == nil {
		g.deliver(x, l.answer)
		return
	}
	x.w.WriteHeader(l.status)
	_, _ = x.w.Write(body)
}

// usageOf fills the record's token counts from a completion's usage block;
// without one (some OpenAI-compatible servers send none) the prompt is the
// gateway's estimate, the completion is counted from the answer's text, and
// the record is flagged estimated.
func (g *Gateway) usageOf(x *exchange, body []byte) {
	if x.op() != chat.OpChat {
		g.opUsage(x, body)
		return
	}
	// The usage block alone first: the choices' text is decoded only when
	// it has to be counted.
	var ur struct {
		Usage *chat.Usage `json:"usage"`
	}
	_ = json.Unmarshal(body, &ur)
	g.charge(x, ur.Usage, func() int64 {
		var cr struct {
			Choices []struct {
				Message chat.Message `json:"message"`
			} `json:"choices"`
		}
		_ = json.Unmarshal(body, &cr)
		var text strings.Builder
		for _, c := range cr.Choices {
			text.WriteString(c.Message.Text())
		}
		return g.countCompletion(x, text.String())
	})
}

// charge fills the record's token counts from the backend's usage; when
// it sent none, or one that cannot be true, the prompt is the gateway's
// estimate, the completion is counted (completion), and the record is
// flagged estimated.
func (g *Gateway) charge(x *exchange, u *chat.Usage, completion func() int64) {
	if u != nil && u.Plausible() {
		x.rec.PromptTokens, x.rec.CompletionTokens = u.PromptTokens, u.CompletionTokens
		x.rec.TotalTokens, x.rec.CachedTokens = u.TotalTokens, u.Cached()
		return
	}
	x.rec.PromptTokens, x.rec.CompletionTokens = g.promptTokens(x), completion()
	x.rec.TotalTokens, x.rec.TokensEstimated = x.rec.PromptTokens+x.rec.CompletionTokens, true
}

// countCompletion counts completion text with the model's encoding (a
// quarter of its bytes if the tokenizer fails).
func (g *Gateway) countCompletion(x *exchange, text string) int64 {
	n, err := g.counter.Text(x.rec.Model, text)
	if err != nil {
		return int64(len(text) / 4)
	}
	return n
}

func outcomeOf(status int) record.Outcome {
	switch {
	case status == http.StatusOK:
		return record.OutcomeOK
	case status == http.StatusTooManyRequests:
		return record.OutcomeBackendThrottled
	case status >= 500:
		return record.OutcomeBackendError
	default:
		return record.OutcomeBadRequest
	}
}
