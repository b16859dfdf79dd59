package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/policy/policytest"
	"github.com/aiload/aiload/record"
)

// handlerTransport answers backend requests in-process, so the benchmark
// measures the gateway, not the network.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

const benchAnswer = `{"id":"x","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":20,"total_tokens":32}}`

// BenchmarkGatewayRequest measures one chat request through the whole
// pipeline (key lookup, JSON parse, prompt tokenization, a per-user TPM
// limit and a subscription quota over 100,000 distinct users, backend pool,
// usage settlement, record) with an in-process backend.
func BenchmarkGatewayRequest(b *testing.B) {
	var cfg gateway.Config
	if err := yaml.Unmarshal([]byte(`
backends: [{name: b, url: "http://backend.invalid"}]
products:
  - name: p
    token_limits:
      - {counter_key: "header:x-user-id", tokens_per_minute: 100000, mode: strict}
      - {counter_key: subscription, token_quota: 1000000000000, token_quota_period: Monthly}
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`), &cfg); err != nil {
		b.Fatal(err)
	}
	backend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, benchAnswer)
	})
	gw, err := gateway.New(cfg, "", gateway.Options{Sink: record.SinkFunc(func(*record.Record) error { return nil }),
		Transport: handlerTransport{backend}, Clock: policytest.NewFakeClock(t0)})
	if err != nil {
		b.Fatal(err)
	}
	users := make([]string, 100_000)
	for i := range users {
		users[i] = "user-" + strconv.Itoa(i)
	}
	body := `{"model":"gpt-4o-mini","max_tokens":64,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Summarise the attached meeting notes in three bullet points."}]}`
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Ocp-Apim-Subscription-Key", "k1")
		req.Header.Set("x-user-id", users[i%len(users)])
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
