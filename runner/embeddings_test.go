package runner

import (
	"context"
	"io"
	"testing"
	"time"
)

// TestEmbeddingsPersona runs a persona with api: embeddings on both clocks:
// every request is an embeddings call recorded with operation embeddings,
// the backend's prompt tokens and no completion, and priced as such.
func TestEmbeddingsPersona(t *testing.T) {
	t.Parallel()
	for _, clock := range []string{"virtual", "wall"} {
		opts := Options{Scenario: "testdata/embeddings.yaml", OutDir: t.TempDir(), Clock: clock}
		if clock == "wall" {
			opts.Duration = 3 * time.Second
		}
		res, err := Run(context.Background(), opts, io.Discard, io.Discard)
		if err != nil {
			t.Fatalf("%s: Run: %v", clock, err)
		}
		db := openDB(t, res.DB)
		got := queryMap(t, db, `SELECT operation, count(*), count(*) FILTER (WHERE status = 200),
		    sum(prompt_tokens), sum(completion_tokens), count(*) FILTER (WHERE tokens_estimated)
		  FROM records GROUP BY ALL`)
		e := got["embeddings"]
		if len(got) != 1 || len(e) == 0 || e[0] == 0 || e[1] != e[0] || e[2] < 10*e[0] || e[3] != 0 || e[4] != 0 {
			t.Errorf("%s: records by operation %v; want only embeddings, all 200, prompt tokens counted by the backend, no completion", clock, got)
		}
		if served := res.Served["queries"]; served.Requests != e[0] || served.PromptTokens != e[2] {
			t.Errorf("%s: mock served %+v, records say %d requests of %d tokens", clock, served, e[0], e[2])
		}
	}
}
