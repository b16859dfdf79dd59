package runner

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/loadgen"
	"github.com/aiload/aiload/record"
	"github.com/aiload/aiload/scenario"
)

// TestVirtualMatchesWall runs one short scenario on the wall clock (real
// sockets and sleeps) and on the virtual clock, and compares what each
// team got, as DuckDB summarises the records. The two runs draw the same
// arrivals and token lengths from the seed; they may differ where real
// time leaks in (scheduling jitter, a request landing on the other side
// of a window edge), so counts must agree within 10 % or 2, whichever is
// larger, and tokens within 10 %.
func TestVirtualMatchesWall(t *testing.T) {
	t.Parallel()
	run := func(clock string) map[string]analytics.SubscriptionSummary {
		res, err := Run(context.Background(), Options{Scenario: "testdata/clocks.yaml", OutDir: t.TempDir(), Clock: clock},
			io.Discard, io.Discard)
		if err != nil {
			t.Fatalf("%s clock: Run: %v", clock, err)
		}
		out := map[string]analytics.SubscriptionSummary{}
		for _, s := range res.Summary {
			out[s.Team] = s
		}
		return out
	}
	wall, virtual := run("wall"), run("virtual")
	near := func(got, want, slack int64, share float64) bool {
		d := got - want
		return max(d, -d) <= max(slack, int64(share*float64(want)))
	}
	for _, team := range []string{"support", "research", "agents"} {
		w, v := wall[team], virtual[team]
		t.Logf("%-8s wall: %d requests, %d 429, %d tokens; virtual: %d requests, %d 429, %d tokens", team,
			w.Requests, w.Throttled, w.PromptTokens+w.CompletionTokens, v.Requests, v.Throttled, v.PromptTokens+v.CompletionTokens)
		if w.Requests == 0 {
			t.Fatalf("team %s sent nothing on the wall clock", team)
		}
		if !near(v.Requests, w.Requests, 2, 0.10) || !near(v.Throttled, w.Throttled, 2, 0.10) ||
			!near(v.PromptTokens+v.CompletionTokens, w.PromptTokens+w.CompletionTokens, 0, 0.10) {
			t.Errorf("team %s: virtual %+v, wall %+v: beyond tolerance", team, v, w)
		}
	}
	if wall["research"].Throttled == 0 {
		t.Errorf("research got no 429s on the wall clock; the scenario sizes it over its limit")
	}
}

// TestVirtualDeterministic: two virtual runs with one seed write
// byte-identical record logs; another seed writes a different one.
func TestVirtualDeterministic(t *testing.T) {
	t.Parallel()
	logOf := func(seed uint64) []byte {
		sc, err := scenario.Load("../scenarios/mixed-day.yaml")
		if err != nil {
			t.Fatal(err)
		}
		sc.Duration, sc.Seed = loadgen.Duration(30*time.Second), seed
		path := filepath.Join(t.TempDir(), "tokens.jsonl")
		w, err := record.Create(path, 0)
		if err != nil {
			t.Fatal(err)
		}
		sim, err := Simulate(context.Background(), sc, w, virtualRunID(sc), nil)
		if err != nil {
			t.Fatalf("Simulate: %v", err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if sent := sim.Load.Totals().Sent; sent == 0 || int64(bytes.Count(b, []byte("\n"))) != sent {
			t.Fatalf("seed %d: %d requests sent, %d lines in the log", seed, sent, bytes.Count(b, []byte("\n")))
		}
		return b
	}
	a, b, c := logOf(3), logOf(3), logOf(4)
	if !bytes.Equal(a, b) {
		al, bl := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
		for i := range min(len(al), len(bl)) {
			if !bytes.Equal(al[i], bl[i]) {
				t.Fatalf("same seed, logs differ at line %d:\n%s\n%s", i+1, al[i], bl[i])
			}
		}
		t.Fatalf("same seed, logs differ in length: %d and %d lines", len(al), len(bl))
	}
	if bytes.Equal(a, c) {
		t.Fatalf("seeds 3 and 4 wrote the same log")
	}
}
