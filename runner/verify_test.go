package runner

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/record"
	"github.com/aiload/aiload/scenario"
)

// simulateToDB runs sc on the virtual clock into a DuckDB file in dir.
func simulateToDB(t *testing.T, sc *scenario.Scenario, dir string) *analytics.DB {
	t.Helper()
	log := filepath.Join(dir, "tokens.jsonl")
	w, err := record.Create(log, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Simulate(context.Background(), sc, w, virtualRunID(sc), nil); err != nil {
		t.Fatalf("Simulate: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := analytics.Open(context.Background(), filepath.Join(dir, "aiload.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.IngestJSONL(context.Background(), log); err != nil {
		t.Fatal(err)
	}
	return db
}

// withOwnLimits is sc with each subscription given a product of its own
// whose tokens_per_minute is limits[subscription id]: what a user does
// with recommended limits, built here apart from Verify's own transform.
func withOwnLimits(sc *scenario.Scenario, limits map[string]int64, seed uint64) *scenario.Scenario {
	out := *sc
	out.Seed = seed
	cfg := sc.Gateway
	cfg.Products = nil
	cfg.Subscriptions = nil
	for _, s := range sc.Gateway.Subscriptions {
		s.Product = "own-" + s.ID
		cfg.Products = append(cfg.Products, gateway.Product{Name: s.Product, TokensPerMinute: limits[s.ID]})
		cfg.Subscriptions = append(cfg.Subscriptions, s)
	}
	cfg.Backends = append([]gateway.Backend(nil), cfg.Backends...)
	out.Gateway = cfg
	return &out
}

// countFirstAttempts measures each subscription's share of first attempts
// refused (429 or 403) in one run, straight from the records.
type countFirstAttempts struct {
	first, refused map[string]int64
}

func (c *countFirstAttempts) Write(r *record.Record) error {
	if r.Attempt > 1 || r.Outcome == record.OutcomeUnauthorized || r.Outcome == record.OutcomeBadRequest {
		return nil
	}
	c.first[r.SubscriptionID]++
	if r.Status == 429 || r.Status == 403 {
		c.refused[r.SubscriptionID]++
	}
	return nil
}

// TestVerifyLandsOnTarget: limits recommended from a run under generous
// limits, verified on the simulator, hold when the scenario runs again
// with two seeds neither the recommendation nor the verification used:
// every consumer with at least 2,000 first attempts per run lands within
// ±0.5 percentage points of its target, the others at most 1 point above.
// Four simulated days: a share of refusals measured over one day still
// moves by about half a point from seed to seed.
func TestVerifyLandsOnTarget(t *testing.T) {
	t.Parallel()
	sc, err := scenario.Load("testdata/verify.yaml")
	if err != nil {
		t.Fatal(err)
	}
	db := simulateToDB(t, sc, t.TempDir())
	for _, target := range []float64{0.01, 0.05} {
		rec, err := analytics.Recommend(context.Background(), db, analytics.RecommendOptions{TargetThrottle: target})
		if err != nil {
			t.Fatal(err)
		}
		v, err := Verify(context.Background(), VerifyOptions{Scenario: sc, Recommendation: rec})
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if len(v.Consumers) != 5 || v.Simulations != 3*v.Rounds {
			t.Fatalf("target %g: %d consumers, %d simulations in %d rounds; want 5, 3 per round", target, len(v.Consumers), v.Simulations, v.Rounds)
		}
		limits := map[string]int64{}
		for _, c := range v.Consumers {
			limits[c.Key] = c.RecommendedTPM
			t.Logf("target %g: %s: replay %d TPM (%.2f%%), verified %d TPM: %.2f%% [%.2f–%.2f%%] after %v",
				target, c.Key, c.EstimateTPM, 100*c.EstimateShare, c.RecommendedTPM, 100*c.Mean, 100*c.Min, 100*c.Max, c.Tried)
			if !c.Met || len(c.Runs) != 3 {
				t.Errorf("target %g: %s not met on the verification's reruns: %+v", target, c.Key, c)
			}
		}
		first, refused := map[string]int64{}, map[string]int64{}
		runs := []uint64{90001, 90002}
		for _, seed := range runs {
			if slices.Contains(v.Seeds, seed) || seed == sc.Seed {
				t.Fatalf("seed %d was used before", seed)
			}
			cnt := &countFirstAttempts{first: first, refused: refused}
			if _, err := Simulate(context.Background(), withOwnLimits(sc, limits, seed), cnt, fmt.Sprint("check-", seed), nil); err != nil {
				t.Fatal(err)
			}
		}
		for key, n := range first {
			share := float64(refused[key]) / float64(n)
			perRun := n / int64(len(runs))
			t.Logf("target %g: %s at %d TPM on fresh seeds: %d first attempts per run, %.2f%% refused", target, key, limits[key], perRun, 100*share)
			switch {
			case perRun >= 2000 && math.Abs(share-target) > 0.005:
				t.Errorf("target %g: %s at %d TPM: %.2f%% of %d first attempts per run refused; want within ±0.5 pp",
					target, key, limits[key], 100*share, perRun)
			case perRun < 2000 && share > target+0.01:
				t.Errorf("target %g: %s at %d TPM: %.2f%% refused; want at most 1 pp above", target, key, limits[key], 100*share)
			}
		}
		if len(first) != 5 {
			t.Errorf("target %g: fresh reruns measured %d consumers, want 5", target, len(first))
		}
	}
}
