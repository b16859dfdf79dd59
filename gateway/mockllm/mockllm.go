// Package mockllm is aiload's built-in LLM backend: an OpenAI- and
// Azure-OpenAI-compatible chat completions server that answers with
// synthetic text, a correct usage block and a realistic latency, so a load
// test needs no paid capacity.
//
// Routes:
//
//	POST /v1/chat/completions                                  (OpenAI)
//	POST /openai/deployments/{deployment}/chat/completions     (Azure, ?api-version=…)
//	POST /v1/responses, /openai/responses, /openai/v1/responses (the Responses API)
//	POST /v1/completions                                       (legacy completions)
//	POST /openai/deployments/{deployment}/completions          (Azure, ?api-version=…)
//	POST /v1/embeddings                                        (embeddings, see embeddings.go)
//	POST /openai/deployments/{deployment}/embeddings           (Azure, ?api-version=…)
//	GET  /mock/stats                                           (tokens served, JSON)
//
// A mock can model a provisioned (PTU) deployment's capacity ceiling,
// inject faults (5xx, timeouts, slow first byte, connection resets) and
// stream server-sent events with a final usage chunk.
package mockllm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aiload/aiload/gateway/chat"
	"github.com/aiload/aiload/gateway/policy"
	"github.com/aiload/aiload/gateway/tokens"
)

// PersonaHeader is the request header whose value the mock tallies served
// tokens by (the load generator sets it; gateways pass it through).
const PersonaHeader = "X-Aiload-Persona"

// Config shapes the mock's answers. Zero values take the documented
// defaults. In YAML it is a backend's `mock:` block.
type Config struct {
	// Seed makes completion lengths and injected faults reproducible for a
	// given request order.
	Seed uint64 `yaml:"seed" json:"seed,omitempty"`
	// FirstTokenDelay is the time to first token (default 0).
	FirstTokenDelay time.Duration `yaml:"first_token_delay" json:"first_token_delay,omitempty"`
	// PerTokenDelay is added per completion token (default 0).
	PerTokenDelay time.Duration `yaml:"per_token_delay" json:"per_token_delay,omitempty"`
	// PerTokenDelayP95 gives the per-token delay jitter: when set, each
	// streamed chunk's per-token delay is drawn from a lognormal
	// distribution with median PerTokenDelay and 95th percentile
	// PerTokenDelayP95 (at least PerTokenDelay), so the time between a
	// stream's chunks varies as a real deployment's does; a whole answer
	// waits for the sum of its chunks' draws. 0 = every token takes
	// exactly PerTokenDelay.
	PerTokenDelayP95 time.Duration `yaml:"per_token_delay_p95" json:"per_token_delay_p95,omitempty"`
	// DefaultMaxTokens caps completions of requests without max_tokens (default 256).
	DefaultMaxTokens int64 `yaml:"default_max_tokens" json:"default_max_tokens,omitempty"`
	// MinFraction is the smallest share of max_tokens a completion uses; a
	// completion has uniform length in [MinFraction·max, max] (default 0.6; 1 = always max).
	MinFraction float64 `yaml:"min_fraction" json:"min_fraction,omitempty"`
	// PTUTPM is a provisioned deployment's capacity in tokens per minute:
	// a leaky bucket of that size draining PTUTPM/60 tokens per second,
	// charged prompt + max_tokens × PTUOutputRatio at arrival and corrected
	// to the completion's actual tokens when it is answered, as Azure
	// corrects its estimate; a request that does not fit
	// gets 429 with retry-after-ms. 0 = pay-as-you-go, no ceiling.
	PTUTPM int64 `yaml:"ptu_tpm" json:"ptu_tpm,omitempty"`
	// PTUOutputRatio is how many input tokens one output token counts as
	// in the PTU bucket, as Azure weighs a model's output (4 for gpt-4o and
	// gpt-4.1, 8 for gpt-5: the pricing file's output_ratio), so that
	// ptu_tpm = PTUs × input TPM per PTU; default 1 (raw tokens).
	PTUOutputRatio float64 `yaml:"ptu_output_ratio" json:"ptu_output_ratio,omitempty"`
	// ErrorRate is the share of requests answered 500 (0-1).
	ErrorRate float64 `yaml:"error_rate" json:"error_rate,omitempty"`
	// TimeoutRate is the share of requests never answered (the mock waits
	// until the caller gives up).
	TimeoutRate float64 `yaml:"timeout_rate" json:"timeout_rate,omitempty"`
	// ResetRate is the share of requests whose connection is reset.
	ResetRate float64 `yaml:"reset_rate" json:"reset_rate,omitempty"`
	// SlowFirstByteRate is the share of requests delayed by SlowFirstByte
	// before anything is sent.
	SlowFirstByteRate float64       `yaml:"slow_first_byte_rate" json:"slow_first_byte_rate,omitempty"`
	SlowFirstByte     time.Duration `yaml:"slow_first_byte" json:"slow_first_byte,omitempty"`
	// OmitStreamUsage leaves the usage chunk out of streams even when
	// stream_options.include_usage asks for it.
	OmitStreamUsage bool `yaml:"omit_stream_usage" json:"omit_stream_usage,omitempty"`
	// ToolCallShare is the share (0-1) of chat requests offering function
	// tools that are answered with a tool call (finish_reason tool_calls)
	// rather than text; unset = 1. tool_choice "none" and a request whose
	// last message is a tool's result always get text; tool_choice
	// "required" or a named function always a call.
	ToolCallShare *float64 `yaml:"tool_call_share" json:"tool_call_share,omitempty"`
	// Calibration is a calibration file written by `aiload calibrate` or
	// `aiload run --record`, relative to the file that names it. Requests
	// for a deployment it holds (or any request, when it holds one) are
	// answered like that deployment: time to first token, the time
	// between chunks and the tokens per chunk drawn from its fitted
	// models with their measured spread, completion lengths from its
	// completion/max_tokens distribution; first_token_delay,
	// per_token_delay(_p95) and min_fraction then do not apply. A
	// measured capacity (from the deployment's utilization) becomes
	// ptu_tpm when ptu_tpm is unset.
	Calibration string `yaml:"calibration" json:"calibration,omitempty"`
	// Calibrated is Calibration's contents, read when the scenario is
	// loaded (LoadCalibration).
	Calibrated *Calibration `yaml:"-" json:"-"`
	// Clock times the PTU bucket (default the wall clock).
	Clock policy.Clock `yaml:"-" json:"-"`
	// Sleep waits d for the modelled latency, or until ctx ends (default:
	// a timer). A simulation passes its virtual clock's sleep.
	Sleep func(ctx context.Context, d time.Duration) error `yaml:"-" json:"-"`
}

// Validate checks the rates and sizes.
func (c Config) Validate() error {
	var errs []error
	for _, r := range []struct {
		name string
		v    float64
	}{{"error_rate", c.ErrorRate}, {"timeout_rate", c.TimeoutRate}, {"reset_rate", c.ResetRate},
		{"slow_first_byte_rate", c.SlowFirstByteRate}, {"min_fraction", c.MinFraction}} {
		if r.v < 0 || r.v > 1 {
			errs = append(errs, &FieldError{Field: r.name, Msg: fmt.Sprintf("must be within [0, 1], got %g", r.v)})
		}
	}
	for _, n := range []struct {
		name string
		v    int64
	}{{"ptu_tpm", c.PTUTPM}, {"default_max_tokens", c.DefaultMaxTokens}, {"first_token_delay", int64(c.FirstTokenDelay)},
		{"per_token_delay", int64(c.PerTokenDelay)}, {"per_token_delay_p95", int64(c.PerTokenDelayP95)},
		{"slow_first_byte", int64(c.SlowFirstByte)}} {
		if n.v < 0 {
			errs = append(errs, &FieldError{Field: n.name, Msg: "must be >= 0"})
		}
	}
	if c.PerTokenDelayP95 > 0 && c.PerTokenDelayP95 < c.PerTokenDelay {
		errs = append(errs, &FieldError{Field: "per_token_delay_p95", Msg: fmt.Sprintf("must be at least per_token_delay (%s), got %s", c.PerTokenDelay, c.PerTokenDelayP95)})
	}
	if c.ToolCallShare != nil && (*c.ToolCallShare < 0 || *c.ToolCallShare > 1) {
		errs = append(errs, &FieldError{Field: "tool_call_share", Msg: fmt.Sprintf("must be within [0, 1], got %g", *c.ToolCallShare)})
	}
	if c.PTUOutputRatio < 0 {
		errs = append(errs, &FieldError{Field: "ptu_output_ratio", Msg: "must be >= 0"})
	}
	return errors.Join(errs...)
}

// FieldError is a problem with one field of a Config.
type FieldError struct {
	Field, Msg string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func (c Config) withDefaults() Config {
	if c.DefaultMaxTokens <= 0 {
		c.DefaultMaxTokens = 256
	}
	if c.PTUOutputRatio <= 0 {
		c.PTUOutputRatio = 1
	}
	if c.MinFraction <= 0 || c.MinFraction > 1 {
		c.MinFraction = 0.6
	}
	if c.Clock == nil {
		c.Clock = policy.WallClock{}
	}
	if c.Sleep == nil {
		c.Sleep = sleepTimer
	}
	if cal := c.Calibrated; c.PTUTPM == 0 && cal != nil && len(cal.Deployments) == 1 {
		if u := cal.Deployments[0].Utilization; u != nil {
			c.PTUTPM = u.CapacityTPM
		}
	}
	return c
}

// toolCallShare is ToolCallShare, 1 when unset.
func (c Config) toolCallShare() float64 {
	if c.ToolCallShare == nil {
		return 1
	}
	return *c.ToolCallShare
}

// Usage is a tally of tokens served.
type Usage struct {
	Requests         int64 `json:"requests"`
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
}

// Server is the mock backend. Create it with New; it is an http.Handler.
type Server struct {
	cfg     Config
	counter *tokens.Counter
	mux     *http.ServeMux
	seq     atomic.Uint64

	mu       sync.Mutex
	rng      *rand.Rand
	served   map[string]Usage // by persona header value
	bucket   float64          // PTU leaky bucket level, tokens
	drained  time.Time        // when bucket was last drained
	throttle int64            // requests answered 429
	// text is Text(textWords), the longest reply cut so far (see reply).
	text        string
	textWords   int64
	replyCounts map[replyKey]int64
}

var _ http.Handler = (*Server)(nil)

// New returns a mock backend.
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:     cfg,
		counter: tokens.NewCounter(),
		mux:     http.NewServeMux(),
		rng:     rand.New(rand.NewPCG(cfg.Seed, 0x6d6f636b)),
		served:  map[string]Usage{},

		replyCounts: map[replyKey]int64{},
	}
	s.mux.HandleFunc("POST /v1/chat/completions", s.handleChat)
	s.mux.HandleFunc("POST /openai/deployments/{deployment}/chat/completions", s.handleChat)
	for _, p := range []string{"POST /v1/responses", "POST /openai/responses", "POST /openai/v1/responses"} {
		s.mux.HandleFunc(p, s.handleResponses)
	}
	s.mux.HandleFunc("POST /v1/completions", s.handleCompletions)
	s.mux.HandleFunc("POST /openai/deployments/{deployment}/completions", s.handleCompletions)
	s.mux.HandleFunc("POST /v1/embeddings", s.handleEmbeddings)
	s.mux.HandleFunc("POST /openai/deployments/{deployment}/embeddings", s.handleEmbeddings)
	s.mux.HandleFunc("GET /mock/stats", s.handleStats)
	return s
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Served returns the tokens served so far, by persona header value ("" when absent).
func (s *Server) Served() map[string]Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Usage, len(s.served))
	for k, v := range s.served {
		out[k] = v
	}
	return out
}

// Total returns the tokens served so far over every persona.
func (s *Server) Total() Usage {
	var t Usage
	for _, u := range s.Served() {
		t.Requests += u.Requests
		t.PromptTokens += u.PromptTokens
		t.CompletionTokens += u.CompletionTokens
		t.TotalTokens += u.TotalTokens
	}
	return t
}

func (s *Server) handleStats(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"total": s.Total(), "by_persona": s.Served(), "throttled": s.Throttled()})
}

func (s *Server) completionTokens(maxOut int64) int64 {
	s.mu.Lock()
	u := s.rng.Float64()
	s.mu.Unlock()
	lo := s.cfg.MinFraction * float64(maxOut)
	n := int64(lo + u*(float64(maxOut)-lo) + 0.5)
	return min(max(n, 1), maxOut)
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	if !checkAPIVersion(w, r, chat.OpChat) {
		return
	}
	var req chatRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20))
	if err := dec.Decode(&req); err != nil {
		chat.WriteError(w, http.StatusBadRequest, "invalid_request_error", "invalid_json", "parse request body: "+err.Error())
		return
	}
	model := req.Model
	if d := r.PathValue("deployment"); d != "" && model == "" {
		model = d
	}
	maxOut, given := req.MaxOutput()
	invalid := req.Validate()
	if invalid == nil {
		invalid = req.CheckMessages()
	}
	v := s.decide(r.Context(), request{model: model, maxOut: maxOut, given: given, invalid: invalid,
		prompt: func() (int64, error) { return s.counter.Prompt(model, req.Messages) }})
	if !s.writeVerdict(w, v) {
		return
	}
	var call *toolCall
	if t := s.pickTool(&req); t != nil {
		c := s.newToolCall(t, v.completion)
		call = &c
	}
	if req.Stream {
		includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage && !s.cfg.OmitStreamUsage
		var sent bool
		if call != nil {
			sent = s.streamToolCall(w, r, model, *call, v.prompt, v.completion, includeUsage)
		} else if v.plan != nil {
			sent = s.streamPlanned(w, r, model, v, includeUsage)
		} else {
			sent = s.stream(w, r, model, v.prompt, v.completion, includeUsage)
		}
		if sent {
			s.done(r.Header.Get(PersonaHeader), v)
		}
		return
	}
	if err := s.waitAnswer(r.Context(), v); err != nil {
		return // client went away
	}
	s.done(r.Header.Get(PersonaHeader), v)
	s.setUtilization(w.Header()) // as the answer leaves
	if call != nil {
		s.writeToolCall(w, model, *call, v.prompt, v.completion)
		return
	}
	s.writeCompletion(w, model, v.prompt, v.completion)
}

// writeVerdict answers a request the mock does not serve and reports
// whether it is to be served.
func (s *Server) writeVerdict(w http.ResponseWriter, v verdict) bool {
	s.setUtilization(w.Header())
	switch v.kind {
	case serve:
		return true
	case invalid:
		chat.WriteRequestError(w, v.err)
	case tokenizerFailed:
		chat.WriteError(w, http.StatusInternalServerError, "server_error", "tokenizer", v.err.Error())
	case throttled:
		w.Header().Set("retry-after-ms", strconv.FormatInt(v.retryMS, 10))
		w.Header().Set("Retry-After", strconv.FormatInt((v.retryMS+999)/1000, 10))
		chat.WriteError(w, http.StatusTooManyRequests, "rate_limit_error", "429", s.throttleMessage(v.retryMS))
	case failed:
		http.Error(w, `{"error":{"message":"`+failMessage+`","type":"server_error","code":"500"}}`, http.StatusInternalServerError)
	case reset:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				if tc, ok := conn.(interface{ SetLinger(int) error }); ok {
					_ = tc.SetLinger(0) // RST instead of FIN
				}
				_ = conn.Close()
				return false
			}
		}
		panic(http.ErrAbortHandler)
	}
	return false // gone: the caller gave up or the simulation stopped
}

func (s *Server) throttleMessage(ms int64) string {
	return fmt.Sprintf("Requests to the ChatCompletions_Create Operation have exceeded the provisioned capacity of %d tokens per minute. Please retry after %d milliseconds.", s.cfg.PTUTPM, ms)
}

// failMessage is the message of an injected 500.
const failMessage = "The server had an error while processing your request."

// request is what the mock reads of a chat request, however it came.
type request struct {
	model   string
	maxOut  int64
	given   bool  // the request set maxOut
	invalid error // of the request's validation
	prompt  func() (int64, error)
}

// verdictKind is how the mock answers a request.
type verdictKind int

const (
	serve           verdictKind = iota
	invalid                     // 400
	tokenizerFailed             // 500
	throttled                   // 429: over the PTU ceiling
	failed                      // 500: an injected fault
	reset                       // the connection is reset
	gone                        // the caller gave up (or the simulation stopped) while the mock waited
)

// verdict is the mock's decision on a request.
type verdict struct {
	kind               verdictKind
	err                error
	retryMS            int64 // throttled: the retry-after-ms advice
	prompt, completion int64 // serve: the usage to answer with
	// overcharge is what the PTU bucket was charged above the answer's
	// actual cost: (max_tokens − completion) × PTUOutputRatio.
	overcharge float64
	// plan paces a calibrated answer (nil: the configured delays).
	plan *calPlan
}

// decide runs a request through validation, the prompt count, the PTU
// ceiling and the injected faults, in that order, and draws the
// completion's length when it is to be served. The HTTP handler and Call
// both decide here.
func (s *Server) decide(ctx context.Context, req request) verdict {
	if req.invalid != nil {
		return verdict{kind: invalid, err: req.invalid}
	}
	prompt, err := req.prompt()
	if err != nil {
		return verdict{kind: tokenizerFailed, err: err}
	}
	maxOut := req.maxOut
	if !req.given {
		maxOut = s.cfg.DefaultMaxTokens
	}
	if wait, ok := s.admitPTU(float64(prompt) + s.cfg.PTUOutputRatio*float64(maxOut)); !ok {
		return verdict{kind: throttled, retryMS: max(wait.Milliseconds(), 1)}
	}
	if k := s.fault(ctx); k != serve {
		return verdict{kind: k}
	}
	cal := s.cfg.Calibrated.Deployment(req.model)
	completion, plan := s.calibrated(cal, prompt, maxOut)
	if cal == nil {
		completion = s.completionTokens(maxOut)
	}
	v := verdict{kind: serve, prompt: prompt, completion: completion, plan: plan}
	if s.cfg.PTUTPM > 0 {
		v.overcharge = s.cfg.PTUOutputRatio * float64(maxOut-completion)
	}
	return v
}

// wait sleeps for the modelled latency: first-token delay + per-token
// delay, drawn chunk by chunk as a stream would be sent.
func (s *Server) wait(ctx context.Context, completion int64) error {
	return s.sleep(ctx, s.cfg.FirstTokenDelay+s.generation(completion))
}

// waitAnswer sleeps for a served request's latency: a calibrated
// answer's whole plan, else wait's.
func (s *Server) waitAnswer(ctx context.Context, v verdict) error {
	if v.plan != nil {
		return s.sleep(ctx, v.plan.total())
	}
	return s.wait(ctx, v.completion)
}

// done settles an answered request: the PTU bucket's estimate is
// corrected to the actual cost, and the tokens are tallied.
func (s *Server) done(persona string, v verdict) {
	s.settlePTU(v.overcharge)
	s.tally(persona, v.prompt, v.completion)
}

func (s *Server) tally(persona string, prompt, completion int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.served[persona]
	u.Requests++
	u.PromptTokens += prompt
	u.CompletionTokens += completion
	u.TotalTokens += prompt + completion
	s.served[persona] = u
}

func (s *Server) writeCompletion(w http.ResponseWriter, model string, prompt, completion int64) {
	resp := chat.Response{
		ID:      fmt.Sprintf("chatcmpl-mock-%d", s.seq.Add(1)),
		Object:  "chat.completion",
		Created: s.cfg.Clock.Now().Unix(),
		Model:   model,
		Choices: []chat.Choice{{
			Message:      chat.Message{Role: "assistant", Content: mustJSON(Text(completion))},
			FinishReason: "stop",
		}},
		Usage: &chat.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion},
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// Text returns n words of filler text (about n tokens).
func Text(n int64) string { return replyWords.Text(n) }

func mustJSON(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}
