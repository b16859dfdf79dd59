package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// seen is one request as a scripted target received it.
type seen struct {
	at       time.Time
	remoteIP string
	headers  http.Header
	messages []message
	maxTok   int64
}

// scripted is a chat completions endpoint whose answer to the n-th
// request (from 1) is decided by answer; it records every request.
type scripted struct {
	mu     sync.Mutex
	seen   []seen
	n      atomic.Int64
	answer func(n int64, s seen) (status int, retryAfter string)
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Messages  []message `json:"messages"`
		MaxTokens int64     `json:"max_tokens"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	sn := seen{at: time.Now(), remoteIP: ip, headers: r.Header.Clone(), messages: body.Messages, maxTok: body.MaxTokens}
	s.mu.Lock()
	s.seen = append(s.seen, sn)
	s.mu.Unlock()
	status, ra := http.StatusOK, ""
	if s.answer != nil {
		status, ra = s.answer(s.n.Add(1), sn)
	}
	if status != http.StatusOK {
		if ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"error":{"code":"429","message":"rate limited"}}`))
		return
	}
	var prompt int64
	for _, m := range body.Messages {
		prompt += int64(len(strings.Fields(m.Content)))
	}
	completion := max(body.MaxTokens/2, 1)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"choices": []any{map[string]any{"message": map[string]any{"role": "assistant", "content": PromptText(completion)}}},
		"usage":   map[string]any{"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
	})
}

func (s *scripted) requests() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.seen...)
}

// start serves h on loopback for the test.
func start(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// persona returns a valid persona of kind with defaults applied after mod.
func persona(kind string, mod func(p *Persona)) Persona {
	p := Persona{Name: kind + "-p", Kind: kind, Team: "t", Subscription: "s1", Keys: []SubKey{{ID: "s1", Key: "k1"}},
		Rate: 1, PromptTokens: Dist{Kind: DistFixed, Value: 20}, CompletionTokens: Dist{Kind: DistFixed, Value: 10}}
	if mod != nil {
		mod(&p)
	}
	p.Defaults()
	return p
}

// run runs the personas against url and fails the test on error.
func run(t *testing.T, url string, d time.Duration, ps ...Persona) *Result {
	t.Helper()
	for i := range ps {
		if errs := ps[i].Validate(fmt.Sprintf("personas[%d]", i)); len(errs) > 0 {
			t.Fatalf("persona %s: %v", ps[i].Name, errs)
		}
	}
	res, err := Run(context.Background(), Options{Scenario: "test", Duration: d, Seed: 1, Model: "m",
		Target: Target{URL: url}, Personas: ps, Drain: 10 * time.Second})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func t0() context.Context { return context.Background() }

// TestShardsSplitUsers runs the same personas as one machine and as two
// shards: the shards together send exactly the users' requests the single
// run sends, each user on one shard only.
func TestShardsSplitUsers(t *testing.T) {
	t.Parallel()
	users := func(sh Shard) map[string]int {
		srv := &scripted{}
		url := start(t, srv)
		p := persona(KindChat, func(p *Persona) { p.Count, p.Rate, p.Arrival, p.UserHeader = 6, 5, ArrivalConstant, "x-user-id" })
		// 1.1 s: the constant arrivals (every 200 ms) stay 100 ms clear of the
		// end of the run, so a busy machine cannot move one across it
		_, err := runOpts(Options{Scenario: "s", Duration: 1100 * time.Millisecond, Seed: 1, Model: "m", Target: Target{URL: url}, Personas: []Persona{p}, Shard: sh})
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		for _, r := range srv.requests() {
			n[r.headers.Get("x-user-id")]++
		}
		return n
	}
	all, a, b := users(Shard{}), users(Shard{Index: 0, Count: 2}), users(Shard{Index: 1, Count: 2})
	if len(all) != 6 || len(a) != 3 || len(b) != 3 {
		t.Fatalf("users: single run %v, shard 1/2 %v, shard 2/2 %v", all, a, b)
	}
	for u, n := range all {
		if a[u]+b[u] != n || (a[u] > 0 && b[u] > 0) {
			t.Errorf("user %s: %d requests alone, %d + %d in shards", u, n, a[u], b[u])
		}
	}
}

func TestParseShard(t *testing.T) {
	t.Parallel()
	if s, err := ParseShard("2/4"); err != nil || s != (Shard{Index: 1, Count: 4}) {
		t.Fatalf("ParseShard(2/4) = %v, %v", s, err)
	}
	for _, bad := range []string{"0/4", "5/4", "x", "1/0", "2"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q) accepted", bad)
		}
	}
}

func TestEndpoint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		t    Target
		want string
	}{
		{Target{URL: "http://h:1", API: "openai"}, "http://h:1/v1/chat/completions"},
		{Target{URL: "https://api.openai.com/v1/", API: "openai"}, "https://api.openai.com/v1/chat/completions"}, // base with /v1
		{Target{URL: "https://x.azure-api.net", API: "azure", APIVersion: "2024-10-21"}, "https://x.azure-api.net/openai/deployments/gpt%2F4o/chat/completions?api-version=2024-10-21"},
		{Target{URL: "https://x.openai.azure.com/openai", API: "azure", APIVersion: "v"}, "https://x.openai.azure.com/openai/deployments/gpt%2F4o/chat/completions?api-version=v"}, // base with /openai
	} {
		if got := tc.t.opEndpoint("gpt/4o", "chat"); got != tc.want {
			t.Errorf("%+v: got %s, want %s", tc.t, got, tc.want)
		}
	}
}
