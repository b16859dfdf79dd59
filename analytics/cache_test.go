package analytics

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/aiload/aiload/pricing"
)

// cacheRecords: team alpha's faq persona missed once (1,000,000 prompt and
// 1,000,000 completion tokens of gpt-4o-mini, answered ok) and hit once (the
// same answer from the cache); each lookup embedded 1,000,000 tokens with
// text-embedding-3-small. Team beta has no cache.
const cacheRecords = `{"schema":1,"ts":"2026-11-03T10:00:00Z","request_id":"m1","team":"alpha","persona":"faq","model":"gpt-4o-mini","backend":"chat","backend_tier":"payg","prompt_tokens":1000000,"completion_tokens":1000000,"total_tokens":2000000,"status":200,"outcome":"ok","embedding_tokens":1000000,"embedding_model":"text-embedding-3-small"}
{"schema":1,"ts":"2026-11-03T10:01:00Z","request_id":"h1","team":"alpha","persona":"faq","model":"gpt-4o-mini","prompt_tokens":0,"completion_tokens":0,"total_tokens":0,"status":200,"outcome":"cache_hit","cache_prompt_tokens":1000000,"cache_completion_tokens":1000000,"embedding_tokens":1000000,"embedding_model":"text-embedding-3-small"}
{"schema":1,"ts":"2026-11-03T10:02:00Z","request_id":"b1","team":"beta","persona":"reports","model":"gpt-4o-mini","backend":"chat","backend_tier":"payg","prompt_tokens":1000000,"completion_tokens":0,"total_tokens":1000000,"status":200,"outcome":"ok"}
`

// TestCacheChargeback: a cache hit costs only its embeddings call; the
// miss costs the model and its embeddings call (default prices:
// gpt-4o-mini 0.15 in / 0.60 out, text-embedding-3-small 0.02 per 1M).
// alpha = 0.15 + 0.60 + 2 × 0.02 = 0.79; beta = 0.15.
func TestCacheChargeback(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	path := filepath.Join(t.TempDir(), "tokens.jsonl")
	if err := os.WriteFile(path, []byte(cacheRecords), 0o644); err != nil {
		t.Fatal(err)
	}
	ingest(t, db, path, FormatAiload)
	period, _ := ParsePeriod("2026-11")
	res, err := Chargeback(context.Background(), db, pricing.Default(), period, Allocation{})
	if err != nil {
		t.Fatal(err)
	}
	if got := formatTeams(res.Teams); got != "alpha=79(79/0/0) beta=15(15/0/0)" || res.TotalCents != 94 {
		t.Errorf("teams %s total %d, want alpha=79(79/0/0) beta=15(15/0/0) total 94", got, res.TotalCents)
	}
	var emb int64
	for _, l := range res.Lines {
		if l.Model == "text-embedding-3-small" {
			emb += l.Tokens
			if l.Team != "alpha" || l.Cents != 4 {
				t.Errorf("embedding line %+v, want alpha's 4 cents", l)
			}
		}
	}
	if emb != 2000000 {
		t.Errorf("embedding tokens billed %d, want 2000000", emb)
	}

	stats, err := CacheStats(context.Background(), db, pricing.Default())
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 1 {
		t.Fatalf("stats %+v, want alpha's faq only", stats)
	}
	s := stats[0]
	if s.Lookups != 2 || s.Hits != 1 || s.HitRate() != 0.5 || s.CachePromptTokens != 1000000 || s.CacheCompletionTokens != 1000000 ||
		s.EmbeddingTokens != 2000000 || math.Abs(s.Saved-0.75) > 1e-9 || math.Abs(s.EmbeddingCost-0.04) > 1e-9 {
		t.Errorf("stat %+v, want 2 lookups, 1 hit, 0.75 saved, 0.04 embeddings", s)
	}
}
