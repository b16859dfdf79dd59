package gateway

import (
	"context"
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
	"github.com/aiload/aiload/gateway/semcache"
	"github.com/aiload/aiload/gateway/store"
	"github.com/aiload/aiload/gateway/tokens"
	"github.com/aiload/aiload/internal/h1"
	"github.com/aiload/aiload/record"
)

// Request headers the load generator sets; copied into records.
const (
	HeaderScenario = "X-Aiload-Scenario"
	HeaderPersona  = "X-Aiload-Persona"
	HeaderAttempt  = "X-Aiload-Attempt"
)

// API names, as records and apis[].name spell them.
const (
	apiOpenAI = "openai"
	apiAzure  = "azure-openai"
)

// Options wires a Gateway to its surroundings.
type Options struct {
	// Clock is used for every policy decision (default: the wall clock).
	Clock policy.Clock
	// Sink receives one record per request (required).
	Sink record.Sink
	// RunID is written into every record.
	RunID string
	// Transport reaches the backends (default: HTTP/1.1 on up to 512 idle
	// connections per plain-HTTP backend, sent by the calling goroutine;
	// https through http.DefaultTransport's settings with as many).
	Transport http.RoundTripper
	// Store holds the token counters (default: a new in-memory store).
	Store store.Store
	// BackendURLs gives the URL of backends by name (embedded mocks); it
	// wins over the configured url.
	BackendURLs map[string]string
	// Timing measures latencies (default: the wall clock). A simulation
	// passes its virtual clock, so latencies are simulated time too.
	Timing policy.Clock
	// RequestID makes each record's request id (default: a random UUID). A
	// simulation passes a seeded source, so its records are reproducible.
	RequestID func() string
	// InProcess answers Call's requests in process, by backend base URL
	// (as BackendURLs or the config give it, without a trailing slash): a
	// simulation's built-in mocks. Requests over HTTP still reach every
	// backend over HTTP.
	InProcess map[string]chat.Caller
	// MaxHeaderBytes, when > 0, answers requests whose headers are larger
	// with 431 and an OpenAI-style error. Serve sets it and lets net/http
	// read headers up to four times as large (beyond that net/http answers
	// 431 itself, in plain text, before the gateway sees the request).
	MaxHeaderBytes int
	// Logf receives what the gateway has to tell its operator: the details
	// of an error whose answer only says "internal error" and the request
	// id (an unreachable backend, a counter store outage), records that
	// could not be written. Default: discarded.
	Logf func(format string, args ...any)
	// Unmetered, when set, is asked before each request whether requests
	// can be metered now; while it returns an error (the record log cannot
	// be written) requests are refused with 503 and code
	// records_unavailable (`gateway serve --on-record-error=refuse`).
	Unmetered func() error
	// Sleep waits d or until ctx ends (the wait between <retry>'s
	// attempts). Default: the wall clock; a simulation passes its virtual
	// clock's.
	Sleep func(ctx context.Context, d time.Duration) error
	// SemanticCacheStore keeps the semantic cache's answers (default: the
	// config's semantic_cache store, a new in-memory one unless it names
	// Redis).
	SemanticCacheStore semcache.Store
}

// Gateway is the enforcement gateway. It is an http.Handler.
type Gateway struct {
	cfg      Config
	opts     Options
	client   *http.Client
	store    store.Store
	counter  *tokens.Counter
	keys     keyring
	products map[string][]*limitRule
	apis     map[string][]*limitRule
	dims     []dimension
	calls    []callRule // rate limits and quotas of calls and bandwidth
	pool     *pool
	retry    *retrier
	jwt      *jwtValidator
	metrics  *metrics
	mux      *http.ServeMux
	drops    dropLog
	// caches are the compiled semantic caches by scope ("product/p",
	// "api/a", "op/a/o"); cacheStore keeps their answers.
	caches     map[string]*semanticCache
	cacheStore semcache.Store
	// inboundStmts and outboundStmts are the compiled cfg.Inbound and
	// cfg.Outbound.
	inboundStmts, outboundStmts []statement
	// ownStore is the cache store the gateway opened (closed by Shutdown).
	ownStore io.Closer
}

var _ http.Handler = (*Gateway)(nil)

// New validates cfg and returns a Gateway. backendURL is used for backends
// with neither a url nor an entry in opts.BackendURLs (the embedded mock of
// a single-backend config).
func New(cfg Config, backendURL string, opts Options) (*Gateway, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("gateway config: %w", err)
	}
	if cfg.APIM != nil && !cfg.APIM.Translated {
		return nil, errors.New("gateway config: apim: the policy documents were not translated (load the config with package apimxml)")
	}
	if opts.Sink == nil {
		return nil, errors.New("gateway: a record sink is required")
	}
	if opts.Clock == nil {
		opts.Clock = policy.WallClock{}
	}
	if opts.Transport == nil {
		opts.Transport = defaultTransport()
	}
	if opts.Timing == nil {
		opts.Timing = policy.WallClock{}
	}
	if opts.RequestID == nil {
		opts.RequestID = uuid.NewString
	}
	if opts.Store == nil {
		opts.Store = store.NewMemory()
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.Sleep == nil {
		opts.Sleep = sleepWall
	}
	var ownStore io.Closer
	if opts.SemanticCacheStore == nil {
		rs, err := cfg.SemanticCache.open()
		switch {
		case err != nil:
			return nil, fmt.Errorf("gateway config: semantic_cache: %w", err)
		case rs != nil:
			opts.SemanticCacheStore, ownStore = rs, rs
		default:
			opts.SemanticCacheStore = semcache.NewMemory()
		}
	}
	g := &Gateway{
		cfg: cfg, opts: opts, store: opts.Store,
		client:   &http.Client{Transport: opts.Transport},
		counter:  tokens.NewCounter(),
		keys:     newKeyring(cfg.Subscriptions),
		products: map[string][]*limitRule{},
		apis:     map[string][]*limitRule{},
		mux:      http.NewServeMux(),
		caches:   map[string]*semanticCache{}, cacheStore: opts.SemanticCacheStore, ownStore: ownStore,
	}
	if err := g.compile(backendURL); err != nil {
		if ownStore != nil {
			_ = ownStore.Close()
		}
		return nil, err
	}
	go g.counter.Warm()
	g.metrics = newMetrics(g)
	if err := g.startOTLP(); err != nil {
		if ownStore != nil {
			_ = ownStore.Close()
		}
		return nil, err
	}
	g.routes()
	g.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	g.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if g.apim() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write(APIMErrorBody(http.StatusNotFound, "Resource not found"))
			return
		}
		chat.WriteError(w, http.StatusNotFound, "invalid_request_error", "not_found",
			fmt.Sprintf("Unknown route %s %s: this gateway serves %s.", r.Method, r.URL.Path, routeList))
	})
	return g, nil
}

// defaultTransport keeps enough idle connections per backend for a load
// test (http.DefaultTransport keeps 2, so hundreds of concurrent requests to
// one backend would open and close a connection each) and sends plain-HTTP
// requests on them itself (h1.Transport); https goes through
// http.DefaultTransport's settings.
func defaultTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 2048
	t.MaxIdleConnsPerHost = 512
	return h1.New(t, h1.Options{Dialer: net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second},
		MaxIdle: t.MaxIdleConnsPerHost, IdleTimeout: t.IdleConnTimeout})
}

// compile turns the validated config into the gateway's runtime parts.
func (g *Gateway) compile(backendURL string) error {
	for _, p := range g.cfg.Products {
		if p.TokensPerMinute > 0 {
			r, _ := compileLimit(TokenLimit{CounterKey: "subscription", TokensPerMinute: p.TokensPerMinute})
			g.products[p.Name] = append(g.products[p.Name], r)
		}
		for _, l := range p.TokenLimits {
			r, _ := compileLimit(l)
			g.products[p.Name] = append(g.products[p.Name], r)
		}
	}
	for _, a := range g.cfg.APIs {
		for _, l := range a.TokenLimits {
			r, _ := compileLimit(l)
			g.apis[a.Name] = append(g.apis[a.Name], r)
		}
		for _, o := range a.Operations {
			for _, l := range o.TokenLimits {
				r, _ := compileLimit(l)
				g.apis[a.Name+"/"+o.Name] = append(g.apis[a.Name+"/"+o.Name], r)
			}
		}
	}
	g.calls = compileCalls(g.cfg.RateLimits, g.cfg.Quotas)
	if m := g.cfg.EmitTokenMetric; m != nil {
		for _, d := range m.Dimensions {
			dim, _ := compileDimension(d)
			g.dims = append(g.dims, dim)
		}
	}
	g.retry = newRetrier(g.cfg.Retry)
	var err error
	if g.pool, err = newPool(g.cfg.Backends, g.opts.BackendURLs, backendURL, g.opts.InProcess); err != nil {
		return fmt.Errorf("gateway config: %w", err)
	}
	for _, m := range g.pool.members {
		if m.cred, err = newCredential(m.cfg, g.cfg.Identity); err != nil {
			return fmt.Errorf("gateway config: %w", err)
		}
	}
	g.compileCaches()
	g.inboundStmts, _ = compileStatements(g.cfg.Inbound, "", false)
	g.outboundStmts, _ = compileStatements(g.cfg.Outbound, "", true)
	if g.cfg.JWT != nil {
		if g.jwt, err = newJWTValidator(*g.cfg.JWT, g.opts.Clock, g.client); err != nil {
			return fmt.Errorf("gateway config: gateway.jwt: %w", err)
		}
	}
	return nil
}

// ServeHTTP routes a request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.mux.ServeHTTP(w, r) }

// exchange is the state of one request through the pipeline. It came over
// HTTP (w and r set) or in process (call and answer set, see Call); the
// pipeline reads and answers it through the methods below, so both take
// the same decisions.
type exchange struct {
	w        http.ResponseWriter
	r        *http.Request
	call     *chat.Call
	callCtx  context.Context
	answer   *chat.Answer
	start    time.Time // on the policy clock: the record's ts
	wall     time.Time // on the timing clock: latencies are measured from it
	rec      record.Record
	req      chat.Request // over HTTP: the decoded body
	body     []byte       // over HTTP: the body as received
	sub      *Subscription
	claims   map[string]any // of a validated JWT
	stream   bool
	wantsUse bool // stream_options.include_usage: the caller wants the usage chunk
	// deployment is the Azure route's {deployment} ("" on the OpenAI route).
	deployment string
	prompt     int64 // estimated prompt tokens, once prompted (see promptTokens)
	prompted   bool
	maxOut     int64 // the request's completion cap (0: none)
	// capMaxTokens, when > 0, is set as max_tokens on the forwarded request
	// (strict mode reserved it for a request that gave none).
	capMaxTokens int64
	member       *member
	// promptText and promptIDs are a legacy completions request's prompt
	// (or an embeddings request's inputs, joined by newlines):
	// its text and the count of token ids it gave as numbers.
	promptText string
	promptIDs  int64
	// relayed is set once a backend's answer is being relayed: the last of
	// rec.BackendAttempts then takes the backend latency of the whole answer.
	relayed bool
	// cacheMiss is set by a semantic cache lookup that missed: the answer
	// is stored when relayed.
	cacheMiss *cacheMiss
	// upstream are the inbound set-headers for the forwarded request.
	upstream []upstreamHeader
	// counted is the call counters that admitted the request, charged
	// again by its answer (increment conditions, bandwidth);
	// answerBytes is the answer body's size, for bandwidth quotas.
	counted     *counted
	answerBytes int64
}

func (g *Gateway) newExchange(w http.ResponseWriter, r *http.Request) *exchange {
	x := &exchange{w: w, r: r}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	g.open(x, r.PathValue("deployment"), host)
	return x
}

// open starts the record of x: when, who called (remote is the
// connection's address) and what the load generator's headers say.
func (g *Gateway) open(x *exchange, deployment, remote string) {
	now := g.opts.Clock.Now()
	x.start, x.wall, x.deployment = now, g.opts.Timing.Now(), deployment
	var attempt int
	if a := x.header(HeaderAttempt); a != "" {
		attempt, _ = strconv.Atoi(a)
	}
	x.rec = record.Record{
		Schema:               record.SchemaVersion,
		TS:                   now.UTC(),
		RequestID:            g.opts.RequestID(),
		RunID:                g.opts.RunID,
		GatewayID:            g.cfg.ID,
		ClientIP:             g.clientIP(x, remote),
		API:                  apiOpenAI,
		Model:                deployment,
		Scenario:             x.header(HeaderScenario),
		Persona:              x.header(HeaderPersona),
		Attempt:              attempt,
		RemainingQuotaTokens: -1,
	}
	if deployment != "" {
		x.rec.API = apiAzure
	}
	x.setHeader("x-ms-request-id", x.rec.RequestID)
}

// clientIP is the connection's address, or with trusted proxy hops the
// X-Forwarded-For entry hops places from the right (the leftmost when there
// are fewer entries).
func (g *Gateway) clientIP(x *exchange, remote string) string {
	hops := g.cfg.TrustedProxyHops
	if hops <= 0 {
		return remote
	}
	var hopsSeen []string
	for _, v := range x.headerValues("X-Forwarded-For") {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				hopsSeen = append(hopsSeen, p)
			}
		}
	}
	if len(hopsSeen) == 0 {
		return remote
	}
	return hopsSeen[max(0, len(hopsSeen)-hops)]
}

// ctx is the caller's context: it ends when the caller gives up.
func (x *exchange) ctx() context.Context {
	if x.r != nil {
		return x.r.Context()
	}
	return x.callCtx
}

// header is the first value of a request header.
func (x *exchange) header(name string) string {
	if x.r != nil {
		return x.r.Header.Get(name)
	}
	return x.call.Header.Get(name)
}

func (x *exchange) headerValues(name string) []string {
	if x.r != nil {
		return x.r.Header.Values(name)
	}
	return x.call.Header.Values(name)
}

// query is a query parameter of the request URL ("" in process).
func (x *exchange) query(name string) string {
	if x.r != nil {
		return x.r.URL.Query().Get(name)
	}
	return ""
}

// headerSetter is where response headers go: an http.Header or the
// answer's chat.Header.
type headerSetter interface{ Set(name, value string) }

var (
	_ headerSetter = http.Header{}
	_ headerSetter = (*chat.Header)(nil)
)

// respHeader is the answer's header.
func (x *exchange) respHeader() headerSetter {
	if x.w != nil {
		return x.w.Header()
	}
	return &x.answer.Header
}

func (x *exchange) setHeader(name, value string) { x.respHeader().Set(name, value) }

// fail answers with an OpenAI-style error.
func (x *exchange) fail(status int, errType, code, msg string) {
	x.failDetail(status, chat.ErrorDetail{Message: msg, Type: errType, Code: code})
}

// failDetail answers with the OpenAI-style error d.
func (x *exchange) failDetail(status int, d chat.ErrorDetail) {
	if x.w != nil {
		chat.WriteErrorDetail(x.w, status, d)
		return
	}
	x.answer.Status, x.answer.Error = status, &d
	x.answer.Header.Set("Content-Type", "application/json")
}

// finish writes the record of x with its latency and dimensions.
func (g *Gateway) finish(x *exchange) {
	g.countAnswer(x)
	x.rec.LatencyMS = ms(g.since(x.wall))
	if n := len(x.rec.BackendAttempts); n > 0 && x.relayed {
		x.rec.BackendAttempts[n-1].LatencyMS = x.rec.BackendLatencyMS
	}
	x.rec.Dims = g.dimensions(x)
	g.metrics.observe(&x.rec)
	if err := g.opts.Sink.Write(&x.rec); err != nil {
		g.metrics.dropped.Inc()
		if n, ok := g.drops.add(g.opts.Timing.Now()); ok {
			g.opts.Logf("record of request %s not written (%d records lost so far, see aiload_gateway_records_dropped_total): %v", x.rec.RequestID, n, err)
		}
	}
}

// since is the time elapsed since t on the timing clock.
func (g *Gateway) since(t time.Time) time.Duration { return g.opts.Timing.Now().Sub(t) }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// rejectRequest answers a malformed request with 400, naming the field
// (param) when err is a *chat.FieldError, and records it as bad_request.
func (g *Gateway) rejectRequest(x *exchange, err error) {
	x.rec.Status, x.rec.Outcome = http.StatusBadRequest, record.OutcomeBadRequest
	g.finish(x)
	x.failDetail(http.StatusBadRequest, chat.RequestError(err))
}

// reject answers with an OpenAI-style error and records the outcome; with
// wire apim an answer API Management would make itself (5xx: no backend,
// counter store down) has its shape instead.
func (g *Gateway) reject(x *exchange, status int, outcome record.Outcome, errType, code, msg string) {
	if g.apim() && status >= 500 {
		g.rejectAPIM(x, status, outcome, msg)
		return
	}
	x.rec.Status, x.rec.Outcome = status, outcome
	g.finish(x)
	x.fail(status, errType, code, msg)
}

// serve is the pipeline every request goes through, over HTTP or in
// process: subscription key, check-header, validate-jwt, the request's
// checks, token limits, then the backend pool. A semantic cache's lookup
// sits before or after the token limits, as its position says.
func (g *Gateway) serve(x *exchange) {
	if !g.metered(x) || !g.authenticate(x) || !g.checkHeaders(x) || !g.validateJWT(x) || !g.readRequest(x) || !g.inbound(x) {
		return
	}
	c := g.cacheFor(x)
	if c != nil && !c.afterLimit && g.lookup(x, c, nil) {
		return
	}
	if !g.countCalls(x) {
		return
	}
	a := g.admit(x)
	if a == nil {
		return
	}
	if c != nil && c.afterLimit && g.lookup(x, c, a) {
		return
	}
	g.forward(x, a)
}
