package record

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendJSONIsMarshal: AppendJSON writes what json.Marshal writes, for
// plain records and for every case that needs care: strings to escape
// (quotes, HTML characters, control characters, non-ASCII, invalid UTF-8),
// tiny, huge, negative and non-finite numbers, dimensions, zero and
// far-off times.
func TestAppendJSONIsMarshal(t *testing.T) {
	t.Parallel()
	strs := []string{"", "plain", `q"uote`, `back\slash`, "<b>&amp;", "tab\tnl\n\x01\x7f", "café 東京", "bad \xff utf8", "\u2028\u2029"}
	floats := []float64{0, 556, 0.001, 12.345, 1e-7, 1.5e-9, 1e21, 123456789012345678901234.0, -3.25, math.Copysign(0, -1), math.NaN(), math.Inf(1)}
	times := []time.Time{{}, time.Date(2026, 1, 5, 7, 0, 0, 35347878, time.UTC), time.Date(2026, 1, 5, 7, 0, 0, 0, time.FixedZone("x", 3600)),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	for i := range 3000 {
		r := Record{Schema: SchemaVersion, TS: times[i%len(times)], RequestID: pick(strs), RunID: "run", GatewayID: pick(strs),
			SubscriptionID: pick(strs), Product: pick(strs), Team: pick(strs), UserID: pick(strs), ClientIP: "127.0.0.1",
			CounterKey: pick(strs), API: "azure-openai", Model: pick(strs), Backend: pick(strs), BackendTier: "ptu",
			PromptTokens: rng.Int64N(1e6) - 10, CompletionTokens: rng.Int64N(1e4), TotalTokens: rng.Int64(), CachedTokens: -1,
			TokensEstimated: i%2 == 0, Status: 200 + i%300, Outcome: Outcomes()[i%len(Outcomes())],
			LimitTPM: rng.Int64N(1e6), RemainingTokens: -rng.Int64N(100), RemainingQuotaTokens: -1, RetryAfterMS: rng.Int64N(1e5),
			LatencyMS: floats[i%len(floats)], BackendLatencyMS: floats[(i/3)%len(floats)], TTFTMS: rng.Float64() * 1000,
			Stream: i%3 == 0, Scenario: pick(strs), Persona: pick(strs), Attempt: i % 4}
		if i%5 == 0 {
			r.Dims = map[string]string{pick(strs): pick(strs), "z": "1", "a<": pick(strs)}
		}
		if i%7 < 3 {
			u := floats[(i/7)%len(floats)]
			r.UtilizationPct = &u
		}
		if i%4 == 1 {
			r.BackendAuth = pick(strs)
		}
		if i%6 < 4 {
			r.Operation = pick(strs)
		}
		for j := range i % 4 {
			r.BackendAttempts = append(r.BackendAttempts, Attempt{Backend: pick(strs), Status: []int{0, 429, 200, 503}[(i+j)%4],
				LatencyMS: floats[(i+j)%len(floats)]})
		}
		if i%5 < 2 {
			r.CachePromptTokens, r.CacheCompletionTokens = rng.Int64N(1e4)-3, rng.Int64N(1e4)
			r.EmbeddingTokens, r.EmbeddingModel = rng.Int64N(1e4), pick(strs)
		}
		want, werr := json.Marshal(&r)
		got, gerr := r.AppendJSON([]byte("prefix"))
		if (werr != nil) != (gerr != nil) || werr == nil && !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Fatalf("record %d:\nAppendJSON: %s (%v)\njson:       %s (%v)", i, got, gerr, want, werr)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	r := Record{Schema: 1, TS: time.Date(2026, 1, 5, 7, 0, 0, 35347878, time.UTC), RequestID: "e83c6574-3a90-4f3e-b95a-35e9047c4eea",
		RunID: "mixed-day-virtual-seed21", GatewayID: "gw-1", SubscriptionID: "support-sub", Product: "standard", Team: "support",
		UserID: "support-chat-3", ClientIP: "127.0.0.1", CounterKey: "support-sub", API: "azure-openai", Model: "gpt-4o-mini",
		Backend: "ptu-eastus", BackendTier: "ptu", PromptTokens: 96, CompletionTokens: 203, TotalTokens: 299, Status: 200,
		Outcome: OutcomeOK, LimitTPM: 120000, RemainingTokens: 39701, RemainingQuotaTokens: -1, LatencyMS: 556.5,
		BackendLatencyMS: 556.5, Scenario: "mixed-day", Persona: "support-chat", Attempt: 1}
	b.Run("AppendJSON", func(b *testing.B) {
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			buf, _ = r.AppendJSON(buf[:0])
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(&r)
		}
	})
}
