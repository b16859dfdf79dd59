package analytics

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestApplyVerification: verified limits replace the replay's estimates
// wherever a limit is acted on: a consumer's LimitTPM, the split into
// tiers by size and each tier's TPM; the estimate stays as it was.
func TestApplyVerification(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	ingest(t, db, filepath.Join("testdata", "recommend.jsonl"), FormatAiload)
	fail, _ := ParseCaller("fail")
	rec, err := Recommend(context.Background(), db, RecommendOptions{Unit: 100, Caller: fail, MinRequests: -1, Resamples: -1,
		TierNames: []string{"Small", "Large"}})
	if err != nil {
		t.Fatal(err)
	}
	before := strings.Join(tierSummary(rec.Tiers), "; ")
	if before != "Small 100 700000 [sub-b]; Large 1600 31200000 [sub-a]" {
		t.Fatalf("tiers from the replay: %s", before)
	}
	// The reruns found sub-b needs far more than its replay said; sub-a
	// could not be verified and keeps its estimate.
	rec.ApplyVerification(map[string]VerifiedLimit{"sub-b": {TPM: 5000, Mean: 0.009, Reruns: 3, Met: true},
		"sub-a": {Note: "not verified: no limit of its own in the scenario"}})
	after := strings.Join(tierSummary(rec.Tiers), "; ")
	if after != "Small 1600 31200000 [sub-a]; Large 5000 700000 [sub-b]" {
		t.Errorf("tiers from the verified limits: %s; want sub-b in Large at its verified 5000", after)
	}
	b := rec.Consumers[slices.IndexFunc(rec.Consumers, func(c ConsumerRecommendation) bool { return c.Key == "sub-b" })]
	a := rec.Consumers[slices.IndexFunc(rec.Consumers, func(c ConsumerRecommendation) bool { return c.Key == "sub-a" })]
	if b.LimitTPM() != 5000 || b.RecommendedTPM != 100 || a.LimitTPM() != 1600 || a.Verified == nil || a.Verified.Note == "" {
		t.Errorf("sub-b limit %d (estimate %d), sub-a limit %d (%+v); want 5000 (100), 1600 with its note", b.LimitTPM(), b.RecommendedTPM, a.LimitTPM(), a.Verified)
	}
	if i := slices.IndexFunc(rec.Tiers, func(t TierRecommendation) bool { return t.Name == "Large" }); i < 0 ||
		!strings.Contains(rec.Tiers[i].Explanation, "sub-b needs the most (5k TPM, verified on reruns)") {
		t.Errorf("tiers %+v: the Large tier does not say its TPM was verified", rec.Tiers)
	}
}
