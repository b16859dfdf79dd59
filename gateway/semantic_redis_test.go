package gateway_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/gateway/policy/policytest"
	"github.com/aiload/aiload/gateway/store/redisstore/redistest"
	"github.com/aiload/aiload/record"
)

// TestSemanticCacheRedisShared: two gateways whose config names the same
// Redis share one semantic cache. The second answers from the cache what
// the first stored, with the first's bytes and no model call; the entry
// expires on the gateways' (here fake) clock, not Redis's; while Redis is
// down lookups are skipped and requests reach the model.
func TestSemanticCacheRedisShared(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	mock, url := serveMock(t, mockllm.Config{MinFraction: 1})
	cfg := cacheConfig(100000, "") + `
semantic_cache: {store: redis, redis: {url: "redis://` + rs.Addr + `/0", prefix: "shared:"}}
`
	clock := policytest.NewFakeClock(t0)
	gw1, gw2 := startClock(t, clock, cfg, url, nil), startClock(t, clock, cfg, url, nil)
	t.Cleanup(func() { _ = gw1.gw.Shutdown(context.Background()); _ = gw2.gw.Shutdown(context.Background()) })

	modelCalls := func() int64 { return mock.Served()["chat"].Requests }
	first := ask(t, gw1, "cache-key-1", question)
	stored := gw1.sink.last(t)
	if first.status != 200 || stored.Outcome != record.OutcomeOK {
		t.Fatalf("first instance: %d %s, outcome %s", first.status, first.body, stored.Outcome)
	}
	before := modelCalls()
	second := ask(t, gw2, "cache-key-2", question)
	hit := gw2.sink.last(t)
	if second.status != 200 || hit.Outcome != record.OutcomeCacheHit || !bytes.Equal(second.body, first.body) {
		t.Fatalf("second instance: %d outcome %s body %s; want a cache hit with the first's body %s", second.status, hit.Outcome, second.body, first.body)
	}
	if hit.CachePromptTokens != stored.PromptTokens || hit.CacheCompletionTokens != stored.CompletionTokens || hit.TotalTokens != 0 {
		t.Errorf("hit record: cached %d + %d tokens, total %d; want the first answer's %d + %d and no model tokens",
			hit.CachePromptTokens, hit.CacheCompletionTokens, hit.TotalTokens, stored.PromptTokens, stored.CompletionTokens)
	}
	if called := modelCalls() - before - 1; called != 0 { // one embeddings call for the lookup
		t.Errorf("the hit called the model %d times", called)
	}
	if a := ask(t, gw2, "cache-key-1", paraphrase); a.status != 200 || gw2.sink.last(t).Outcome != record.OutcomeCacheHit {
		t.Errorf("paraphrase on the second instance: %d %s, want a cache hit", a.status, gw2.sink.last(t).Outcome)
	}

	// 60 s on the gateways' clock: expired (Redis keeps the key for minutes
	// of real time, the lookup compares the gateways' now)
	clock.Advance(60 * time.Second)
	if a := ask(t, gw2, "cache-key-1", question); a.status != 200 || gw2.sink.last(t).Outcome != record.OutcomeOK {
		t.Errorf("after the duration: %d %s, want ok from the model", a.status, gw2.sink.last(t).Outcome)
	}
	if a := ask(t, gw1, "cache-key-1", question); a.status != 200 || gw1.sink.last(t).Outcome != record.OutcomeCacheHit {
		t.Errorf("the first instance after the second stored anew: %s, want cache_hit", gw1.sink.last(t).Outcome)
	}

	rs.Stop()
	before = modelCalls()
	if a := ask(t, gw1, "cache-key-1", question); a.status != 200 || gw1.sink.last(t).Outcome != record.OutcomeOK || modelCalls() == before {
		t.Errorf("with Redis down: %d %s, want the model's 200", a.status, gw1.sink.last(t).Outcome)
	}
}

// TestSemanticCacheRedisPassword: a Redis that requires a password is
// reached with password_file; a password in the URL works too and is
// warned about by gateway check, without the password in the warning.
func TestSemanticCacheRedisPassword(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	if err := rdb.ConfigSet(context.Background(), "requirepass", "s3cret-pw").Err(); err != nil {
		t.Fatal(err)
	}
	_ = rdb.Close()
	_, url := serveMock(t, mockllm.Config{})
	pw := filepath.Join(t.TempDir(), "redis-password")
	if err := os.WriteFile(pw, []byte("s3cret-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := start(t, cacheConfig(100000, "")+`
semantic_cache: {store: redis, redis: {url: "redis://`+rs.Addr+`/0", password_file: `+pw+`}}
`, url, nil)
	t.Cleanup(func() { _ = e.gw.Shutdown(context.Background()) })
	for i, want := range []record.Outcome{record.OutcomeOK, record.OutcomeCacheHit} {
		if a := ask(t, e, "cache-key-1", question); a.status != 200 || e.sink.last(t).Outcome != want {
			t.Fatalf("request %d: %d %s, want %s", i, a.status, e.sink.last(t).Outcome, want)
		}
	}
	var cfg gateway.Config
	cfg.SemanticCache = &gateway.CacheStore{Store: "redis", Redis: &gateway.RedisCacheStore{URL: "redis://:s3cret-pw@" + rs.Addr + "/0"}}
	w := strings.Join(cfg.Warnings(), "\n")
	if !strings.Contains(w, "semantic_cache.redis.url: a literal password is stored in the config") || strings.Contains(w, "s3cret-pw") {
		t.Errorf("warnings %q: want the literal password named, never shown", w)
	}
}

// TestCacheStoreConfigErrors: a bad semantic_cache store is a config error
// at its field.
func TestCacheStoreConfigErrors(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "gateway.yaml")
	for _, c := range []struct{ yaml, want string }{
		{"semantic_cache: {store: memcached}", "gateway.yaml:4:25: semantic_cache.store: must be memory or redis"},
		{"semantic_cache: {store: redis}", "semantic_cache.redis.url: is required with store: redis"},
		{"semantic_cache:\n  store: redis\n  redis: {url: 'http://x:1', max_candidates: 5000}",
			"semantic_cache.redis.url: must be redis://host:port/db"},
		{"semantic_cache:\n  store: redis\n  redis: {url: 'redis://127.0.0.1:1/0', max_candidates: 5000, search: always}",
			"semantic_cache.redis.max_candidates: must be within [0, 4000]"},
		{"semantic_cache:\n  store: redis\n  redis: {url: 'redis://127.0.0.1:1/0', search: always}",
			"semantic_cache.redis.search: must be auto or off"},
	} {
		if err := os.WriteFile(p, []byte("products: [{name: p}]\nsubscriptions: [{id: s1, key: k1, product: p}]\nbackend: {url: http://127.0.0.1:1}\n"+c.yaml+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := gateway.LoadConfig(p)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.yaml, err, c.want)
		}
	}
}
