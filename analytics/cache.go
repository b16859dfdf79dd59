package analytics

import (
	"context"
	"fmt"

	"github.com/aiload/aiload/pricing"
)

// CacheStat is the semantic cache's effect on one team's persona's
// requests to one model (cache_summary.sql).
type CacheStat struct {
	Team, Persona, Model, EmbeddingModel string
	// Lookups are the requests looked up in the cache; Hits those answered
	// from it.
	Lookups, Hits int64
	// CountedHits are the hits that counted against a token limit (the
	// lookup sat after the limit): their cached tokens were charged to the
	// limit's counter.
	CountedHits int64
	// CachePromptTokens and CacheCompletionTokens are the tokens the hits
	// were served from the cache: no model processed them.
	CachePromptTokens, CacheCompletionTokens int64
	// EmbeddingTokens are the tokens of the lookups' embeddings calls.
	EmbeddingTokens int64
	// Saved is what the cached tokens would have cost at Model's
	// pay-as-you-go prices (uncached input and output); EmbeddingCost what
	// the embeddings calls cost at EmbeddingModel's input price. Both in
	// the pricing's currency; 0 for a model without a price.
	Saved, EmbeddingCost float64
}

// HitRate is Hits / Lookups (0 without lookups).
func (s CacheStat) HitRate() float64 {
	if s.Lookups == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Lookups)
}

// CacheStats returns the semantic cache's lookups, hits, tokens served from
// the cache and their value, per team, persona and model; none when no
// request was looked up.
func CacheStats(ctx context.Context, db *DB, prices *pricing.Pricing) ([]CacheStat, error) {
	rs, err := db.db.QueryContext(ctx, query("cache_summary.sql"))
	if err != nil {
		return nil, fmt.Errorf("cache summary: %w", err)
	}
	defer rs.Close()
	var out []CacheStat
	for rs.Next() {
		var s CacheStat
		if err := rs.Scan(&s.Team, &s.Persona, &s.Model, &s.EmbeddingModel, &s.Lookups, &s.Hits, &s.CountedHits,
			&s.CachePromptTokens, &s.CacheCompletionTokens, &s.EmbeddingTokens); err != nil {
			return nil, fmt.Errorf("cache summary: %w", err)
		}
		if m, ok := prices.Lookup(s.Model); ok {
			s.Saved = (float64(s.CachePromptTokens)*m.Input + float64(s.CacheCompletionTokens)*m.Output) / 1e6
		}
		if m, ok := prices.Lookup(s.EmbeddingModel); ok {
			s.EmbeddingCost = float64(s.EmbeddingTokens) * m.Input / 1e6
		}
		out = append(out, s)
	}
	return out, rs.Err()
}
