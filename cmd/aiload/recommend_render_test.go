package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/pricing"
	"github.com/aiload/aiload/runner"
)

// verifiedFixture is recommend's output for analytics/testdata/recommend.jsonl
// with a verification pinned by hand: sub-a verified and met at 1,700 TPM,
// sub-b not verifiable.
func verifiedFixture(t *testing.T) recommendOutput {
	t.Helper()
	ctx := context.Background()
	db, err := analytics.Open(ctx, filepath.Join(t.TempDir(), "r.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Ingest(ctx, "../../analytics/testdata/recommend.jsonl", analytics.FormatAiload); err != nil {
		t.Fatal(err)
	}
	caller, _ := analytics.ParseCaller("fail")
	rec, err := analytics.Recommend(ctx, db, analytics.RecommendOptions{Unit: 100, MinRequests: -1, Caller: caller})
	if err != nil {
		t.Fatal(err)
	}
	plans, err := analytics.PTUPlan(ctx, db, pricing.Default(), analytics.PTUPlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v := &runner.Verification{Seeds: []uint64{1008, 1009}, Target: rec.TargetThrottle, Tolerance: 0.005, Rounds: 2, Simulations: 4,
		SimulatedDuration: 4 * time.Minute, Consumers: []runner.ConsumerCheck{
			{Key: "sub-a", EstimateTPM: 1600, EstimateShare: 0, RecommendedTPM: 1700, Mean: 0.0125, Min: 0.01, Max: 0.015, Met: true,
				Runs: []runner.Attempts{{First: 80, FirstRefused: 1, Retries: 3}, {First: 82, FirstRefused: 1, Retries: 5}}},
			{Key: "sub-b", EstimateTPM: 100, EstimateShare: 0.02, Note: "too few requests to verify"},
		}}
	rec.ApplyVerification(map[string]analytics.VerifiedLimit{
		"sub-a": {TPM: 1700, Mean: 0.0125, Min: 0.01, Max: 0.015, Reruns: 2, Met: true},
		"sub-b": {Note: "too few requests to verify"},
	})
	return recommendOutput{Limits: rec, PTU: plans, Verification: v, VerifyNote: "verified against scenario mixed-day (summary.json)"}
}

// The verified table and the CSV of aiload recommend, byte for byte.
func TestRecommendRenderGolden(t *testing.T) {
	t.Parallel()
	out := verifiedFixture(t)
	var table, csv strings.Builder
	if err := recommendTable(&table, out, "USD"); err != nil {
		t.Fatal(err)
	}
	golden(t, "recommend_verified.golden", table.String())
	if err := recommendCSV(&csv, out.Limits); err != nil {
		t.Fatal(err)
	}
	golden(t, "recommend_verified.golden.csv", csv.String())
}
