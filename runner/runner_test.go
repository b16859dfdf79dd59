package runner

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/reports/dashboard"
	"github.com/aiload/aiload/reports/dashboard/termtest"

	_ "github.com/duckdb/duckdb-go/v2"
)

// TestQuickstartEndToEnd runs the quickstart scenario, shortened, through
// the real mock backend, gateway, load generator and DuckDB file, and checks
// what a user would read off the database.
func TestQuickstartEndToEnd(t *testing.T) {
	t.Parallel()
	res, err := Run(context.Background(), Options{
		Scenario: "../scenarios/quickstart.yaml",
		OutDir:   t.TempDir(),
		Duration: 10 * time.Second,
	}, io.Discard, io.Discard)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	totals := res.Load.Totals()
	if res.Records != totals.Sent || totals.Sent == 0 {
		t.Fatalf("records in DuckDB = %d, requests sent = %d; want equal and > 0", res.Records, totals.Sent)
	}
	db := openDB(t, res.DB)

	// Only the team sized over its limit gets 429s, and each carries Retry-After.
	rows := queryMap(t, db, `SELECT team, count(*) FILTER (WHERE status = 429),
	    count(*) FILTER (WHERE status = 429 AND retry_after_ms > 0) FROM records GROUP BY team`)
	for team, c := range rows {
		switch {
		case team == "research" && c[0] == 0:
			t.Errorf("team research got no 429s; it is sized over its limit")
		case team != "research" && c[0] != 0:
			t.Errorf("team %s got %d 429s, want none", team, c[0])
		case c[0] != c[1]:
			t.Errorf("team %s: %d 429s but only %d with a retry delay", team, c[0], c[1])
		}
	}
	for _, p := range res.Load.Personas {
		if p.Throttled != p.ThrottledWithRetryAfter {
			t.Errorf("persona %s saw %d 429s, %d with a Retry-After header", p.Name, p.Throttled, p.ThrottledWithRetryAfter)
		}
	}

	// Tokens per team in DuckDB equal what the mock backend says it served.
	teamOf := map[string]string{}
	for _, p := range res.Scenario.Personas {
		teamOf[p.Name] = p.Team
	}
	served := map[string]int64{}
	for persona, u := range res.Served {
		served[teamOf[persona]] += u.TotalTokens
	}
	got := queryMap(t, db, `SELECT team, sum(total_tokens) FROM records WHERE outcome = 'ok' GROUP BY team`)
	for team, want := range served {
		if got[team][0] != want {
			t.Errorf("team %s: %d tokens in DuckDB, mock served %d", team, got[team][0], want)
		}
	}
	if len(got) != len(served) {
		t.Errorf("teams with tokens in DuckDB %v, mock served %v", got, served)
	}
	if filepath.Base(res.Log) != "tokens.jsonl" {
		t.Errorf("log file %s, want tokens.jsonl", res.Log)
	}
}

// TestInterruptKeepsRecords cancels a run early (as Ctrl-C does) and checks
// that every request sent still has its record in the database.
func TestInterruptKeepsRecords(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(2*time.Second, cancel)
	res, err := Run(ctx, Options{Scenario: "../scenarios/quickstart.yaml", OutDir: t.TempDir()}, io.Discard, io.Discard)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !res.Load.Interrupted {
		t.Fatalf("run not marked interrupted")
	}
	if res.Load.Elapsed > 40*time.Second {
		t.Fatalf("interrupted run took %v", res.Load.Elapsed)
	}
	if res.Records != res.Load.Totals().Sent {
		t.Fatalf("records %d, sent %d: records were lost on interrupt", res.Records, res.Load.Totals().Sent)
	}
	if len(res.Summary) == 0 && res.Records > 0 {
		t.Fatalf("no summary rows after interrupt")
	}
}

func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", path+"?access_mode=read_only")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// queryMap runs a query of (key, int...) rows into a map.
func queryMap(t *testing.T, db *sql.DB, q string) map[string][]int64 {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	out := map[string][]int64{}
	for rows.Next() {
		var k string
		vals := make([]int64, len(cols)-1)
		dest := []any{&k}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		out[k] = vals
	}
	return out
}

// TestDashboardQStopsRun drives a run with the dashboard on an in-memory
// terminal, presses q, and checks that the run stopped early with every
// request's record in the database, and that the dashboard said what was
// happening while it stopped.
func TestDashboardQStopsRun(t *testing.T) {
	t.Parallel()
	keys, typed := io.Pipe()
	screen := &termtest.Screen{}
	go func() {
		for !strings.Contains(screen.Text(), "TPM USED") {
			time.Sleep(50 * time.Millisecond)
		}
		io.WriteString(typed, "q")
	}()
	var stdout, stderr bytes.Buffer
	res, err := Run(context.Background(), Options{
		Scenario: "../scenarios/quickstart.yaml",
		OutDir:   t.TempDir(),
		Terminal: &dashboard.Terminal{In: keys, Out: screen},
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !res.Load.Interrupted || res.Load.Elapsed > 40*time.Second {
		t.Fatalf("q did not stop the run: interrupted=%v after %v; screen:\n%s", res.Load.Interrupted, res.Load.Elapsed, screen.Text())
	}
	if res.Records == 0 || res.Records != res.Load.Totals().Sent {
		t.Fatalf("records in DuckDB %d, requests sent %d: want equal and > 0", res.Records, res.Load.Totals().Sent)
	}
	if !strings.Contains(screen.Text(), "writing the database") {
		t.Errorf("the dashboard never said it was writing the database; screen:\n%s", screen.Text())
	}
	// The start line waited for the dashboard to close instead of
	// writing over it.
	if !strings.Contains(stderr.String(), "aiload: quickstart for 1m0s — gateway") || strings.Contains(screen.Text(), "aiload: quickstart for") {
		t.Errorf("start line: stderr %q; on the dashboard's screen: %v", stderr.String(), strings.Contains(screen.Text(), "aiload: quickstart for"))
	}
	if !strings.Contains(stdout.String(), "research-sub") {
		t.Errorf("no summary after the dashboard closed; stdout:\n%s", stdout.String())
	}
}
