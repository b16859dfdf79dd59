package runner

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/loadgen"
	"github.com/aiload/aiload/record"
	"github.com/aiload/aiload/scenario"
)

// firstAttempts counts, per persona, first attempts and those refused
// (429 or 403).
type firstAttempts struct {
	mu                sync.Mutex
	requests, refused map[string]int64
}

func (f *firstAttempts) Write(r *record.Record) error {
	if r.Attempt > 1 {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests[r.Persona]++
	if r.Status == 429 || r.Status == 403 {
		f.refused[r.Persona]++
	}
	return nil
}

// TestRecommendedLimitsHold is the check of aiload recommend that matters:
// traffic of one consumer of each shape (evenly spaced single-turn calls
// retrying on 429, Poisson multi-turn chat, bursty gamma arrivals, a batch
// job, an agent) runs on the virtual clock under generous limits; its
// records go into DuckDB; Recommend proposes limits at 1% and 5%; the
// scenario then runs again with those limits under two seeds not used for
// the recommendation, and the share of first attempts refused is measured
// on the gateway's own records.
//
// Rerun with the source's own seed, the traffic is the one replayed (the
// mock answers max_tokens, so a refused request does not shift the lengths
// of the answers after it), so the replay must reproduce the measured
// share: within 0.1 percentage point for the open-loop consumers (evenly
// spaced, bursty), within 1.5 for the closed-loop ones, whose later
// requests move when an earlier one waits (a chat's next turn, an agent's
// next step, a batch job's next request). Under other seeds the demand itself differs; the measured
// share must stay near the target (at most 1 point above it at 1%, 1.5
// at 5%; before the replay charged at completion with the callers in the
// loop, the evenly spaced consumer measured 82% at a 1% target).
func TestRecommendedLimitsHold(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, err := scenario.Load("testdata/recommend-shapes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "tokens.jsonl")
	w, err := record.Create(log, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Simulate(ctx, src, w, "source", nil); err != nil {
		t.Fatalf("Simulate: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := analytics.Open(ctx, filepath.Join(dir, "a.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.IngestJSONL(ctx, log); err != nil {
		t.Fatal(err)
	}
	for _, target := range []float64{0.01, 0.05} {
		rec, err := analytics.Recommend(ctx, db, analytics.RecommendOptions{TargetThrottle: target, Callers: Callers(src)})
		if err != nil {
			t.Fatal(err)
		}
		limits := map[string]int64{} // by team (= persona = product prefix)
		replayed := map[string]float64{}
		for _, c := range rec.Consumers {
			limits[c.Team] = c.RecommendedTPM
			replayed[c.Team] = c.AtRecommended.RequestShare()
			t.Logf("target %v: %s", target, c.Explanation)
		}
		for _, seed := range []uint64{1, 101, 102} {
			sc, err := scenario.Load("testdata/recommend-shapes.yaml")
			if err != nil {
				t.Fatal(err)
			}
			sc.Seed = seed
			for i := range sc.Gateway.Products {
				team := strings.TrimSuffix(sc.Gateway.Products[i].Name, "-tier")
				sc.Gateway.Products[i].TokensPerMinute = limits[team]
			}
			got := &firstAttempts{requests: map[string]int64{}, refused: map[string]int64{}}
			if _, err := Simulate(ctx, sc, got, "rerun", nil); err != nil {
				t.Fatalf("Simulate: %v", err)
			}
			for _, p := range sc.Personas {
				n, r := got.requests[p.Name], got.refused[p.Name]
				measured := float64(r) / float64(max(n, 1))
				t.Logf("target %4.1f%% seed %3d %-7s limit %7d: replay %5.2f%%, measured %5.2f%% (%d of %d first attempts)",
					100*target, seed, p.Name, limits[p.Name], 100*replayed[p.Name], 100*measured, r, n)
				if n < 1000 {
					t.Errorf("%s sent %d first attempts; the scenario should give at least 1,000", p.Name, n)
				}
				if seed == src.Seed {
					slack := 0.015
					if p.Name == "steady" || p.Name == "bursty" {
						slack = 0.001
					}
					if d := measured - replayed[p.Name]; d > slack || d < -slack {
						t.Errorf("target %v, same seed, %s: replay %.4f, measured %.4f: more than %.1f points apart",
							target, p.Name, replayed[p.Name], measured, 100*slack)
					}
					continue
				}
				if above := measured - target; above > 0.01 && target <= 0.01 || above > 0.015 {
					t.Errorf("target %v, seed %d, %s: measured %.4f", target, seed, p.Name, measured)
				}
			}
		}
	}
}

// A scenario's personas tell the replay how their callers react to 429s.
func TestRecordsCallersFromScenario(t *testing.T) {
	t.Parallel()
	got, err := RecordsCallers(context.Background(), nil, "", "testdata/recommend-shapes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"steady": "retry_after:3", "chat": "retry_after:3", "bursty": "retry_after:3",
		"batch": "backoff:6", "agent": "retry_after:4"}
	for name, w := range want {
		if c := got[name]; c.String() != w || c.Source != "scenario" {
			t.Errorf("%s: %s (%s), want %s from the scenario", name, c, c.Source, w)
		}
	}
	if b := got["batch"]; b.BackoffInitial != 2*time.Second || b.BackoffMax != 20*time.Second {
		t.Errorf("batch backoff %v–%v, want 2s–20s", b.BackoffInitial, b.BackoffMax)
	}
}

// From the records of a run under tight limits (every persona refused and
// retrying), the replay reads each persona's reaction to 429s from its
// attempts alone, as the scenario says it: retry after Retry-After 3 or 4
// times, back off 6 times.
func TestCallersInferredFromAThrottledRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sc, err := scenario.Load("testdata/recommend-shapes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc.Duration = loadgen.Duration(time.Hour)
	tight := map[string]int64{"steady": 17000, "chat": 43000, "bursty": 27000, "batch": 392000, "agent": 209000}
	for i := range sc.Gateway.Products {
		sc.Gateway.Products[i].TokensPerMinute = tight[strings.TrimSuffix(sc.Gateway.Products[i].Name, "-tier")]
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "tokens.jsonl")
	w, err := record.Create(log, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Simulate(ctx, sc, w, "tight", nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := analytics.Open(ctx, filepath.Join(dir, "a.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.IngestJSONL(ctx, log); err != nil {
		t.Fatal(err)
	}
	rec, err := analytics.Recommend(ctx, db, analytics.RecommendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := Callers(sc)
	for _, c := range rec.Consumers {
		w := want[c.Team]
		if len(c.Callers) != 1 || c.Callers[0] != fmt.Sprintf("%s: %s (records)", c.Team, w) {
			t.Errorf("%s: callers %v, want %s read from the records", c.Key, c.Callers, w)
		}
		t.Logf("%s: %s", c.Key, c.Explanation)
	}
}
