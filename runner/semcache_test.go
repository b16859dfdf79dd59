package runner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/aiload/aiload/reports/reporttest"
)

// TestSemanticCacheScenario runs scenarios/semantic-cache.yaml on the
// virtual clock: the faq persona repeats 30 % of its questions (paraphrased,
// score well within the 0.15 threshold; fresh questions score far above it)
// behind a cache with a 10-minute duration in a 3-minute run, so nearly
// every repeat of an answered question is a hit: the measured hit rate is
// the repeat share, less the repeats drawn before any question was stored.
// The records, the printed summary, summary.json and the PDF agree; hits
// call no model; hits before the limit never count against it, hits after
// it all do.
func TestSemanticCacheScenario(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	res, err := Run(context.Background(), Options{Scenario: "../scenarios/semantic-cache.yaml", OutDir: t.TempDir(), Clock: "virtual"}, &out, io.Discard)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	db := openDB(t, res.DB)
	got := queryMap(t, db, `SELECT persona,
	    count(*) FILTER (WHERE embedding_model IS NOT NULL),
	    count(*) FILTER (WHERE outcome = 'cache_hit'),
	    count(*) FILTER (WHERE outcome = 'cache_hit' AND limit_tpm > 0),
	    count(*) FILTER (WHERE outcome = 'cache_hit' AND (backend <> '' OR prompt_tokens <> 0 OR completion_tokens <> 0)),
	    count(*) FILTER (WHERE outcome = 'ok'),
	    coalesce(sum(prompt_tokens + completion_tokens) FILTER (WHERE outcome = 'ok'), 0)::BIGINT,
	    coalesce(sum(embedding_tokens), 0)::BIGINT
	  FROM records GROUP BY ALL`)
	faq, reports := got["faq"], got["monthly-reports"]
	if len(faq) == 0 || len(reports) == 0 {
		t.Fatalf("records by persona: %v", got)
	}
	rate := float64(faq[1]) / float64(faq[0])
	if faq[0] < 150 || math.Abs(rate-0.3) > 0.06 {
		t.Errorf("faq: %d hits of %d lookups = %.3f, want about the repeat share 0.3", faq[1], faq[0], rate)
	}
	if faq[2] != 0 || reports[2] != reports[1] || reports[1] == 0 {
		t.Errorf("hits counted by the limit: faq %d (before the limit: want 0), monthly-reports %d of %d (after: want all)", faq[2], reports[2], reports[1])
	}
	if faq[3] != 0 || reports[3] != 0 {
		t.Errorf("hits with a backend or model tokens: %d, %d", faq[3], reports[3])
	}
	// The mocks served faq its misses and one embeddings call per lookup,
	// each tagged with the persona that triggered it, and the tokens the
	// records charge it.
	if served := res.Served["faq"]; served.Requests != faq[4]+faq[0] || served.TotalTokens != faq[5]+faq[6] {
		t.Errorf("mocks served faq %d requests and %d tokens, want the %d misses and %d lookups, %d + %d embedding tokens as recorded",
			served.Requests, served.TotalTokens, faq[4], faq[0], faq[5], faq[6])
	}
	if u, ok := res.Served[""]; ok {
		t.Errorf("mocks served %d requests (%d tokens) without a persona", u.Requests, u.TotalTokens)
	}

	for _, c := range res.Cache {
		if c.Persona != "faq" {
			continue
		}
		row := fmt.Sprintf("faq  support  gpt-4o-mini  %d  %d  %.1f%%  0", c.Lookups, c.Hits, 100*c.HitRate())
		if c.Lookups != faq[0] || c.Hits != faq[1] || !strings.Contains(strings.Join(strings.Fields(out.String()), "  "), row) {
			t.Errorf("summary row %q missing or stat %+v differs from the records %v:\n%s", row, c, faq, out.String())
		}
		if c.Saved <= 0 || c.EmbeddingCost <= 0 || c.EmbeddingCost > c.Saved {
			t.Errorf("faq: saved %g, embeddings cost %g", c.Saved, c.EmbeddingCost)
		}
	}
	summary, err := os.ReadFile(res.SummaryJSON)
	if err != nil || !bytes.Contains(summary, []byte(`"Hits": `+fmt.Sprint(faq[1]))) {
		t.Errorf("summary.json lacks the cache's %d hits (%v)", faq[1], err)
	}
	pdf, err := os.ReadFile(res.ReportPDF)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(reporttest.PDFText(t, pdf)), " ")
	want := fmt.Sprintf("support / faq (gpt-4o-mini): hit rate %.1f %% (%d of %d lookups)", 100*rate, faq[1], faq[0])
	if !strings.Contains(text, want) || !strings.Contains(text, "hits counted against the token limit (the lookup sits after it)") {
		t.Errorf("PDF lacks %q and the limit interaction", want)
	}
}
