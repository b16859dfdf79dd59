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

// forward sends the request to the pool, retrying on another backend after
// a 429, a 5xx or a transport failure, and relays the first good answer.
// When every backend is tripped it answers 503; when every attempt failed it
// relays the last backend answer (or 502/504).
func (g *Gateway) forward(x *exchange, a *admission) {
	body, err := g.upstreamBody(x)
	if err != nil {
		g.settle(x, a, 0)
		g.reject(x, http.StatusBadRequest, record.OutcomeBadRequest, "invalid_request_error", "invalid_json", err.Error())
		return
	}
	tried := map[*member]bool{}
	var lastResp *http.Response
	var lastFrom *member // the backend lastResp came from
	var lastErr error
	for {
		m, sawOpen := g.pool.pick(g.opts.Clock.Now(), x.rec.Model, tried)
		if m == nil {
			if lastResp != nil {
				x.member = lastFrom
				x.rec.Backend, x.rec.BackendTier = lastFrom.cfg.Name, lastFrom.cfg.Tier
			}
			g.exhausted(x, a, sawOpen, lastResp, lastErr)
			return
		}
		tried[m] = true
		x.member = m
		x.rec.Backend, x.rec.BackendTier = m.cfg.Name, m.cfg.Tier
		resp, bstart, err := g.attempt(x, m, body)
		if err != nil {
			if x.r.Context().Err() != nil {
				g.cancelled(x, a)
				return
			}
			g.report(m, true, 0)
			lastErr = err
			continue
		}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			g.report(m, m.failing(resp.StatusCode), retryAfter(resp.Header))
			if lastResp != nil {
				lastResp.Body.Close()
			}
			lastResp, lastFrom, lastErr = resp, m, nil
			continue
		}
		g.report(m, m.failing(resp.StatusCode), 0)
		if lastResp != nil {
			lastResp.Body.Close()
		}
		defer resp.Body.Close()
		if x.req.Stream && resp.StatusCode == http.StatusOK {
			g.relayStream(x, a, resp, bstart)
			return
		}
		g.relay(x, a, resp, bstart)
		return
	}
}

// report feeds an attempt's result to m's breaker and counts a trip.
func (g *Gateway) report(m *member, failed bool, retryAfter time.Duration) {
	if g.pool.report(m, g.opts.Clock.Now(), failed, retryAfter) {
		g.metrics.trips.WithLabelValues(m.cfg.Name, m.cfg.Tier).Inc()
	}
}

// exhausted answers when no backend is left to try.
func (g *Gateway) exhausted(x *exchange, a *admission, sawOpen bool, lastResp *http.Response, lastErr error) {
	switch {
	case lastResp != nil:
		defer lastResp.Body.Close()
		g.relay(x, a, lastResp, g.opts.Timing.Now())
	case lastErr != nil:
		g.settle(x, a, 0)
		status, outcome, code := http.StatusBadGateway, record.OutcomeBackendError, "backend_unreachable"
		if errors.Is(lastErr, errAttemptTimeout) {
			status, outcome, code = http.StatusGatewayTimeout, record.OutcomeTimeout, "backend_timeout"
		}
		g.reject(x, status, outcome, "server_error", code, "backend: "+lastErr.Error())
	default:
		g.settle(x, a, 0)
		x.rec.Backend, x.rec.BackendTier = "", ""
		msg := "No backend is available for this request."
		if sawOpen {
			msg = "Every backend's circuit breaker is open. Try again later."
		}
		g.reject(x, http.StatusServiceUnavailable, record.OutcomeCircuitOpen, "server_error", "circuit_open", msg)
	}
}

func (g *Gateway) cancelled(x *exchange, a *admission) {
	g.settle(x, a, 0)
	x.rec.Status, x.rec.Outcome = 499, record.OutcomeClientCancelled
	g.finish(x)
}

// upstreamBody is the body sent to backends: the caller's, with max_tokens
// set when strict mode reserved a default cap, and with
// stream_options.include_usage on for streams so usage can be charged.
func (g *Gateway) upstreamBody(x *exchange) ([]byte, error) {
	needUsage := x.req.Stream && (x.req.StreamOptions == nil || !x.req.StreamOptions.IncludeUsage)
	if x.capMaxTokens == 0 && !needUsage {
		return x.body, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(x.body, &m); err != nil {
		return nil, fmt.Errorf("request body must be a JSON object: %w", err)
	}
	if x.capMaxTokens > 0 {
		m[capField(x.rec.Model)] = json.RawMessage(strconv.FormatInt(x.capMaxTokens, 10))
	}
	if needUsage {
		m["stream_options"] = json.RawMessage(`{"include_usage":true}`)
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
func (g *Gateway) attempt(x *exchange, m *member, body []byte) (*http.Response, time.Time, error) {
	ctx, cancel := context.WithCancelCause(x.r.Context())
	timer := time.AfterFunc(m.cfg.Timeout, func() { cancel(errAttemptTimeout) })
	breq, err := http.NewRequestWithContext(ctx, http.MethodPost, m.url+x.r.URL.Path+upstreamQuery(x.r), bytes.NewReader(body))
	if err != nil {
		timer.Stop()
		cancel(nil)
		return nil, time.Time{}, fmt.Errorf("build backend request: %w", err)
	}
	breq.Header.Set("Content-Type", "application/json")
	if x.req.Stream {
		breq.Header.Set("Accept", "text/event-stream")
	}
	if k := m.cfg.APIKey; k != "" {
		if m.cfg.Auth == "bearer" {
			breq.Header.Set("Authorization", "Bearer "+k)
		} else {
			breq.Header.Set("api-key", k)
		}
	}
	for _, h := range []string{HeaderScenario, HeaderPersona, HeaderAttempt} {
		if v := x.r.Header.Get(h); v != "" {
			breq.Header.Set(h, v)
		}
	}
	bstart := g.opts.Timing.Now()
	resp, err := g.client.Do(breq)
	timer.Stop()
	if err != nil {
		if c := context.Cause(ctx); errors.Is(c, errAttemptTimeout) {
			err = errAttemptTimeout
		}
		cancel(nil)
		return nil, bstart, err
	}
	resp.Body = cancelOnClose{resp.Body, func() { cancel(nil) }}
	return resp, bstart, nil
}

// upstreamQuery keeps the query (api-version) minus the subscription key.
func upstreamQuery(r *http.Request) string {
	q := r.URL.Query()
	if !q.Has("subscription-key") {
		if r.URL.RawQuery == "" {
			return ""
		}
		return "?" + r.URL.RawQuery
	}
	q.Del("subscription-key")
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
func (g *Gateway) relay(x *exchange, a *admission, resp *http.Response, bstart time.Time) {
	body, err := io.ReadAll(resp.Body)
	x.rec.BackendLatencyMS = ms(g.since(bstart))
	if err != nil {
		if x.r.Context().Err() != nil {
			g.cancelled(x, a)
			return
		}
		g.settle(x, a, 0)
		g.reject(x, http.StatusBadGateway, record.OutcomeBackendError, "server_error", "backend_read", "read backend answer: "+err.Error())
		return
	}
	x.rec.Status, x.rec.Outcome = resp.StatusCode, outcomeOf(resp.StatusCode)
	if resp.StatusCode == http.StatusTooManyRequests {
		x.rec.RetryAfterMS = retryAfter(resp.Header).Milliseconds()
	}
	var used int64
	if resp.StatusCode == http.StatusOK {
		g.usageOf(x, body)
		used = x.rec.TotalTokens
	}
	g.settle(x, a, used)
	h := x.w.Header()
	if len(a.checks) > 0 {
		a.setHeaders(h, resp.StatusCode == http.StatusOK, used)
	}
	copyBackendHeaders(h, resp.Header, resp.StatusCode)
	g.finish(x)
	x.w.WriteHeader(resp.StatusCode)
	_, _ = x.w.Write(body)
}

// usageOf fills the record's token counts from a completion's usage block;
// without one (some OpenAI-compatible servers send none) the prompt is the
// gateway's estimate, the completion is counted from the answer's text, and
// the record is flagged estimated.
func (g *Gateway) usageOf(x *exchange, body []byte) {
	// The usage block alone first: the choices' text is decoded only when
	// it has to be counted.
	var ur struct {
		Usage *chat.Usage `json:"usage"`
	}
	_ = json.Unmarshal(body, &ur)
	if u := ur.Usage; u != nil && u.Plausible() { // an implausible block is treated as missing
		x.rec.PromptTokens, x.rec.CompletionTokens = u.PromptTokens, u.CompletionTokens
		x.rec.TotalTokens, x.rec.CachedTokens = u.TotalTokens, u.Cached()
		return
	}
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
	x.rec.PromptTokens, x.rec.CompletionTokens = g.promptTokens(x), g.countCompletion(x, text.String())
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

// copyBackendHeaders keeps the content type and, on a relayed 429, the
// backend's retry advice.
func copyBackendHeaders(dst, src http.Header, status int) {
	if ct := src.Get("Content-Type"); ct != "" {
		dst.Set("Content-Type", ct)
	}
	if status == http.StatusTooManyRequests {
		for _, k := range []string{"Retry-After", "retry-after-ms"} {
			if v := src.Get(k); v != "" {
				dst.Set(k, v)
			}
		}
	}
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
