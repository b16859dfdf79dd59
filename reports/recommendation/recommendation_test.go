package recommendation

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/pricing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// verifiedFixture is the advice for analytics/testdata/recommend.jsonl
// (as aiload recommend --unit 100 --min-requests 0 --caller fail gives it)
// with a verification pinned by hand: sub-a verified and met at 1,700 TPM,
// sub-b not verifiable.
func verifiedFixture(t *testing.T) Output {
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
	v := &Verification{Seeds: []uint64{1008, 1009}, Target: rec.TargetThrottle, Tolerance: 0.005, Rounds: 2,
		SimulatedDuration: 4 * time.Minute, Consumers: []VerifiedConsumer{
			{Key: "sub-a", EstimateTPM: 1600, RecommendedTPM: 1700, Mean: 0.0125, Min: 0.01, Max: 0.015, Met: true, FirstPerRun: 81, RetriesPerRun: 4},
			{Key: "sub-b", EstimateTPM: 100, EstimateShare: 0.02, Note: "too few requests to verify"},
		}}
	rec.ApplyVerification(map[string]analytics.VerifiedLimit{
		"sub-a": {TPM: 1700, Mean: 0.0125, Min: 0.01, Max: 0.015, Reruns: 2, Met: true},
		"sub-b": {Note: "too few requests to verify"},
	})
	return Output{Limits: rec, PTU: plans, Verification: v, VerifyNote: "verified against scenario mixed-day (summary.json)", Currency: "USD"}
}

// The verified table and the CSV, byte for byte (the unverified table is
// aiload recommend's golden in cmd/aiload).
func TestRenderGolden(t *testing.T) {
	t.Parallel()
	out := verifiedFixture(t)
	var table, csv strings.Builder
	if err := WriteTable(&table, out); err != nil {
		t.Fatal(err)
	}
	golden(t, "verified.golden", table.String())
	if err := WriteCSV(&csv, out.Limits); err != nil {
		t.Fatal(err)
	}
	golden(t, "verified.golden.csv", csv.String())
}
