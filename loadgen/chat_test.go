package loadgen

import (
	"net/http"

	"sync/atomic"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway/mockllm"
)

// TestChatConversationsGrowWithHistory runs 3-turn conversations and checks
// what the server received: the history grows turn by turn with the
// previous answers, and every request names scenario, persona, attempt,
// its user and a key from the subscription pool.
func TestChatConversationsGrowWithHistory(t *testing.T) {
	t.Parallel()
	srv := &scripted{}
	url := start(t, srv)
	p := persona(KindChat, func(p *Persona) {
		p.Count, p.Rate = 2, 2
		p.Turns = Dist{Kind: DistFixed, Value: 3}
		p.ThinkTime = Dist{Kind: DistFixed, Value: 0.05}
		p.UserHeader = "x-user-id"
		p.Subscription, p.Subscriptions = "", []string{"s1", "s2"}
		p.Keys = []SubKey{{ID: "s1", Key: "k1"}, {ID: "s2", Key: "k2"}}
	})
	res := run(t, url, 2*time.Second, p)
	lengths := map[int]int{}
	users := map[string]string{}
	for _, s := range srv.requests() {
		lengths[len(s.messages)]++
		h := s.headers
		if h.Get(HeaderScenario) != "test" || h.Get(HeaderPersona) != "chat-p" || h.Get(HeaderAttempt) != "1" {
			t.Fatalf("request headers %v: want scenario test, persona chat-p, attempt 1", h)
		}
		user, key := h.Get("x-user-id"), h.Get("Ocp-Apim-Subscription-Key")
		if prev, ok := users[user]; ok && prev != key {
			t.Fatalf("user %s used keys %s and %s; a user keeps its pool entry", user, prev, key)
		}
		users[user] = key
		if n := len(s.messages); n > 1 && s.messages[n-1].Role != "user" {
			t.Fatalf("last message role %q, want user", s.messages[n-1].Role)
		}
		if n := len(s.messages); n >= 4 && s.messages[2].Role != "assistant" {
			t.Fatalf("turn 2 history %v: want the first answer as message 2", s.messages)
		}
	}
	// system+user, then +assistant+user per turn
	if lengths[2] == 0 || lengths[4] == 0 || lengths[6] == 0 || len(lengths) != 3 {
		t.Fatalf("message counts per request %v: want turns of 2, 4 and 6 messages", lengths)
	}
	if users["chat-p-0"] != "k1" || users["chat-p-1"] != "k2" {
		t.Fatalf("users → keys %v: want chat-p-0→k1, chat-p-1→k2", users)
	}
	if len(res.Subscriptions) != 2 || res.Subscriptions[0].OK+res.Subscriptions[1].OK != res.Personas[0].OK {
		t.Fatalf("per-subscription stats %+v do not add up to the persona's %d ok", res.Subscriptions, res.Personas[0].OK)
	}
}

// TestOpenLoopHoldsRate schedules 500 req/s (10 users × 50/s, evenly
// spaced) for 2 s and checks the number sent is within 2 % of the 1000
// intended, whatever the scheduler's wall-clock jitter.
func TestOpenLoopHoldsRate(t *testing.T) {
	t.Parallel()
	srv := &scripted{}
	url := start(t, srv)
	p := persona(KindChat, func(p *Persona) { p.Count, p.Rate, p.Arrival = 10, 50, ArrivalConstant })
	res := run(t, url, 2*time.Second, p)
	got := res.Personas[0].Sent
	if got < 980 || got > 1020 {
		t.Fatalf("sent %d requests at 500/s for 2 s; want 1000 ±2%%", got)
	}
	if res.Personas[0].OK != got {
		t.Fatalf("%d of %d requests ok", res.Personas[0].OK, got)
	}
}

// stallOnce wraps a handler so that the request arriving after `after`
// requests is held for d before being served: the server stalls.
type stallOnce struct {
	h     http.Handler
	after int64
	d     time.Duration
	n     atomic.Int64
}

func (s *stallOnce) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.n.Add(1) == s.after {
		time.Sleep(s.d)
	}
	s.h.ServeHTTP(w, r)
}

// TestCoordinatedOmissionCorrection stalls the mock backend for 1 s while
// a caller with one connection sends 100 req/s. Measured from the actual
// send, only the stalled request is slow; measured from the intended send
// time, the ~100 requests queued behind it are slow too, and p99 shows it.
func TestCoordinatedOmissionCorrection(t *testing.T) {
	t.Parallel()
	mock := mockllm.New(mockllm.Config{Seed: 1})
	url := start(t, &stallOnce{h: mock, after: 100, d: time.Second})
	p := persona(KindChat, func(p *Persona) { p.Rate, p.Arrival = 100, ArrivalConstant })
	res, err := runOpts(Options{Scenario: "co", Duration: 3 * time.Second, Seed: 1, Model: "gpt-4o-mini",
		Target: Target{URL: url, API: "openai", MaxConnections: 1}, Personas: []Persona{p}})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Personas[0]
	if s.OK < 250 {
		t.Fatalf("only %d ok of %d sent", s.OK, s.Sent)
	}
	if s.Latency.Max < 1000 {
		t.Fatalf("max latency %.0f ms: the 1 s stall was not seen", s.Latency.Max)
	}
	if s.Latency.P99 > 500 || s.LatencyCorrected.P99 < 500 || s.LatencyCorrected.P99 < 2*s.Latency.P99 {
		t.Fatalf("p99 from actual send %.1f ms, from intended send %.1f ms: want the corrected p99 ≥ 500 ms and well above the uncorrected",
			s.Latency.P99, s.LatencyCorrected.P99)
	}
	if s.LateStarts < 50 {
		t.Fatalf("%d late starts; the requests queued behind the stall started late", s.LateStarts)
	}
}

func runOpts(o Options) (*Result, error) {
	o.Drain = 10 * time.Second
	return Run(t0(), o)
}

// TestStreamingTTFT streams from the mock (100 ms to the first token, then
// 5 ms a token, 40 tokens): TTFT is the first content token, well before
// the end, and the usage chunk gives the token counts.
func TestStreamingTTFT(t *testing.T) {
	t.Parallel()
	mock := mockllm.New(mockllm.Config{Seed: 1, FirstTokenDelay: 100 * time.Millisecond, PerTokenDelay: 5 * time.Millisecond, MinFraction: 1})
	url := start(t, mock)
	p := persona(KindChat, func(p *Persona) {
		p.Rate, p.Stream = 5, true
		p.CompletionTokens = Dist{Kind: DistFixed, Value: 40}
	})
	res, err := runOpts(Options{Scenario: "stream", Duration: 2 * time.Second, Seed: 1, Model: "gpt-4o-mini",
		Target: Target{URL: url, API: "openai"}, Personas: []Persona{p}})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Personas[0]
	if s.OK == 0 || s.CompletionTokens != 40*s.OK || s.PromptTokens == 0 {
		t.Fatalf("%d ok, %d completion and %d prompt tokens; want 40 completion tokens each, from the usage chunk", s.OK, s.CompletionTokens, s.PromptTokens)
	}
	if s.TTFT.P50 < 130 || s.Latency.P50 < 290 || s.Latency.P50-s.TTFT.P50 < 120 {
		t.Fatalf("TTFT p50 %.0f ms, latency p50 %.0f ms; want ≈140 (first 8-token chunk) and ≈300", s.TTFT.P50, s.Latency.P50)
	}
	if s.OutputTokensPerSec < 50 || s.OutputTokensPerSec > 260 {
		t.Fatalf("output %.0f tokens/s after the first token; want about 200 (5 ms a token), at most 1000/5·(40/32)", s.OutputTokensPerSec)
	}
}

// TestFillerCutFromOneText: filler prompts cut from the run's long text are
// PromptText's, at every length, as the text grows.
func TestFillerCutFromOneText(t *testing.T) {
	t.Parallel()
	tx := &texts{}
	for _, n := range []int64{0, 1, 9, 10, 11, 333, 5000, 12, 9001, 2} {
		if got, want := tx.prompt(n), PromptText(n); got != want {
			t.Fatalf("prompt(%d) = %d bytes, PromptText = %d bytes", n, len(got), len(want))
		}
	}
}
