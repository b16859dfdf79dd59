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

// TestSweepCapacityIsPriced: sweeping a PTU backend's capacity prices its
// deployment at the PTUs that capacity takes (gpt-4o-mini: 37,000 input
// TPM per PTU, at least 15, in steps of 5), so the cost column moves with
// it; a variant that leaves capacity alone keeps the pricing's 15 PTU.
func TestSweepCapacityIsPriced(t *testing.T) {
	t.Parallel()
	vs, err := Sweep(context.Background(), SweepOptions{Scenario: "../scenarios/mixed-day.yaml",
		Sets: []string{"gateway.backends.ptu-eastus.mock.ptu_tpm=600000,1200000"}, Duration: time.Minute})
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if len(vs) != 2 || vs[0].PTU != 20 || vs[1].PTU != 35 || vs[1].Cost <= vs[0].Cost {
		for _, v := range vs {
			t.Logf("%v: %d PTU, cost %.2f", v.Settings, v.PTU, v.Cost)
		}
		t.Fatalf("want 20 PTU at 600,000 TPM and 35 at 1,200,000, the second costlier")
	}
	same, err := Sweep(context.Background(), SweepOptions{Scenario: "../scenarios/mixed-day.yaml",
		Sets: []string{"seed=1,2"}, Duration: time.Minute})
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if same[0].PTU != 15 || same[1].PTU != 15 {
		t.Errorf("seed sweep priced %d and %d PTU, want the pricing's 15", same[0].PTU, same[1].PTU)
	}
}
