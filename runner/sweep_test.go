package runner

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestSweepLimits: raising the research team's limit tenfold removes its
// 429s and leaves the other teams' traffic as it was.
func TestSweepLimits(t *testing.T) {
	t.Parallel()
	vs, err := Sweep(context.Background(), SweepOptions{Scenario: "../scenarios/quickstart.yaml",
		Sets: []string{"gateway.products.developer.tokens_per_minute=10000,100000"}, Duration: 20 * time.Second})
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if len(vs) != 2 {
		t.Fatalf("%d variants, want 2", len(vs))
	}
	tight, loose := vs[0].Teams["research"], vs[1].Teams["research"]
	if tight == nil || loose == nil || tight.Throttled == 0 || loose.Throttled != 0 {
		t.Fatalf("research 429s at 10000 TPM: %+v, at 100000 TPM: %+v; want some, then none", tight, loose)
	}
	// Completion lengths come from the mock's one random stream, in arrival
	// order, so research's extra answers shift support's tokens a little;
	// its requests and 429s do not move.
	if s0, s1 := vs[0].Teams["support"], vs[1].Teams["support"]; s0.Requests != s1.Requests || s0.Throttled != s1.Throttled {
		t.Errorf("support changed with research's limit: %+v vs %+v", s0, s1)
	}
	var out bytes.Buffer
	if err := WriteSweepTable(&out, vs); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"gateway.products.developer.tokens_per_minute", "429 research", "10000", "100000"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}
