package apimxml_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/apimxml"
	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/gateway/policy/policytest"
	"github.com/aiload/aiload/record"
)

// writeDocs writes name → content into a new folder and returns the
// path of gateway.yaml there.
func writeDocs(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "gateway.yaml")
}

// cacheBackends is a chat pool of one deployment and an embeddings
// backend outside it, written as Microsoft's semantic caching guide writes
// it: the backend URL is the embeddings deployment's route.
const cacheBackends = `[
  {"name": "apim-ai/aoai-chat", "properties": {"url": "CHAT", "protocol": "http"}},
  {"name": "apim-ai/embeddings-backend", "properties": {"url": "EMB/openai/deployments/text-embedding-3-small/embeddings", "protocol": "http"}},
  {"name": "apim-ai/chat-pool", "properties": {"type": "Pool", "pool": {"services": [{"id": "/backends/aoai-chat", "priority": 1}]}}}
]`

// cacheGlobal routes to the pool.
const cacheGlobal = `<policies>
  <inbound>
    <set-backend-service backend-id="chat-pool" />
  </inbound>
  <backend><forward-request /></backend>
  <outbound />
  <on-error />
</policies>`

// cacheAPI is shaped like the guide's API policy: the lookup, partitioned
// by subscription, before a token limit; the store in outbound.
const cacheAPI = `<policies>
  <inbound>
    <base />
    <llm-semantic-cache-lookup score-threshold="0.05" embeddings-backend-id="embeddings-backend" embeddings-backend-auth="system-assigned" ignore-system-messages="true" max-message-count="10">
      <vary-by>@(context.Subscription.Id)</vary-by>
    </llm-semantic-cache-lookup>
    <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="100000" estimate-prompt-tokens="false" remaining-tokens-header-name="x-remaining-tokens" />
  </inbound>
  <outbound>
    <llm-semantic-cache-store duration="60" />
    <base />
  </outbound>
</policies>`

const cacheYAML = `products: [{name: standard}]
subscriptions:
  - {id: sub-a, key: key-a, product: standard, team: t1}
  - {id: sub-b, key: key-b, product: standard, team: t2}
apim:
  global: global.xml
  apis: {azure-openai: api.xml}
  backends: backends.json
`

// countingMock serves mockllm and counts chat and embeddings calls.
type countingMock struct {
	url        string
	chat, embs atomic.Int64
}

func newCountingMock(t *testing.T) *countingMock {
	t.Helper()
	m := &countingMock{}
	mock := mockllm.New(mockllm.Config{MinFraction: 1, Seed: 1})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/embeddings") {
			m.embs.Add(1)
		} else {
			m.chat.Add(1)
		}
		mock.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	m.url = srv.URL
	return m
}

// cacheGateway serves documents on loopback with chat and embeddings mocks.
func cacheGateway(t *testing.T, api string) (url string, chatMock, embMock *countingMock, sink *memSink) {
	t.Helper()
	chatMock, embMock, sink = newCountingMock(t), newCountingMock(t), &memSink{}
	path := writeDocs(t, map[string]string{"gateway.yaml": cacheYAML, "global.xml": cacheGlobal, "api.xml": api,
		"backends.json": strings.NewReplacer("CHAT", chatMock.url, "EMB", embMock.url).Replace(cacheBackends)})
	cfg, warnings, err := apimxml.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Fatalf("warnings %v, want none", warnings)
	}
	gw, err := gateway.New(cfg, "", gateway.Options{Clock: policytest.NewFakeClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)), Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return srv.URL, chatMock, embMock, sink
}

const cachedQuestion = `{"max_tokens":40,"messages":[{"role":"system","content":"You answer briefly."},{"role":"user","content":"please summarise the quarterly sales report for the northern region and list the three largest accounts"}]}`

func askCached(t *testing.T, url, key, body string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", strings.NewReader(body))
	req.Header.Set("api-key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}
}

// TestSemanticCacheXML: the lookup/store pair of an API document answers a
// repeated prompt from the cache with the first answer's bytes and no
// model call, partitioned by subscription (vary-by); the lookup sits
// before the token limit, so a hit is recorded as cache_hit with no limit.
func TestSemanticCacheXML(t *testing.T) {
	url, chatMock, embMock, sink := cacheGateway(t, cacheAPI)
	first := askCached(t, url, "key-a", cachedQuestion)
	if first.status != 200 || first.header.Get("x-remaining-tokens") == "" {
		t.Fatalf("first: %d x-remaining-tokens %q %s", first.status, first.header.Get("x-remaining-tokens"), first.body)
	}
	if r := sink.last(t); r.Outcome != record.OutcomeOK || r.EmbeddingModel != "text-embedding-3-small" || r.EmbeddingTokens == 0 {
		t.Fatalf("miss record: outcome %s embedding %q/%d", r.Outcome, r.EmbeddingModel, r.EmbeddingTokens)
	}
	again := askCached(t, url, "key-a", cachedQuestion)
	if again.status != 200 || !bytes.Equal(again.body, first.body) {
		t.Fatalf("repeat: %d %s\nwant 200 and the first answer's bytes %s", again.status, again.body, first.body)
	}
	if again.header.Get("x-remaining-tokens") != "" {
		t.Errorf("a hit before the limit carries x-remaining-tokens %q; the limit never ran", again.header.Get("x-remaining-tokens"))
	}
	hit := sink.last(t)
	if hit.Outcome != record.OutcomeCacheHit || hit.Backend != "" || hit.CacheCompletionTokens != 40 || hit.LimitTPM != 0 {
		t.Errorf("hit record: outcome %s backend %q cache completion tokens %d limit %d; want cache_hit, none, 40, 0",
			hit.Outcome, hit.Backend, hit.CacheCompletionTokens, hit.LimitTPM)
	}
	other := askCached(t, url, "key-b", cachedQuestion) // vary-by: another subscription's partition
	if other.status != 200 || sink.last(t).Outcome != record.OutcomeOK {
		t.Errorf("sub-b: %d outcome %s; want a miss answered by the model", other.status, sink.last(t).Outcome)
	}
	if chatMock.chat.Load() != 2 || embMock.embs.Load() != 3 || chatMock.embs.Load() != 0 || embMock.chat.Load() != 0 {
		t.Errorf("calls: chat backend %d chat + %d embeddings, embeddings backend %d embeddings + %d chat; want 2+0, 3+0",
			chatMock.chat.Load(), chatMock.embs.Load(), embMock.embs.Load(), embMock.chat.Load())
	}
}

// TestSemanticCacheXMLAfterLimit: with the token limit before the lookup a
// hit is charged to the limit (its remaining tokens fall) and carries the
// limit's header.
func TestSemanticCacheXMLAfterLimit(t *testing.T) {
	api := strings.Replace(cacheAPI, `<llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="100000" estimate-prompt-tokens="false" remaining-tokens-header-name="x-remaining-tokens" />`, "", 1)
	api = strings.Replace(api, "<base />\n    <llm-semantic", `<base />
    <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="100000" estimate-prompt-tokens="false" remaining-tokens-header-name="x-remaining-tokens" />
    <llm-semantic`, 1)
	url, chatMock, _, sink := cacheGateway(t, api)
	first := askCached(t, url, "key-a", cachedQuestion)
	again := askCached(t, url, "key-a", cachedQuestion)
	if first.status != 200 || again.status != 200 || !bytes.Equal(again.body, first.body) {
		t.Fatalf("first %d, repeat %d; want 200 twice with the same bytes", first.status, again.status)
	}
	r1, r2 := first.header.Get("x-remaining-tokens"), again.header.Get("x-remaining-tokens")
	if r1 == "" || r2 == "" || r2 >= r1 && len(r2) >= len(r1) {
		t.Errorf("x-remaining-tokens %q then %q; want the hit to lower it", r1, r2)
	}
	if hit := sink.last(t); hit.Outcome != record.OutcomeCacheHit || hit.LimitTPM != 100000 {
		t.Errorf("hit record: outcome %s limit %d; want cache_hit under the 100000 limit", hit.Outcome, hit.LimitTPM)
	}
	if chatMock.chat.Load() != 1 {
		t.Errorf("model calls %d, want 1", chatMock.chat.Load())
	}
}

// TestSemanticCacheXMLErrors: problems of the pair at file:line:column.
func TestSemanticCacheXMLErrors(t *testing.T) {
	for _, tc := range []struct {
		name, api, want string
	}{
		// score-threshold is required
		{"threshold", strings.Replace(cacheAPI, `score-threshold="0.05" `, "", 1), "api.xml:4:5: <llm-semantic-cache-lookup> needs the score-threshold attribute"},
		// out of range, at the attribute
		{"range", strings.Replace(cacheAPI, `"0.05"`, `"1.5"`, 1), "api.xml:4:32: <llm-semantic-cache-lookup>: must be within [0, 1], got 1.5"},
		// the one value API Management takes
		{"auth", strings.Replace(cacheAPI, `"system-assigned"`, `"user-assigned"`, 1), `api.xml:4:98: <llm-semantic-cache-lookup>: must be system-assigned (the one value API Management takes), got "user-assigned"`},
		// the store belongs in outbound
		{"section", strings.Replace(strings.Replace(cacheAPI, `<llm-semantic-cache-store duration="60" />`, "", 1), "</inbound>", `<llm-semantic-cache-store duration="60" /></inbound>`, 1),
			"<llm-semantic-cache-store> belongs in the outbound section, not inbound"},
		// duration in seconds
		{"duration", strings.Replace(cacheAPI, `duration="60"`, `duration="PT1M"`, 1), `duration on <llm-semantic-cache-store> must be a whole number, got "PT1M"`},
		// an embeddings backend found nowhere
		{"backend", strings.Replace(cacheAPI, `embeddings-backend-id="embeddings-backend"`, `embeddings-backend-id="ghost"`, 1), `embeddings-backend-id "ghost" names no backend`},
	} {
		path := writeDocs(t, map[string]string{"gateway.yaml": cacheYAML, "global.xml": cacheGlobal, "api.xml": tc.api,
			"backends.json": strings.NewReplacer("CHAT", "http://127.0.0.1:1", "EMB", "http://127.0.0.1:2").Replace(cacheBackends)})
		_, _, err := apimxml.Load(path, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v\nwant one containing %q", tc.name, err, tc.want)
		}
	}
}
