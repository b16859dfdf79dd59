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

// A request refused three times and served on its fourth attempt is one
// throttled request, not three: the throttled share counts first attempts
// refused (429 or 403) over first attempts, and the retries are counted
// apart. r1: 429, 429 (retry), 403 (retry), ok (retry); r2: ok.
func TestThrottledShareCountsFirstAttempts(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	line := func(id, hms string, attempt, status int, outcome string) string {
		return fmt.Sprintf(`{"schema":1,"ts":"2026-11-02T%sZ","request_id":"%s","subscription_id":"sub-a","counter_key":"sub-a","team":"alpha","model":"gpt-4o","total_tokens":100,"status":%d,"outcome":"%s","limit_tpm":1000,"attempt":%d}`,
			hms, id, status, outcome, attempt)
	}
	lines := []string{
		line("r1", "10:00:01", 1, 429, "throttled"),
		line("r1-2", "10:00:11", 2, 429, "throttled"),
		line("r1-3", "10:00:21", 3, 403, "quota_exceeded"),
		line("r1-4", "10:00:31", 4, 200, "ok"),
		line("r2", "10:00:41", 1, 200, "ok"),
	}
	path := filepath.Join(t.TempDir(), "retries.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ingest(t, db, path, FormatAiload)
	sum, err := db.Summary(context.Background())
	if err != nil || len(sum) != 1 {
		t.Fatalf("summary %v, %v", sum, err)
	}
	s := sum[0]
	if s.FirstAttempts != 2 || s.ThrottledFirst != 1 || s.Retries != 3 || s.ThrottledRetries != 2 || s.ThrottledShare() != 0.5 {
		t.Errorf("first attempts %d refused %d, retries %d refused %d, share %v; want 2 1 3 2 0.5",
			s.FirstAttempts, s.ThrottledFirst, s.Retries, s.ThrottledRetries, s.ThrottledShare())
	}
	series, err := Demand(context.Background(), db, DemandOptions{By: ByTeam})
	if err != nil || len(series) != 1 || len(series[0].Points) != 1 {
		t.Fatalf("demand %v, %v", series, err)
	}
	if p := series[0].Points[0]; p.Requests != 2 || p.Throttled != 1 || p.Retries != 3 || p.RetriesThrottled != 2 ||
		p.Demand != 200 || p.RefusedTokens != 100 {
		t.Errorf("demand point %+v; want 2 requests, 1 throttled, 3 retries of which 2 throttled, 100 of 200 tokens refused", p)
	}
}

// A limit kept per client IP: the subscription's peak is its busiest
// address's, against the per-address limit, not the addresses together.
// 10.0.0.1 serves 600 + 300 within a minute (900), 10.0.0.2 serves 700:
// together 1600 in the window, but no address went over its 1000.
func TestSummaryPeakPerKey(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	line := func(id, hms, ip string, tokens int64) string {
		return fmt.Sprintf(`{"schema":1,"ts":"2026-11-02T%sZ","request_id":"%s","subscription_id":"office","counter_key":"%s","client_ip":"%s","team":"ops","model":"gpt-4o","total_tokens":%d,"status":200,"outcome":"ok","limit_tpm":1000,"latency_ms":10,"attempt":1}`,
			hms, id, ip, ip, tokens)
	}
	lines := []string{
		line("a", "10:00:01", "10.0.0.1", 600),
		line("b", "10:00:02", "10.0.0.2", 700),
		line("c", "10:00:30", "10.0.0.1", 300),
	}
	path := filepath.Join(t.TempDir(), "nat.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ingest(t, db, path, FormatAiload)
	got, err := db.Summary(context.Background())
	if err != nil || len(got) != 1 {
		t.Fatalf("summary %+v, %v", got, err)
	}
	if s := got[0]; s.PeakTPM != 900 || s.PeakKey != "10.0.0.1" || s.Keys != 2 || s.LimitTPM != 1000 {
		t.Errorf("peak %d on key %q of %d, limit %d; want 900 on 10.0.0.1 of 2, limit 1000", s.PeakTPM, s.PeakKey, s.Keys, s.LimitTPM)
	}
}
