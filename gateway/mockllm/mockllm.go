// Package mockllm is aiload's built-in LLM backend: an OpenAI- and
// Azure-OpenAI-compatible chat completions server that answers with
// synthetic text, a correct usage block and a realistic latency, so a load
// test needs no paid capacity.
//
// Routes:
//
//	POST /v1/chat/completions                                  (OpenAI)
//	POST /openai/deployments/{deployment}/chat/completions     (Azure, ?api-version=…)
//	GET  /mock/stats                                           (tokens served, JSON)
package mockllm

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aiload/aiload/gateway/chat"
	"github.com/aiload/aiload/gateway/tokens"
)

// PersonaHeader is the request header whose value the mock tallies served
// tokens by (the load generator sets it; gateways pass it through).
const PersonaHeader = "X-Aiload-Persona"

// Config shapes the mock's answers. Zero values take the documented defaults.
type Config struct {
	// Seed makes completion lengths reproducible for a given request order.
	Seed uint64
	// FirstTokenDelay is the time to first token (default 0).
	FirstTokenDelay time.Duration
	// PerTokenDelay is added per completion token (default 0).
	PerTokenDelay time.Duration
	// DefaultMaxTokens caps completions of requests without max_tokens (default 256).
	DefaultMaxTokens int64
	// MinFraction is the smallest share of max_tokens a completion uses; a
	// completion has uniform length in [MinFraction·max, max] (default 0.6; 1 = always max).
	MinFraction float64
}

func (c Config) withDefaults() Config {
	if c.DefaultMaxTokens <= 0 {
		c.DefaultMaxTokens = 256
	}
	if c.MinFraction <= 0 || c.MinFraction > 1 {
		c.MinFraction = 0.6
	}
	return c
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

	mu     sync.Mutex
	rng    *rand.Rand
	served map[string]Usage // by persona header value
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
	}
	s.mux.HandleFunc("POST /v1/chat/completions", s.handleChat)
	s.mux.HandleFunc("POST /openai/deployments/{deployment}/chat/completions", s.handleChat)
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
	_ = json.NewEncoder(w).Encode(map[string]any{"total": s.Total(), "by_persona": s.Served()})
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
	var req chat.Request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20))
	if err := dec.Decode(&req); err != nil {
		chat.WriteError(w, http.StatusBadRequest, "invalid_request_error", "invalid_json", "parse request body: "+err.Error())
		return
	}
	if err := req.Validate(); err != nil {
		chat.WriteError(w, http.StatusBadRequest, "invalid_request_error", "invalid_request", err.Error())
		return
	}
	model := req.Model
	if d := r.PathValue("deployment"); d != "" && model == "" {
		model = d
	}
	prompt, err := s.counter.Prompt(model, req.Messages)
	if err != nil {
		chat.WriteError(w, http.StatusInternalServerError, "server_error", "tokenizer", err.Error())
		return
	}
	maxOut, ok := req.MaxOutput()
	if !ok {
		maxOut = s.cfg.DefaultMaxTokens
	}
	completion := s.completionTokens(maxOut)
	if err := s.wait(r, completion); err != nil {
		return // client went away
	}
	s.tally(r.Header.Get(PersonaHeader), prompt, completion)
	s.writeCompletion(w, model, prompt, completion)
}

// wait sleeps for the modelled latency: first-token delay + per-token delay.
func (s *Server) wait(r *http.Request, completion int64) error {
	d := s.cfg.FirstTokenDelay + time.Duration(completion)*s.cfg.PerTokenDelay
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-r.Context().Done():
		return r.Context().Err()
	}
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
		Created: time.Now().Unix(),
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
func Text(n int64) string {
	var b strings.Builder
	words := [...]string{"the", "model", "answers", "with", "synthetic", "tokens", "for", "load"}
	for i := int64(0); i < n; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[i%int64(len(words))])
	}
	return b.String()
}

func mustJSON(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}
