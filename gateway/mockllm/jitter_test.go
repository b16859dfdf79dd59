package mockllm_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway/mockllm"
)

// TestPerTokenJitter: with per_token_delay_p95 a stream's chunks of 8
// tokens wait 8 × a lognormal draw of median per_token_delay and p95
// per_token_delay_p95, one draw per chunk (the sleeps the mock asks for
// are captured, so nothing waits); without it every chunk waits exactly
// 8 × per_token_delay.
func TestPerTokenJitter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p95           time.Duration
		wantP50, want time.Duration // per chunk
		tol           float64
	}{
		{0, 80 * time.Millisecond, 80 * time.Millisecond, 0},
		{30 * time.Millisecond, 80 * time.Millisecond, 240 * time.Millisecond, 0.08},
	} {
		var mu sync.Mutex
		var sleeps []time.Duration
		url := serve(t, mockllm.Config{Seed: 7, MinFraction: 1, FirstTokenDelay: time.Second, PerTokenDelay: 10 * time.Millisecond,
			PerTokenDelayP95: tc.p95, Sleep: func(_ context.Context, d time.Duration) error {
				mu.Lock()
				sleeps = append(sleeps, d)
				mu.Unlock()
				return nil
			}})
		for range 40 {
			resp, body, err := call(t, url, `{"model":"gpt-4o-mini","stream":true,"max_tokens":400,"messages":[{"role":"user","content":"hi"}]}`)
			if err != nil || resp.StatusCode != 200 || strings.Count(body, `"content":`) != 51 { // role + 50 chunks
				t.Fatalf("p95 %v: status %v, %d content chunks, %v", tc.p95, resp, strings.Count(body, `"content":`), err)
			}
		}
		var chunks []time.Duration
		for _, d := range sleeps {
			if d != time.Second { // the first-token delays
				chunks = append(chunks, d)
			}
		}
		slices.Sort(chunks)
		p50, p95 := chunks[len(chunks)/2], chunks[len(chunks)*95/100]
		if len(chunks) != 40*50 || relErr(p50, tc.wantP50) > tc.tol || relErr(p95, tc.want) > tc.tol {
			t.Errorf("p95 %v: %d chunk delays, p50 %v p95 %v; want 2000, %v and %v within %.0f%%", tc.p95, len(chunks), p50, p95, tc.wantP50, tc.want, 100*tc.tol)
		}
	}
}

func relErr(got, want time.Duration) float64 {
	d := float64(got-want) / float64(want)
	return max(d, -d)
}
