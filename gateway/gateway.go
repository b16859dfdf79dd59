package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/aiload/aiload/gateway/chat"
	"github.com/aiload/aiload/gateway/policy"
	"github.com/aiload/aiload/gateway/tokens"
	"github.com/aiload/aiload/record"
)

// Request headers the load generator sets; copied into records.
const (
	HeaderScenario = "X-Aiload-Scenario"
	HeaderPersona  = "X-Aiload-Persona"
	HeaderAttempt  = "X-Aiload-Attempt"
)

// Options wires a Gateway to its surroundings.
type Options struct {
	// Clock is used for every policy decision (default: the wall clock).
	Clock policy.Clock
	// Sink receives one record per request (required).
	Sink record.Sink
	// RunID is written into every record.
	RunID string
	// Transport reaches the backend (default http.DefaultTransport).
	Transport http.RoundTripper
}

// Gateway is the enforcement gateway. It is an http.Handler.
type Gateway struct {
	cfg     Config
	opts    Options
	backend string // base URL
	client  *http.Client
	limiter *policy.TokenLimiter
	counter *tokens.Counter
	byKey   map[string]*Subscription
	product map[string]*Product
	mux     *http.ServeMux
}

var _ http.Handler = (*Gateway)(nil)

// New validates cfg and returns a Gateway. backendURL overrides
// cfg.Backend.URL when not empty (the embedded mock's address).
func New(cfg Config, backendURL string, opts Options) (*Gateway, error) {
	cfg.Defaults()
	if backendURL != "" {
		cfg.Backend.URL = backendURL
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gateway config: %w", err)
	}
	if cfg.Backend.URL == "" {
		return nil, errors.New("gateway config: gateway.backend.url: must be set")
	}
	if opts.Sink == nil {
		return nil, errors.New("gateway: a record sink is required")
	}
	if opts.Clock == nil {
		opts.Clock = policy.WallClock{}
	}
	if opts.Transport == nil {
		opts.Transport = http.DefaultTransport
	}
	g := &Gateway{
		cfg:     cfg,
		opts:    opts,
		backend: strings.TrimRight(cfg.Backend.URL, "/"),
		client:  &http.Client{Transport: opts.Transport},
		limiter: policy.NewTokenLimiter(opts.Clock),
		counter: tokens.NewCounter(),
		byKey:   map[string]*Subscription{},
		product: map[string]*Product{},
		mux:     http.NewServeMux(),
	}
	for i := range g.cfg.Products {
		g.product[g.cfg.Products[i].Name] = &g.cfg.Products[i]
	}
	for i := range g.cfg.Subscriptions {
		g.byKey[g.cfg.Subscriptions[i].Key] = &g.cfg.Subscriptions[i]
	}
	g.mux.HandleFunc("POST /v1/chat/completions", g.handleChat)
	g.mux.HandleFunc("POST /openai/deployments/{deployment}/chat/completions", g.handleChat)
	g.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	return g, nil
}

// ServeHTTP routes a request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.mux.ServeHTTP(w, r) }

// exchange is the state of one request through the pipeline.
type exchange struct {
	w     http.ResponseWriter
	r     *http.Request
	start time.Time
	rec   record.Record
	req   chat.Request
	body  []byte
}

func (g *Gateway) newExchange(w http.ResponseWriter, r *http.Request) *exchange {
	now := g.opts.Clock.Now()
	x := &exchange{w: w, r: r, start: now}
	attempt, _ := strconv.Atoi(r.Header.Get(HeaderAttempt))
	x.rec = record.Record{
		Schema:               record.SchemaVersion,
		TS:                   now.UTC(),
		RequestID:            uuid.NewString(),
		RunID:                g.opts.RunID,
		GatewayID:            g.cfg.ID,
		ClientIP:             clientIP(r),
		API:                  apiName(r),
		Scenario:             r.Header.Get(HeaderScenario),
		Persona:              r.Header.Get(HeaderPersona),
		Attempt:              attempt,
		RemainingQuotaTokens: -1,
	}
	if d := r.PathValue("deployment"); d != "" {
		x.rec.Model = d
	}
	return x
}

func apiName(r *http.Request) string {
	if r.PathValue("deployment") != "" {
		return "azure-openai"
	}
	return "openai"
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// finish writes the record of x with its latency.
func (g *Gateway) finish(x *exchange) {
	x.rec.LatencyMS = ms(g.opts.Clock.Now().Sub(x.start))
	x.w.Header().Set("x-ms-request-id", x.rec.RequestID)
	_ = g.opts.Sink.Write(&x.rec)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// reject answers with an OpenAI-style error and records the outcome.
func (g *Gateway) reject(x *exchange, status int, outcome record.Outcome, errType, code, msg string) {
	x.rec.Status, x.rec.Outcome = status, outcome
	g.finish(x)
	chat.WriteError(x.w, status, errType, code, msg)
}

func (g *Gateway) handleChat(w http.ResponseWriter, r *http.Request) {
	x := g.newExchange(w, r)
	sub := g.authenticate(x)
	if sub == nil {
		return
	}
	if !g.readRequest(x) {
		return
	}
	if !g.admit(x, sub) {
		return
	}
	g.forward(x, sub)
}

// authenticate resolves the subscription key (Ocp-Apim-Subscription-Key or
// api-key) or answers 401.
func (g *Gateway) authenticate(x *exchange) *Subscription {
	key := x.r.Header.Get("Ocp-Apim-Subscription-Key")
	if key == "" {
		key = x.r.Header.Get("Api-Key")
	}
	if key == "" {
		g.reject(x, http.StatusUnauthorized, record.OutcomeUnauthorized, "authentication_error", "401",
			"Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.")
		return nil
	}
	sub := g.byKey[key]
	if sub == nil {
		g.reject(x, http.StatusUnauthorized, record.OutcomeUnauthorized, "authentication_error", "401",
			"Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.")
		return nil
	}
	x.rec.SubscriptionID, x.rec.Product, x.rec.Team = sub.ID, sub.Product, sub.Team
	return sub
}

// readRequest reads and parses the chat request or answers 4xx.
func (g *Gateway) readRequest(x *exchange) bool {
	body, err := io.ReadAll(http.MaxBytesReader(x.w, x.r.Body, g.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		g.reject(x, http.StatusRequestEntityTooLarge, record.OutcomeBadRequest, "invalid_request_error", "request_too_large",
			fmt.Sprintf("request body exceeds %d bytes", g.cfg.MaxBodyBytes))
		return false
	case err != nil:
		g.reject(x, http.StatusBadRequest, record.OutcomeBadRequest, "invalid_request_error", "invalid_body", "read request body: "+err.Error())
		return false
	}
	if err := json.Unmarshal(body, &x.req); err != nil {
		g.reject(x, http.StatusBadRequest, record.OutcomeBadRequest, "invalid_request_error", "invalid_json",
			"We could not parse the JSON body of your request: "+err.Error())
		return false
	}
	if err := x.req.Validate(); err != nil {
		g.reject(x, http.StatusBadRequest, record.OutcomeBadRequest, "invalid_request_error", "invalid_request", err.Error())
		return false
	}
	if x.req.Stream {
		g.reject(x, http.StatusBadRequest, record.OutcomeBadRequest, "invalid_request_error", "unsupported",
			"stream: streaming is not supported by this gateway yet")
		return false
	}
	if x.rec.Model == "" {
		x.rec.Model = x.req.Model
	}
	x.body = body
	return true
}

// admit applies the product's token limit (per subscription, estimation
// off) or answers 429 with Retry-After.
func (g *Gateway) admit(x *exchange, sub *Subscription) bool {
	p := g.product[sub.Product]
	x.rec.CounterKey = sub.ID
	x.rec.LimitTPM = p.TokensPerMinute
	if p.TokensPerMinute <= 0 {
		return true
	}
	d := g.limiter.Check(sub.ID, p.TokensPerMinute)
	x.rec.RemainingTokens = d.Remaining
	if d.Allowed {
		return true
	}
	g.chargeRequested(x)
	secs := policy.RetryAfterSeconds(d.RetryAfter)
	x.rec.RetryAfterMS = secs * 1000
	h := x.w.Header()
	h.Set("Retry-After", strconv.FormatInt(secs, 10))
	h.Set("x-ratelimit-remaining-tokens", "0")
	h.Set("x-ratelimit-limit-tokens", strconv.FormatInt(p.TokensPerMinute, 10))
	g.reject(x, http.StatusTooManyRequests, record.OutcomeThrottled, "rate_limit_error", "429",
		fmt.Sprintf("Token limit is exceeded. Try again in %d seconds.", secs))
	return false
}

// chargeRequested fills a rejected record with the tokens that were asked
// for: estimated prompt tokens + max_tokens, flagged as estimated.
func (g *Gateway) chargeRequested(x *exchange) {
	prompt, err := g.counter.Prompt(x.rec.Model, x.req.Messages)
	if err != nil {
		prompt = int64(len(x.body) / 4)
	}
	maxOut, _ := x.req.MaxOutput()
	x.rec.PromptTokens, x.rec.CompletionTokens = prompt, maxOut
	x.rec.TotalTokens = prompt + maxOut
	x.rec.TokensEstimated = true
}

// forward sends the request to the backend with the gateway's own
// credentials, relays the answer and charges its usage to the window.
func (g *Gateway) forward(x *exchange, sub *Subscription) {
	x.rec.Backend, x.rec.BackendTier = g.cfg.Backend.Name, g.cfg.Backend.Tier
	ctx := x.r.Context()
	breq, err := http.NewRequestWithContext(ctx, http.MethodPost, g.backend+x.r.URL.RequestURI(), bytes.NewReader(x.body))
	if err != nil {
		g.reject(x, http.StatusBadGateway, record.OutcomeBackendError, "server_error", "backend", "build backend request: "+err.Error())
		return
	}
	breq.Header.Set("Content-Type", "application/json")
	if g.cfg.Backend.APIKey != "" {
		breq.Header.Set("api-key", g.cfg.Backend.APIKey)
	}
	for _, h := range []string{HeaderScenario, HeaderPersona, HeaderAttempt} {
		if v := x.r.Header.Get(h); v != "" {
			breq.Header.Set(h, v)
		}
	}
	bstart := g.opts.Clock.Now()
	resp, err := g.client.Do(breq)
	if err != nil {
		g.backendFailed(x, ctx, err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	x.rec.BackendLatencyMS = ms(g.opts.Clock.Now().Sub(bstart))
	if err != nil {
		g.backendFailed(x, ctx, err)
		return
	}
	g.relay(x, sub, resp, body)
}

func (g *Gateway) backendFailed(x *exchange, ctx context.Context, err error) {
	if ctx.Err() != nil {
		x.rec.Status, x.rec.Outcome = 499, record.OutcomeClientCancelled
		g.finish(x)
		return
	}
	g.reject(x, http.StatusBadGateway, record.OutcomeBackendError, "server_error", "backend_unreachable", "backend: "+err.Error())
}

// relay copies the backend's answer to the caller, after charging the
// reported usage and setting the limit headers.
func (g *Gateway) relay(x *exchange, sub *Subscription, resp *http.Response, body []byte) {
	x.rec.Status = resp.StatusCode
	switch {
	case resp.StatusCode == http.StatusOK:
		x.rec.Outcome = record.OutcomeOK
	case resp.StatusCode == http.StatusTooManyRequests:
		x.rec.Outcome = record.OutcomeBackendThrottled
	case resp.StatusCode >= 500:
		x.rec.Outcome = record.OutcomeBackendError
	default:
		x.rec.Outcome = record.OutcomeBadRequest
	}
	if resp.StatusCode == http.StatusOK {
		var cr chat.Response
		if err := json.Unmarshal(body, &cr); err == nil && cr.Usage != nil {
			x.rec.PromptTokens = cr.Usage.PromptTokens
			x.rec.CompletionTokens = cr.Usage.CompletionTokens
			x.rec.TotalTokens = cr.Usage.TotalTokens
			x.rec.CachedTokens = cr.Usage.Cached()
		}
	}
	h := x.w.Header()
	if limit := g.product[sub.Product].TokensPerMinute; limit > 0 {
		x.rec.RemainingTokens = g.limiter.Consume(x.rec.CounterKey, limit, x.rec.TotalTokens)
		h.Set("x-ratelimit-remaining-tokens", strconv.FormatInt(x.rec.RemainingTokens, 10))
		h.Set("x-ratelimit-limit-tokens", strconv.FormatInt(limit, 10))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		h.Set("Content-Type", ct)
	}
	g.finish(x)
	x.w.WriteHeader(resp.StatusCode)
	_, _ = x.w.Write(body)
}
