package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRecommendCommand(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "r.duckdb")
	data := "../../analytics/testdata/"
	if code, _, stderr := execute(t, "ingest", data+"recommend.jsonl", "--db", db); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, stderr)
	}
	// Six requests are not enough data by default: the consumer keeps its
	// current limit.
	code, out, stderr := execute(t, "recommend", "--db", db, "--unit", "100")
	if code != 0 || !strings.Contains(out, "sub-a: not enough data: 6 requests (at least 200 needed") ||
		!strings.Contains(out, "Standard: 1000 TPM") || !strings.Contains(out, "extrapolated to a month from 4 minutes of data, less than a day") {
		t.Errorf("default minimum: exit %d (%s)\n%s", code, stderr, out)
	}
	// Figures derived in analytics/recommend_test.go (callers that give up).
	code, out, stderr = execute(t, "recommend", "--db", db, "--unit", "100", "--min-requests", "0", "--caller", "fail")
	if code != 0 {
		t.Fatalf("recommend: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"sub-a", "1949", "1600", "sub-a: p99 minute was 1.95k tokens", "Tiers (product)",
		"Standard: 1600 TPM", "PTU plan gpt-4o"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = execute(t, "recommend", "--db", db, "--unit", "100", "--format", "json", "--target-throttle", "20%",
		"--min-requests", "0", "--caller", "fail")
	var doc struct {
		Limits struct {
			Consumers []struct {
				Key            string
				RecommendedTPM int64
			}
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || len(doc.Limits.Consumers) != 2 {
		t.Fatalf("json: exit %d\n%s", code, out)
	}
	// At a 20% target one throttled request in six (16.7%) is fine: 1100 suffices.
	if c := doc.Limits.Consumers[0]; c.Key != "sub-a" || c.RecommendedTPM != 1100 {
		t.Errorf("at 20%%: %+v, want sub-a 1100", c)
	}
	// The period selects records: none in December.
	code, out, _ = execute(t, "recommend", "--db", db, "--period", "2026-12")
	if code != 0 || !strings.Contains(out, "no demand") {
		t.Errorf("--period 2026-12: exit %d\n%s", code, out)
	}
	code, out, _ = execute(t, "recommend", "--db", db, "--unit", "100", "--format", "csv")
	if code != 0 || !strings.HasPrefix(out, "consumer,team,product") || !strings.Contains(out, "sub-a,alpha,Standard,6,2400,") {
		t.Errorf("csv: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"recommend", "--db", db, "--target-throttle", "150%"}, // not a share
		{"recommend", "--db", db, "--by", "colour"},            // unknown dimension
		{"recommend", "--db", db, "--billing", "weekly"},       // unknown billing
		{"recommend", "--db", db, "--caller", "retry:3"},       // unknown caller
		{"recommend", "--db", db, "--period", "last week"},     // not a period
	} {
		if code, _, stderr := execute(t, args...); code != 2 {
			t.Errorf("aiload %v: exit %d (%s), want 2", args, code, stderr)
		}
	}
}

// TestRecommendPTUFollowsScenario: the PTU plan of a run's records is
// priced under the billing of the deployment in the run's scenario (found
// through the summary.json beside the database), 0 PTU is a candidate,
// a few minutes of data are tentative, and --max-spill states its premium
// over the cheapest plan.
func TestRecommendPTUFollowsScenario(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sc := filepath.Join(dir, "ptu.yaml")
	src := `
name: ptu-billing
duration: 3m
seed: 3
model: gpt-4o-mini
gateway:
  products: [{name: open, tokens_per_minute: 10000000}]
  subscriptions: [{id: s1, key: sk-ptu-0001, product: open, team: t1}]
  backends:
    - {name: ptu, tier: ptu, priority: 1, mock: {ptu_tpm: 30000, ptu_output_ratio: 4}, circuit_breaker: {failure_count: 1, status_ranges: ["429"], accept_retry_after: true}}
    - {name: payg, tier: payg, priority: 2, mock: {}}
  retry: {status_codes: ["429"], count: 1, first_fast_retry: true}
personas:
  - {name: chat, kind: chat, team: t1, subscription: s1, count: 4, rate: 20/min, prompt_tokens: 300, completion_tokens: 50}
pricing:
  models:
    gpt-4o-mini: {input: 2.50, output: 10.00, ptu: {input_tpm_per_ptu: 1000, output_ratio: 4, min_ptu: 5, increment: 5, hourly: 1, monthly_reservation: 150, yearly_reservation: 60}}
  ptu_deployments: [{name: ptu, model: gpt-4o-mini, ptu: 30, billing: yearly_reservation, backends: [ptu]}]
`
	if err := os.WriteFile(sc, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := execute(t, "run", sc, "--clock", "virtual", "--out", dir); code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	dbs, _ := filepath.Glob(filepath.Join(dir, "ptu-billing-*", "aiload.duckdb"))
	if len(dbs) != 1 {
		t.Fatalf("run folders: %v", dbs)
	}
	code, out, stderr := execute(t, "recommend", "--db", dbs[0], "--verify-seeds", "0")
	for _, want := range []string{"priced yearly_reservation (deployment ptu)", "Tentative (less than a day of data): ",
		"\n    0 ", "less than a day: tentative"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("recommend: exit %d (%s), output lacks %q:\n%s", code, stderr, want, out)
		}
	}
	code, out, _ = execute(t, "recommend", "--db", dbs[0], "--verify-seeds", "0", "--max-spill", "1%", "--billing", "hourly")
	if code != 0 || !strings.Contains(out, "priced hourly (--billing)") || !strings.Contains(out, "more than the cheapest plan") {
		t.Errorf("--max-spill 1%% --billing hourly: exit %d\n%s", code, out)
	}
}
