package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/reports/reporttest"
)

// byRecords writes a month of records from three subscriptions whose
// metadata carries a cost centre (the gateway records it as the dimension
// sub.cost_center; sub-3 has none), some with a region dimension, on a PAYG
// model, a PTU deployment and its spill-over, with cached tokens and a
// refused request that is not billed.
func byRecords(t *testing.T, path string) {
	t.Helper()
	subs := []struct{ id, team, cc string }{{"sub-1", "web", "cc-1"}, {"sub-2", "data", "cc-1"}, {"sub-3", "ops", ""}, {"sub-4", "web", "cc-2"}}
	var b strings.Builder
	for i := range 60 {
		s := subs[i%len(subs)]
		dims := map[string]string{}
		if s.cc != "" {
			dims["sub.cost_center"] = s.cc
		}
		if i%3 == 0 {
			dims["region"] = []string{"eu", "us"}[i%2]
		}
		model, backend, tier, cached := "m-payg", "payg-1", "payg", 0
		switch i % 5 {
		case 1, 2:
			model, backend, tier, cached = "m-ptu", "ptu-1", "ptu", 37*i
		case 3:
			model, backend, tier, cached = "m-ptu", "payg-2", "payg", 11*i // spilled
		}
		status, outcome := 200, "ok"
		if i%13 == 12 {
			status, outcome = 429, "throttled"
		}
		prompt, completion := 1000+173*i, 50+61*i
		if cached > prompt {
			cached = prompt
		}
		d, _ := json.Marshal(dims)
		fmt.Fprintf(&b, `{"schema":1,"ts":"2026-11-%02dT%02d:%02d:00Z","request_id":"r%d","subscription_id":%q,"team":%q,"user_id":"u-%d","model":%q,"backend":%q,"backend_tier":%q,"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,"cached_tokens":%d,"status":%d,"outcome":%q,"attempt":1,"dims":%s}`+"\n",
			1+i%28, i%24, i%60, i, s.id, s.team, i%3, model, backend, tier, prompt, completion, prompt+completion, cached, status, outcome, d)
	}
	writeFile(t, path, b.String())
}

// handGroupAmounts recomputes, with SQL written for this test over the
// records, each cost centre's exact cost in November under
// analytics/testdata/chargeback_pricing.yaml: PAYG tokens at list price
// (m-ptu spill-over at m-ptu's prices), and dep1's 3 PTU × 100.00 split in
// proportion to input-equivalent tokens (uncached prompt + 4 × output) on
// PTU.
func handGroupAmounts(t *testing.T, dbPath string) map[string]float64 {
	t.Helper()
	ctx := context.Background()
	db, err := analytics.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.SQL().QueryContext(ctx, `
WITH r AS (
    SELECT coalesce(dims['sub.cost_center'], '(no cost_center)') AS g, model, backend_tier AS tier,
           prompt_tokens - cached_tokens AS uncached, cached_tokens AS cached, completion_tokens AS output
    FROM records
    WHERE outcome = 'ok' AND ts >= TIMESTAMPTZ '2026-11-01 00:00:00+00' AND ts < TIMESTAMPTZ '2026-12-01 00:00:00+00'
), payg AS (
    SELECT g, sum(CASE WHEN model = 'm-ptu' THEN uncached * 2.00 + cached * 0.50 + output * 8.00
                       ELSE uncached * 1.00 + output * 3.00 END) / 1000000 AS amount
    FROM r WHERE tier <> 'ptu' GROUP BY g
), ptu AS (
    SELECT g, 300.0 * sum(uncached + 4 * output) / (SELECT sum(uncached + 4 * output) FROM r WHERE tier = 'ptu') AS amount
    FROM r WHERE tier = 'ptu' GROUP BY g
)
SELECT g, CAST(sum(amount) AS DOUBLE) FROM (SELECT * FROM payg UNION ALL SELECT * FROM ptu) GROUP BY g`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]float64{}
	for rows.Next() {
		var g string
		var amount float64
		if err := rows.Scan(&g, &amount); err != nil {
			t.Fatal(err)
		}
		out[g] = amount
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// aiload chargeback and report --by cost_center split the bill by a key of
// the subscriptions' metadata: every output names the column, the group
// totals are each within a cent of an independent recomputation over the
// records, and the rows add up to the bill to the cent.
func TestChargebackByMetadataKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logFile, db := filepath.Join(dir, "records.jsonl"), filepath.Join(dir, "by.duckdb")
	byRecords(t, logFile)
	if code, _, stderr := execute(t, "ingest", logFile, "--db", db); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, stderr)
	}
	args := []string{"--db", db, "--period", "2026-11", "--pricing", "../../analytics/testdata/chargeback_pricing.yaml", "--by", "cost_center"}
	run := func(cmd string, more ...string) string {
		t.Helper()
		code, out, stderr := execute(t, append(append([]string{cmd}, args...), more...)...)
		if code != 0 {
			t.Fatalf("aiload %s %v: exit %d: %s", cmd, more, code, stderr)
		}
		return out
	}

	var bill struct {
		By         string
		TotalCents int64
	}
	if err := json.Unmarshal([]byte(run("chargeback", "--format", "json")), &bill); err != nil || bill.By != "cost_center" {
		t.Fatalf("chargeback --format json: by %q, %v", bill.By, err)
	}
	csvOut := run("chargeback", "--format", "csv")
	if !strings.HasPrefix(csvOut, "billing_period_start,billing_period_end,cost_center,model,") {
		t.Errorf("CSV header does not name the cost_center column:\n%s", csvOut)
	}
	if report := run("report", "--format", "csv"); report != csvOut {
		t.Errorf("aiload report --format csv differs from aiload chargeback --format csv:\n%s\n%s", report, csvOut)
	}
	if got := csvSum(t, csvOut, "cost"); got.Cmp(big.NewRat(bill.TotalCents, 100)) != 0 {
		t.Errorf("the CSV's rows add up to %s, the bill is %d cents", got.FloatString(6), bill.TotalCents)
	}
	groups := reporttest.CSVTeamTotals(t, []byte(csvOut), "cost_center", "cost")
	hand := handGroupAmounts(t, db)
	if len(groups) != 3 || len(hand) != 3 {
		t.Fatalf("groups %v, recomputed %v: want cc-1, cc-2 and (no cost_center)", groups, hand)
	}
	for g, amount := range hand {
		var cents float64
		fmt.Sscanf(groups[g], "%f", &cents)
		if math.Abs(cents-amount) > 0.01+1e-9 {
			t.Errorf("%s: CSV %s, recomputed over the records %.6f: more than a cent apart", g, groups[g], amount)
		}
	}

	focus := run("report", "--format", "focus")
	if got := reporttest.CSVTeamTotals(t, []byte(focus), "x_CostCenter", "BilledCost"); !maps.Equal(got, groups) {
		t.Errorf("FOCUS BilledCost per x_CostCenter %v, CSV %v", got, groups)
	}
	if !strings.Contains(focus, `"{""cost_center"":""cc-1""}"`) {
		t.Errorf("FOCUS Tags do not carry the cost centre")
	}

	table := run("chargeback")
	if !strings.Contains(table, "cost_center") || !strings.Contains(table, "(no cost_center)") {
		t.Errorf("chargeback table does not name the column:\n%s", table)
	}

	pdfPath := filepath.Join(dir, "report.pdf")
	run("report", "--format", "pdf", "--out", pdfPath, "--charts", "-")
	pdf, err := os.ReadFile(pdfPath)
	if err != nil {
		t.Fatal(err)
	}
	text := reporttest.PDFText(t, pdf)
	if got := reporttest.GroupPageTotals(text, "Cost center"); !maps.Equal(got, groups) {
		t.Errorf("PDF cost center pages %v, CSV %v", got, groups)
	}
	if !strings.Contains(text, "Cost by cost center") {
		t.Errorf("PDF has no cost-by-cost-center summary")
	}
}

// --by reads the other columns and a custom dimension; a key no record
// carries, or a malformed one, is a usage error that lists what exists.
func TestChargebackByColumns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logFile, db := filepath.Join(dir, "records.jsonl"), filepath.Join(dir, "by.duckdb")
	byRecords(t, logFile)
	if code, _, stderr := execute(t, "ingest", logFile, "--db", db); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, stderr)
	}
	base := []string{"chargeback", "--db", db, "--period", "2026-11", "--pricing", "../../analytics/testdata/chargeback_pricing.yaml", "--format", "csv"}
	for _, c := range []struct {
		by     string
		groups []string
	}{
		{"team", []string{"data", "ops", "web"}},
		{"subscription", []string{"sub-1", "sub-2", "sub-3", "sub-4"}},
		{"user", []string{"u-0", "u-1", "u-2"}},
		{"dims.region", []string{"(no dims.region)", "eu", "us"}},
	} {
		code, out, stderr := execute(t, append(base, "--by", c.by)...)
		if code != 0 {
			t.Fatalf("--by %s: exit %d: %s", c.by, code, stderr)
		}
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil || len(recs) < 2 || recs[0][2] != c.by {
			t.Fatalf("--by %s: header %v, %v", c.by, recs[0], err)
		}
		got := map[string]bool{}
		for _, r := range recs[1:] {
			got[r[2]] = true
		}
		if want := strings.Join(c.groups, ","); strings.Join(sortedSet(got), ",") != want {
			t.Errorf("--by %s: groups %v, want %s", c.by, sortedSet(got), want)
		}
	}
	for _, c := range []struct{ by, want string }{
		{"cost_centre", "dimensions recorded: region, sub.cost_center"},
		{"dims.zone", "no request answered ok in the period carries dimension zone"},
		{"cost centre!", "unknown grouping"},
		{"dims.", "want dims.<name>"},
	} {
		code, _, stderr := execute(t, append(base, "--by", c.by)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("--by %q: exit %d, %s; want 2 and %q", c.by, code, stderr, c.want)
		}
	}
}

func csvSum(t *testing.T, data, col string) *big.Rat {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	ci := -1
	for i, h := range recs[0] {
		if h == col {
			ci = i
		}
	}
	sum := new(big.Rat)
	for _, r := range recs[1:] {
		v, ok := new(big.Rat).SetString(r[ci])
		if !ok {
			t.Fatalf("%s %q is not a number", col, r[ci])
		}
		sum.Add(sum, v)
	}
	return sum
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
