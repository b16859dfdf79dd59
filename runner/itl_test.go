package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// itlScenario streams 200-token answers (25 chunks of 8 tokens) from the
// default mock, whose delay per token is mock, on the virtual clock.
func itlScenario(mock string) string {
	return `name: itl
duration: 2m
seed: 3
model: gpt-4o-mini
mock: {first_token_delay: 50ms, min_fraction: 1, ` + mock + `}
gateway:
  products: [{name: p, tokens_per_minute: 10000000}]
  subscriptions: [{id: s, key: k, product: p, team: t}]
personas:
  - {name: streamer, kind: chat, team: t, subscription: s, count: 4, rate: 10/min, stream: true, prompt_tokens: 100, completion_tokens: 200}
`
}

// TestInterTokenLatency runs streams on the virtual clock: with a fixed
// per-token delay of 5 ms every gap between the mock's 8-token chunks is
// 40 ms, so summary.json's itl_ms p50 and p99 are 40; with
// per_token_delay_p95 15 ms the draws are lognormal, and p50 and p95 come
// out at 8 × 5 ms and 8 × 15 ms within 10 %. The .hlog carries the
// persona's streamer/itl histogram.
func TestInterTokenLatency(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mock          string
		p50, p95, tol float64 // ms; tol relative
	}{
		{"per_token_delay: 5ms", 40, 40, 0.001},
		{"per_token_delay: 5ms, per_token_delay_p95: 15ms", 40, 120, 0.10},
	} {
		dir := t.TempDir()
		file := filepath.Join(dir, "itl.yaml")
		if err := os.WriteFile(file, []byte(itlScenario(tc.mock)), 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		res, err := Run(context.Background(), Options{Scenario: file, OutDir: dir, Clock: "virtual"}, &out, io.Discard)
		if err != nil {
			t.Fatalf("%s: Run: %v", tc.mock, err)
		}
		raw, err := os.ReadFile(res.SummaryJSON)
		if err != nil {
			t.Fatal(err)
		}
		var sf struct {
			Load struct {
				Personas []struct {
					OK  int64 `json:"ok"`
					ITL struct {
						Count         int64
						P50, P95, P99 float64
					} `json:"itl_ms"`
				} `json:"personas"`
			} `json:"load"`
		}
		if err := json.Unmarshal(raw, &sf); err != nil {
			t.Fatal(err)
		}
		p := sf.Load.Personas[0]
		itl := p.ITL
		if p.OK == 0 || itl.Count != 24*p.OK {
			t.Errorf("%s: %d gaps over %d streams, want 24 per stream", tc.mock, itl.Count, p.OK)
		}
		if math.Abs(itl.P50-tc.p50) > tc.tol*tc.p50 || math.Abs(itl.P95-tc.p95) > tc.tol*tc.p95 {
			t.Errorf("%s: itl p50 %.2f ms p95 %.2f ms, want %.0f and %.0f within %.1f%%", tc.mock, itl.P50, itl.P95, tc.p50, tc.p95, 100*tc.tol)
		}
		t.Logf("%s: %d streams, %d gaps, itl p50 %.2f ms p95 %.2f ms p99 %.2f ms", tc.mock, p.OK, itl.Count, itl.P50, itl.P95, itl.P99)
		if line := fmt.Sprintf("inter-token latency streamer: p50 %.1f ms, p95 %.1f ms, p99 %.1f ms over %d gaps", itl.P50, itl.P95, itl.P99, itl.Count); !strings.Contains(out.String(), line) {
			t.Errorf("%s: printed summary lacks %q:\n%s", tc.mock, line, out.String())
		}
		hlog, err := os.ReadFile(res.HistogramLog)
		if err != nil || !strings.Contains(string(hlog), "Tag=streamer/itl,") {
			t.Errorf("%s: %s has no streamer/itl histogram (%v)", tc.mock, res.HistogramLog, err)
		}
	}
}
