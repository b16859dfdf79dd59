package gateway_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/record"
)

// cacheConfig is a gateway with a semantic cache on product p; extra goes
// into the cache's block.
func cacheConfig(tpm int, extra string) string {
	return `
products:
  - name: p
    token_limits: [{tokens_per_minute: ` + itoa(int64(tpm)) + `}]
    semantic_cache: {score_threshold: 0.2, embeddings_backend_id: emb, duration: 60s` + extra + `}
subscriptions:
  - {id: s1, key: cache-key-1, product: p, team: alpha}
  - {id: s2, key: cache-key-2, product: p, team: beta}
backends:
  - {name: chat, deployments: [gpt-4o-mini]}
  - {name: emb, deployments: [text-embedding-3-small]}
`
}

const (
	question   = "please summarise the quarterly sales report for the northern region and list the three largest accounts by revenue growth"
	paraphrase = "please summarise the quarterly sales report for the southern region and list the three biggest accounts by revenue growth"
	unrelated  = "write a haiku about autumn leaves falling on a quiet pond in the early morning light"
)

func askBody(msgs ...string) string {
	var ms []map[string]string
	for i, m := range msgs {
		role := "user"
		if i < len(msgs)-1 && strings.HasPrefix(m, "SYSTEM ") {
			role, m = "system", strings.TrimPrefix(m, "SYSTEM ")
		}
		ms = append(ms, map[string]string{"role": role, "content": m})
	}
	b, _ := json.Marshal(map[string]any{"model": "gpt-4o-mini", "max_tokens": 50, "messages": ms})
	return string(b)
}

// ask posts a chat request as persona "chat": the mock tallies the model
// calls and the cache's embeddings calls made for it under that persona.
func ask(t *testing.T, e *env, key string, msgs ...string) answer {
	t.Helper()
	return post(t, e.url, chatPath, key, askBody(msgs...), map[string]string{"X-Aiload-Persona": "chat"})
}

// TestSemanticCacheHits: a repeated or paraphrased prompt is answered from
// the cache with the first answer's bytes and no model call; an unrelated
// one goes to the model; every lookup's embeddings call is recorded; a hit
// is recorded as cache_hit with the cached usage and no model tokens.
func TestSemanticCacheHits(t *testing.T) {
	t.Parallel()
	mock, url := serveMock(t, mockllm.Config{MinFraction: 1})
	e := start(t, cacheConfig(100000, ""), url, nil)
	first := ask(t, e, "cache-key-1", question)
	if first.status != 200 {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	miss := e.sink.last(t)
	if miss.Outcome != record.OutcomeOK || miss.EmbeddingModel != "text-embedding-3-small" || miss.EmbeddingTokens < 20 || miss.CompletionTokens != 50 {
		t.Fatalf("miss record %+v", miss)
	}
	for _, c := range []struct {
		name, prompt string
		hit          bool
	}{
		{"verbatim", question, true},
		{"two words changed", paraphrase, true},
		{"unrelated", unrelated, false},
		{"unrelated again", unrelated, true},
	} {
		before := mock.Served()["chat"]
		a := ask(t, e, "cache-key-1", c.prompt)
		r := e.sink.last(t)
		after := mock.Served()["chat"]
		// one embeddings call for the lookup, tagged with the caller's persona
		called := after.Requests - before.Requests - 1
		if got := after.PromptTokens - before.PromptTokens; got != r.EmbeddingTokens+r.PromptTokens {
			t.Errorf("%s: the mock served persona chat %d prompt tokens, want the record's %d embedding + %d prompt tokens",
				c.name, got, r.EmbeddingTokens, r.PromptTokens)
		}
		if a.status != 200 || (r.Outcome == record.OutcomeCacheHit) != c.hit || (called == 0) != c.hit {
			t.Errorf("%s: status %d outcome %s, %d model calls; want hit %v", c.name, a.status, r.Outcome, called, c.hit)
			continue
		}
		if r.EmbeddingTokens == 0 || r.EmbeddingModel == "" {
			t.Errorf("%s: no embeddings call recorded: %+v", c.name, r)
		}
		if c.hit && c.prompt == question {
			if !bytes.Equal(a.body, first.body) {
				t.Errorf("%s: body %s, want the first answer's %s", c.name, a.body, first.body)
			}
			if r.CachePromptTokens != miss.PromptTokens || r.CacheCompletionTokens != 50 || r.PromptTokens != 0 ||
				r.CompletionTokens != 0 || r.TotalTokens != 0 || r.Backend != "" || r.Status != 200 {
				t.Errorf("%s: hit record %+v", c.name, r)
			}
		}
	}
}

// TestSemanticCacheVaryByAndExpiry: vary-by keeps subscriptions apart; a
// stored answer is served until its duration has passed.
func TestSemanticCacheVaryByAndExpiry(t *testing.T) {
	t.Parallel()
	_, url := serveMock(t, mockllm.Config{})
	e := start(t, cacheConfig(100000, ", vary_by: ['@(context.Subscription.Id)']"), url, nil)
	outcome := func(key string) record.Outcome {
		t.Helper()
		if a := ask(t, e, key, question); a.status != 200 {
			t.Fatalf("%d %s", a.status, a.body)
		}
		return e.sink.last(t).Outcome
	}
	steps := []struct {
		name    string
		advance time.Duration
		key     string
		want    record.Outcome
	}{
		{"s1 first", 0, "cache-key-1", record.OutcomeOK},
		{"s1 again", 0, "cache-key-1", record.OutcomeCacheHit},
		{"s2: another partition", 0, "cache-key-2", record.OutcomeOK},
		{"s2 again", 0, "cache-key-2", record.OutcomeCacheHit},
		{"s1 59 s later", 59 * time.Second, "cache-key-1", record.OutcomeCacheHit},
		{"s1 60 s later: expired, stored anew", time.Second, "cache-key-1", record.OutcomeOK},
		{"s1 after the new store", 0, "cache-key-1", record.OutcomeCacheHit},
	}
	for _, s := range steps {
		e.clock.Advance(s.advance)
		if got := outcome(s.key); got != s.want {
			t.Errorf("%s: %s, want %s", s.name, got, s.want)
		}
	}
}

// TestSemanticCacheMessages: ignore-system-messages compares the dialogue
// alone; max-message-count skips the cache (no embeddings call) for longer
// conversations; a stream is looked up too (here a hit).
func TestSemanticCacheMessages(t *testing.T) {
	t.Parallel()
	_, url := serveMock(t, mockllm.Config{})
	e := start(t, cacheConfig(100000, ", ignore_system_messages: true, max_message_count: 2"), url, nil)
	ask(t, e, "cache-key-1", "SYSTEM You are a helpful sales analyst.", question)
	ask(t, e, "cache-key-1", "SYSTEM Answer in French, in one sentence, with no lists at all.", question)
	if r := e.sink.last(t); r.Outcome != record.OutcomeCacheHit {
		t.Errorf("another system message: %s, want cache_hit", r.Outcome)
	}
	ask(t, e, "cache-key-1", question, "and the western region", "and the eastern one")
	if r := e.sink.last(t); r.Outcome != record.OutcomeOK || r.EmbeddingTokens != 0 {
		t.Errorf("3 messages over max_message_count 2: %s with %d embedding tokens, want ok without a lookup", r.Outcome, r.EmbeddingTokens)
	}
	b := strings.Replace(askBody(question), `"max_tokens"`, `"stream":true,"max_tokens"`, 1)
	if a := post(t, e.url, chatPath, "cache-key-1", b, nil); a.status != 200 {
		t.Fatalf("stream: %d", a.status)
	}
	if r := records(t, e, 4)[3]; r.Outcome != record.OutcomeCacheHit || r.EmbeddingTokens == 0 || !r.Stream {
		t.Errorf("stream: %s with %d embedding tokens, stream %v; want a streamed cache hit", r.Outcome, r.EmbeddingTokens, r.Stream)
	}
}

// TestSemanticCachePosition: before the limit a hit is answered even when
// the window is full and never counts; after the limit a hit counts the
// cached answer's tokens, and a full window refuses the prompt before the
// cache is asked.
func TestSemanticCachePosition(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		position string
		// outcomes of: the miss, then two repeats, then a repeat after the
		// window filled
		want []record.Outcome
	}{
		{"before_limit", []record.Outcome{record.OutcomeOK, record.OutcomeCacheHit, record.OutcomeCacheHit, record.OutcomeCacheHit}},
		{"after_limit", []record.Outcome{record.OutcomeOK, record.OutcomeCacheHit, record.OutcomeCacheHit, record.OutcomeThrottled}},
	} {
		t.Run(c.position, func(t *testing.T) {
			t.Parallel()
			_, url := serveMock(t, mockllm.Config{MinFraction: 1})
			// question is 26 prompt tokens + 50 completion: 76 a call
			e := start(t, cacheConfig(400, ", position: "+c.position), url, nil)
			var got []record.Outcome
			var remaining []int64
			for range 3 {
				ask(t, e, "cache-key-1", question)
				r := e.sink.last(t)
				got, remaining = append(got, r.Outcome), append(remaining, r.RemainingTokens)
			}
			// fill the window with uncached prompts
			for i := 0; i < 10; i++ {
				if a := ask(t, e, "cache-key-1", unrelated+" "+strings.Repeat("again ", i*5)); a.status == http.StatusTooManyRequests {
					break
				}
			}
			a := ask(t, e, "cache-key-1", question)
			got = append(got, e.sink.last(t).Outcome)
			for i := range c.want {
				if got[i] != c.want[i] {
					t.Fatalf("outcomes %v, want %v", got, c.want)
				}
			}
			if c.position == "after_limit" {
				if remaining[1] >= remaining[0] || remaining[2] >= remaining[1] {
					t.Errorf("remaining tokens %v: hits after the limit must count", remaining)
				}
				if a.status != 429 {
					t.Errorf("full window: %d, want 429", a.status)
				}
			} else if a.status != 200 {
				t.Errorf("full window, before the limit: %d, want 200 from the cache", a.status)
			}
		})
	}
}

// TestSemanticCacheConfigErrors: each attribute's problem is named by its
// path.
func TestSemanticCacheConfigErrors(t *testing.T) {
	t.Parallel()
	cfg := strings.Replace(cacheConfig(100, ""), "{score_threshold: 0.2, embeddings_backend_id: emb, duration: 60s}",
		"{score_threshold: 1.5, embeddings_backend_id: nope, embeddings_backend_auth: user-assigned, max_message_count: -1, position: middle, vary_by: ['@(context.Nonsense)']}", 1)
	err := newGateway(t, cfg)
	for _, want := range []string{
		"gateway.products[0].semantic_cache.score_threshold: must be within [0, 1], got 1.5",
		`gateway.products[0].semantic_cache.embeddings_backend_id: no backend is named "nope"`,
		"gateway.products[0].semantic_cache.embeddings_backend_auth: must be system-assigned",
		"gateway.products[0].semantic_cache.max_message_count: must be >= 0",
		"gateway.products[0].semantic_cache.duration: is required",
		"gateway.products[0].semantic_cache.position: must be before_limit or after_limit",
		"gateway.products[0].semantic_cache.vary_by[0]:",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nwant it to contain %q", err, want)
		}
	}
}

// newGateway builds a gateway from cfgYAML and returns its error.
func newGateway(t *testing.T, cfgYAML string) error {
	t.Helper()
	var cfg gateway.Config
	if err := yaml.UnmarshalWithOptions([]byte(cfgYAML), &cfg, yaml.Strict()); err != nil {
		t.Fatalf("config: %v", err)
	}
	_, err := gateway.New(cfg, "http://127.0.0.1:9", gateway.Options{Sink: &sink{}})
	return err
}
