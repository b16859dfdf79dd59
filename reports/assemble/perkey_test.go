package assemble

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/reports"
)

// TestBusiestKeyAgainstPerKeyLimit: a team behind two NAT addresses, each
// limited to 1,000 TPM, is drawn as its busiest address against 1,000, and
// its own line carries no limit (the sum of 1,600 is not held to one).
func TestBusiestKeyAgainstPerKeyLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	line := func(id, hms, ip string, tokens int64) string {
		return fmt.Sprintf(`{"schema":1,"ts":"2026-11-02T%sZ","request_id":"%s","subscription_id":"office","counter_key":"%s","client_ip":"%s","team":"ops","model":"gpt-4o","prompt_tokens":%d,"total_tokens":%d,"status":200,"outcome":"ok","limit_tpm":1000,"latency_ms":10,"attempt":1}`,
			hms, id, ip, ip, tokens, tokens)
	}
	log := filepath.Join(dir, "tokens.jsonl")
	lines := []string{line("a", "10:00:01", "10.0.0.1", 600), line("b", "10:00:02", "10.0.0.2", 700), line("c", "10:00:30", "10.0.0.1", 300)}
	if err := os.WriteFile(log, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := analytics.Open(ctx, filepath.Join(dir, "a.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Ingest(ctx, log, analytics.FormatAiload); err != nil {
		t.Fatal(err)
	}
	period, _ := analytics.ParsePeriod("2026-11")
	r, _, err := Build(ctx, db, Options{Period: period, DataRange: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Teams) != 1 {
		t.Fatalf("teams %+v", r.Teams)
	}
	a := r.Teams[0]
	k := a.BusiestKey
	if k == nil || k.Key != "10.0.0.1" || k.Keys != 2 || len(k.Demand) == 0 || k.Demand[0].LimitTPM != 1000 || k.Demand[0].Served != 900 {
		t.Fatalf("busiest key %+v; want 10.0.0.1 of 2 serving 900 against 1000", k)
	}
	for _, p := range a.Demand {
		if p.LimitTPM != 0 {
			t.Fatalf("team line carries a limit %d; a per-key limit bounds no sum", p.LimitTPM)
		}
	}
	if _, err := reports.DemandChart(a, "ops"); err != nil {
		t.Fatalf("demand chart: %v", err)
	}
}
