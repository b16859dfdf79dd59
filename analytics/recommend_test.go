package analytics

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway/policy"
)

// testdata/recommend.jsonl, consumer sub-a (2026-11-02), replayed with
// callers that give up at the first 429 and no latency (so every charge
// lands at arrival):
//
//	10:00:00 500, 10:00:10 500, 10:00:20 500, 10:00:30 500 (the last two
//	throttled at the recorded limit 1000; their retry a4r at 10:00:45 is not
//	demand), 10:01:30 100, 10:03:00 300.
//
// Per-minute demand over 10:00–10:03 (the range of all consumers):
// [2000, 100, 0, 300]; sorted 0, 100, 300, 2000. quantile_cont:
// p50 = 100 + .5×200 = 200; p95 = 300 + .85×1700 = 1745;
// p99 = 300 + .97×1700 = 1949; max 2000; mean 2400/4 = 600; burstiness 3.33.
// Peak 60 s window: 2000 (10:00:00–10:00:30).
//
// Replay (admit while the window holds fewer tokens than L):
//
//	L ≤ 500:        10:00:10, :20, :30 throttled → 3/6 requests, 1500/2400 tokens
//	500 < L ≤ 1000: :20 and :30 throttled → 2/6
//	1000 < L ≤ 1500: :30 throttled → 1/6
//	L > 1500:       nothing throttled
//
// With unit 100 and target 1%, the smallest passing limit is 1600.
// sub-b: one 50-token request at 10:02 → limit 100 (one unit).
func TestRecommend(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	ingest(t, db, filepath.Join("testdata", "recommend.jsonl"), FormatAiload)
	fail, _ := ParseCaller("fail")
	opts := RecommendOptions{Unit: 100, Caller: fail, MinRequests: -1, Resamples: -1}
	rec, err := Recommend(context.Background(), db, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Consumers) != 2 || rec.Minutes != 4 {
		t.Fatalf("consumers = %d, minutes = %d; want 2 and 4", len(rec.Consumers), rec.Minutes)
	}
	a := rec.Consumers[0]
	got := fmt.Sprintf("%s %s/%s now=%d req=%d tok=%d p50=%.0f p95=%.0f p99=%.0f max=%.0f mean=%.0f burst=%.2f peak=%d rec=%d",
		a.Key, a.Team, a.Product, a.CurrentLimitTPM, a.Requests, a.Tokens, a.P50, a.P95, a.P99, a.Max, a.Mean, a.Burstiness,
		a.PeakWindowTPM, a.RecommendedTPM)
	want := "sub-a alpha/Standard now=1000 req=6 tok=2400 p50=200 p95=1745 p99=1949 max=2000 mean=600 burst=3.33 peak=2000 rec=1600"
	if got != want {
		t.Errorf("sub-a:\n got %s\nwant %s", got, want)
	}
	curve := map[int64]string{}
	for _, p := range a.Curve {
		curve[p.LimitTPM] = fmt.Sprintf("%d/%d %d/%d", p.ThrottledRequests, p.Requests, p.ThrottledTokens, p.Tokens)
	}
	for limit, want := range map[int64]string{
		1500: "1/6 500/2400",  // one unit below the recommendation misses the target
		800:  "2/6 1000/2400", // ½ × 1600
		1600: "0/6 0/2400",    // recommended
		2000: "0/6 0/2400",    // p99 rounded up
		3200: "0/6 0/2400",    // 2 × 1600, above the peak: not simulated
	} {
		if curve[limit] != want {
			t.Errorf("curve at %d = %q, want %q", limit, curve[limit], want)
		}
	}
	if !strings.Contains(a.Explanation, "p99 minute was 1.95k tokens") || !strings.Contains(a.Explanation, "1.6k refuses 0% of first attempts") {
		t.Errorf("explanation = %q", a.Explanation)
	}
	if b := rec.Consumers[1]; b.Key != "sub-b" || b.RecommendedTPM != 100 || b.Max != 50 {
		t.Errorf("sub-b = %+v", b)
	}
	// Tiers are the records' products, ordered by TPM. Quotas: the largest
	// consumer's demand over 4 minutes scaled to 30 days (×10,800), +20%,
	// rounded up to 100k: 50 → 648,000 → 700,000; 2400 → 31,104,000 → 31,200,000.
	if rec.TierSource != "product" || fmt.Sprint(tierSummary(rec.Tiers)) != "[Developer 100 700000 [sub-b] Standard 1600 31200000 [sub-a]]" {
		t.Errorf("tiers (%s) = %v", rec.TierSource, tierSummary(rec.Tiers))
	}
	// Named tiers split consumers by size when given.
	opts.TierNames = []string{"Small", "Large"}
	rec, err = Recommend(context.Background(), db, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rec.TierSource != "default" || fmt.Sprint(tierSummary(rec.Tiers)) != "[Small 100 700000 [sub-b] Large 1600 31200000 [sub-a]]" {
		t.Errorf("named tiers (%s) = %v", rec.TierSource, tierSummary(rec.Tiers))
	}
}

// The strict mode admits a request only if it fits: at L the four 500-token
// requests of 10:00 pass while 500·k <= L, so 1500 <= L < 2000 throttles
// one (1/6) and the recommendation is 2000, against 1600 in apim mode.
func TestRecommendStrictMode(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	ingest(t, db, filepath.Join("testdata", "recommend.jsonl"), FormatAiload)
	fail, _ := ParseCaller("fail")
	rec, err := Recommend(context.Background(), db, RecommendOptions{Unit: 100, Mode: policy.ModeStrict, Caller: fail, MinRequests: -1, Resamples: -1})
	if err != nil {
		t.Fatal(err)
	}
	a := rec.Consumers[0]
	below := ""
	for _, p := range a.Curve {
		if p.LimitTPM == 1900 {
			below = fmt.Sprintf("%d/%d", p.ThrottledRequests, p.Requests)
		}
	}
	if a.RecommendedTPM != 2000 || a.AtRecommended.ThrottledRequests != 0 || below != "1/6" || rec.Mode != policy.ModeStrict {
		t.Errorf("strict: recommended %d (%+v), at 1900 %q; want 2000, 0 throttled, 1/6", a.RecommendedTPM, a.AtRecommended, below)
	}
}

func tierSummary(ts []TierRecommendation) []string {
	var out []string
	for _, t := range ts {
		out = append(out, fmt.Sprintf("%s %d %d %v", t.Name, t.TPM, t.MonthlyQuota, t.Consumers))
	}
	return out
}

func TestParsePeriodInstants(t *testing.T) {
	t.Parallel()
	p, err := ParsePeriod("2026-11-02T08:00:00Z..2026-11-02T14:30:00+01:00")
	if err != nil || p.Start.Format(time.RFC3339) != "2026-11-02T08:00:00Z" || p.End.Format(time.RFC3339) != "2026-11-02T13:30:00Z" {
		t.Errorf("instants: %+v, %v", p, err)
	}
	for _, bad := range []string{"2026-11-02T08:00:00Z..2026-11-02T08:00:00Z", "2026-11-02T08:00:00Z..tomorrow"} {
		if _, err := ParsePeriod(bad); err == nil {
			t.Errorf("ParsePeriod(%q) accepted", bad)
		}
	}
}

// A consumer with enough requests gets an interval around its
// recommendation from the bootstrap; one below the minimum gets "not
// enough data" and keeps its recorded limit. Six hours of Poisson demand
// at 4 requests a minute (about 1,440 requests of 200–1,200 tokens, 1 s
// latency) for "busy"; 50 requests for "rare" (limit 5,000 recorded).
func TestRecommendIntervalAndMinimum(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(9, 9))
	var b strings.Builder
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	write := func(key string, at time.Duration, tokens int, limit int) {
		fmt.Fprintf(&b, `{"schema":1,"ts":%q,"request_id":"%s-%d","counter_key":%q,"subscription_id":%q,"total_tokens":%d,"status":200,"outcome":"ok","latency_ms":1000,"limit_tpm":%d,"attempt":1}`+"\n",
			t0.Add(at).Format(time.RFC3339Nano), key, b.Len(), key, key, tokens, limit)
	}
	for at := time.Duration(0); at < 6*time.Hour; at += time.Duration(rng.ExpFloat64() * 15e9) {
		write("busy", at, 200+rng.IntN(1000), 0)
	}
	for i := range 50 {
		write("rare", time.Duration(i)*time.Minute, 300, 5000)
	}
	path := filepath.Join(t.TempDir(), "demand.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	db := openTestDB(t)
	ingest(t, db, path, FormatAiload)
	rec, err := Recommend(context.Background(), db, RecommendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	busy, rare := rec.Consumers[0], rec.Consumers[1]
	if busy.Status != StatusOK || busy.LowTPM == 0 || busy.LowTPM > busy.RecommendedTPM || busy.HighTPM < busy.RecommendedTPM ||
		busy.LowTPM == busy.HighTPM || rec.BlockMinutes != 10 {
		t.Errorf("busy: %s, recommended %d, interval %d–%d (blocks of %d min); want an interval around it",
			busy.Status, busy.RecommendedTPM, busy.LowTPM, busy.HighTPM, rec.BlockMinutes)
	}
	if rare.Status != StatusNotEnoughData || rare.RecommendedTPM != 5000 || !strings.HasPrefix(rare.Explanation, "not enough data: 50 requests") {
		t.Errorf("rare: %s, %d, %q; want not enough data, keeping 5000", rare.Status, rare.RecommendedTPM, rare.Explanation)
	}
}

func TestCrossing(t *testing.T) {
	t.Parallel()
	limits := []int64{10_000, 20_000, 40_000}
	for _, tc := range []struct {
		shares []float64
		want   int64
	}{
		{[]float64{0.005, 0.001, 0}, 10_000},  // the smallest already meets 1%
		{[]float64{0.05, 0.03, 0.02}, 40_000}, // none does: the largest
		// 3% at 10k, 0% at 20k: 1% is two thirds of the way, 16,667 → 17,000
		{[]float64{0.03, 0, 0}, 17_000},
		// 2% at 20k, 0.5% at 40k: 1% at 20k + 2/3 × 20k = 33,334 → 34,000
		{[]float64{0.08, 0.02, 0.005}, 34_000},
	} {
		if got := crossing(limits, tc.shares, 0.01, 1000); got != tc.want {
			t.Errorf("crossing(%v) = %d, want %d", tc.shares, got, tc.want)
		}
	}
}
