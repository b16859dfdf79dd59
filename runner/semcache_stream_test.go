package runner

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSemanticCacheStreamsVirtual runs a streaming persona that repeats
// itself behind a semantic cache on the virtual clock (the in-process
// path): repeated prompts are answered from the cache as streams, recorded
// as streamed cache hits, and the load generator gets every answer, usage
// included, as it does the model's.
func TestSemanticCacheStreamsVirtual(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../scenarios/semantic-cache.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc := strings.Replace(string(src), "duration: 3m", "duration: 1m", 1)
	sc = strings.Replace(sc, "    subscription: helpdesk-sub\n", "    subscription: helpdesk-sub\n    stream: true\n", 1)
	if !strings.Contains(sc, "stream: true") {
		t.Fatal("scenario not rewritten")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "stream-cache.yaml")
	if err := os.WriteFile(path, []byte(sc), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Options{Scenario: path, OutDir: dir, Clock: "virtual"}, io.Discard, io.Discard)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	db := openDB(t, res.DB)
	got := queryMap(t, db, `SELECT persona,
	    count(*) FILTER (WHERE outcome = 'cache_hit' AND stream),
	    count(*) FILTER (WHERE outcome = 'cache_hit' AND NOT stream),
	    count(*) FILTER (WHERE outcome IN ('ok', 'cache_hit')),
	    coalesce(sum(prompt_tokens + coalesce(cache_prompt_tokens, 0)) FILTER (WHERE outcome IN ('ok', 'cache_hit')), 0)::BIGINT,
	    coalesce(sum(completion_tokens + coalesce(cache_completion_tokens, 0)) FILTER (WHERE outcome IN ('ok', 'cache_hit')), 0)::BIGINT
	  FROM records GROUP BY ALL`)
	faq := got["faq"]
	if len(faq) == 0 || faq[0] < 5 || faq[1] != 0 {
		t.Fatalf("records by persona (streamed hits, unstreamed hits, answers, tokens): %v; want faq with several streamed hits and no unstreamed one", got)
	}
	for _, p := range res.Load.Personas {
		if p.Name != "faq" {
			continue
		}
		if p.OK != faq[2] || p.PromptTokens != faq[3] || p.CompletionTokens != faq[4] {
			t.Errorf("load generator: %d answers, %d + %d tokens; records: %d answers (model and cache), %d + %d tokens",
				p.OK, p.PromptTokens, p.CompletionTokens, faq[2], faq[3], faq[4])
		}
	}
}
