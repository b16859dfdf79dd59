package analytics

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aiload/aiload/record"
)

// TestEveryOutcomeIngests: a record of each outcome in the closed set
// (store_unavailable included) loads with its outcome as written, and the
// requests the token limit or the counter store saw count as demand.
func TestEveryOutcomeIngests(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	w := record.NewWriter(f, 0)
	for i, o := range record.Outcomes() {
		r := &record.Record{RequestID: string(o), Team: "t", SubscriptionID: "s", Outcome: o, Status: 200 + i,
			TS: t0.Add(time.Duration(i) * time.Second), RemainingQuotaTokens: -1}
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	db := openTestDB(t)
	if res := ingest(t, db, path, FormatAiload); res.Added != int64(len(record.Outcomes())) {
		t.Fatalf("added %d of %d records", res.Added, len(record.Outcomes()))
	}
	var got string
	row(t, db, `SELECT outcome FROM records WHERE request_id = 'store_unavailable'`, &got)
	var demand bool
	row(t, db, `SELECT is_demand(attempt, outcome) FROM records WHERE request_id = 'store_unavailable'`, &demand)
	if got != "store_unavailable" || !demand {
		t.Fatalf("store_unavailable record loads as %q, demand %v; want store_unavailable, demand", got, demand)
	}
}
