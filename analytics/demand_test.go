package analytics

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testdata/demand.jsonl, by minute (10:00, 10:01, 10:02 on 2026-11-02):
//
//	alpha 10:00  d1 ok 120 (attempt 1) + d2 throttled asking 1000 (attempt 1)
//	             → demand 1120, served 120, 2 requests, 1 throttled
//	alpha 10:01  d3 ok 900 is a retry (attempt 2): served 900, no demand;
//	             d4 unauthorized never reached the limit: ignored
//	beta  10:02  d5 ok 55, no attempt field (external log) → demand 55
//
// Every series spans 10:00–10:02, zero-filled.
func TestDemandByTeam(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	ingest(t, db, filepath.Join("testdata", "demand.jsonl"), FormatAiload)
	tests := []struct {
		opts DemandOptions
		want string // key/limit: minute demand/served/requests/throttled …
	}{
		// every team, the data's range
		{DemandOptions{By: ByTeam},
			"alpha/1000: 10:00 1120/120/2/1 10:01 0/900/0/0 10:02 0/0/0/0 | beta/0: 10:00 0/0/0/0 10:01 0/0/0/0 10:02 55/55/1/0"},
		// counter key falls back to the subscription when empty (d5)
		{DemandOptions{By: ByCounterKey, Model: "gpt-4o-mini"},
			"sub-b/0: 10:02 55/55/1/0"},
		// an explicit range widens the zero fill
		{DemandOptions{By: ByModel, Model: "gpt-4o-mini",
			From: time.Date(2026, 11, 2, 10, 1, 0, 0, time.UTC), To: time.Date(2026, 11, 2, 10, 4, 0, 0, time.UTC)},
			"gpt-4o-mini/0: 10:01 0/0/0/0 10:02 55/55/1/0 10:03 0/0/0/0"},
	}
	for _, tc := range tests {
		series, err := Demand(context.Background(), db, tc.opts)
		if err != nil {
			t.Fatalf("Demand(%+v): %v", tc.opts, err)
		}
		if got := formatSeries(series); got != tc.want {
			t.Errorf("Demand(%+v):\n got %s\nwant %s", tc.opts, got, tc.want)
		}
	}
}

func formatSeries(series []DemandSeries) string {
	var parts []string
	for _, s := range series {
		var b strings.Builder
		fmt.Fprintf(&b, "%s/%d:", s.Key, s.LimitTPM)
		for _, p := range s.Points {
			fmt.Fprintf(&b, " %s %d/%d/%d/%d", p.Minute.Format("15:04"), p.Demand, p.Served, p.Requests, p.Throttled)
		}
		parts = append(parts, b.String())
	}
	return strings.Join(parts, " | ")
}
