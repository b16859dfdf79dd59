package analytics

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A run's per-subscription summary: counts by outcome, served tokens, the
// peak sliding 60 s window of served tokens, and latency percentiles of
// the requests that were served. The 429s the gateway answered in under a
// millisecond do not pull the percentiles down: served latencies 100, 100,
// 300, 300 ms give p50 200 ms and p99 300 ms (quantile_cont); with the three
// 429s counted, p50 would be 100 ms, and a team throttled most of the time
// would show 0.
//
// Peak: the ok charges at 10:00:05 (120), 10:00:50 (900), 10:01:04 (500)
// lie within one 60 s window (1520); 10:01:06 (10) drops 10:00:05's
// (1410). The throttled requests' asked-for tokens are not served.
func TestSummaryLatencyOfServedRequests(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	lines := []string{
		rec("s1", "10:00:05", 200, "ok", 120, 100),
		rec("s2", "10:00:06", 429, "throttled", 4000, 0.4),
		rec("s3", "10:00:07", 429, "throttled", 4000, 0.5),
		rec("s4", "10:00:50", 200, "ok", 900, 300),
		rec("s5", "10:00:51", 429, "throttled", 4000, 0.6),
		rec("s6", "10:01:04", 200, "ok", 500, 300),
		rec("s7", "10:01:06", 200, "ok", 10, 100),
	}
	path := filepath.Join(t.TempDir(), "tokens.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ingest(t, db, path, FormatAiload)
	got, err := db.Summary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d summary rows, want 1", len(got))
	}
	s := got[0]
	if s.Requests != 7 || s.OK != 4 || s.Throttled != 3 || s.PeakTPM != 1520 || s.LimitTPM != 1000 {
		t.Errorf("requests %d ok %d 429 %d peak %d limit %d; want 7 4 3 1520 1000", s.Requests, s.OK, s.Throttled, s.PeakTPM, s.LimitTPM)
	}
	if s.P50MS != 200 || s.P99MS != 300 {
		t.Errorf("latency p50 %v p99 %v; want 200 and 300 (served requests only)", s.P50MS, s.P99MS)
	}
}

func rec(id, hms string, status int, outcome string, tokens int64, latency float64) string {
	return fmt.Sprintf(`{"schema":1,"ts":"2026-11-02T%sZ","request_id":"%s","subscription_id":"sub-a","counter_key":"sub-a","product":"dev","team":"alpha","model":"gpt-4o","total_tokens":%d,"status":%d,"outcome":"%s","limit_tpm":1000,"latency_ms":%v,"attempt":1}`,
		hms, id, tokens, status, outcome, latency)
}
