package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/reports/reporttest"
)

// TestSummaryUtilization runs a scenario whose PTU backend fills up
// (virtual clock) and checks that the utilization the load generator read
// from azure-openai-deployment-utilization — its count, average and p95 in
// summary.json, per persona and in total, and the printed line — agrees
// with the utilization_pct the gateway kept in the run's DuckDB records,
// and that the PDF's capacity page counts the PTU's refused attempts (its
// 429s that spilled to PAYG) as the records' backend_attempts do.
func TestSummaryUtilization(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	res, err := Run(context.Background(), Options{Scenario: "testdata/clocks.yaml", OutDir: t.TempDir(), Clock: "virtual",
		Duration: 3 * time.Minute}, &out, io.Discard)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	raw, err := os.ReadFile(res.SummaryJSON)
	if err != nil {
		t.Fatal(err)
	}
	type util struct {
		Count int64   `json:"count"`
		Mean  float64 `json:"mean"`
		P95   float64 `json:"p95"`
	}
	var sf struct {
		Total struct {
			Utilization util `json:"utilization_pct"`
		} `json:"total"`
		Load struct {
			Personas []struct {
				Name        string `json:"name"`
				Utilization *util  `json:"utilization_pct"`
			} `json:"personas"`
		} `json:"load"`
	}
	if err := json.Unmarshal(raw, &sf); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, res.DB)
	check := func(who string, got util, where string) {
		t.Helper()
		var n int64
		var avg, p95 float64
		q := `SELECT count(utilization_pct), coalesce(avg(utilization_pct), 0), coalesce(quantile_disc(utilization_pct, 0.95), 0) FROM records WHERE ` + where
		if err := db.QueryRow(q).Scan(&n, &avg, &p95); err != nil {
			t.Fatal(err)
		}
		if n == 0 || got.Count != n || math.Abs(got.Mean-avg) > 0.002*avg+0.01 || math.Abs(got.P95-p95) > 0.002*p95+0.01 {
			t.Errorf("%s: summary utilization count %d avg %.2f%% p95 %.2f%%; records %d, %.2f%%, %.2f%%", who, got.Count, got.Mean, got.P95, n, avg, p95)
		}
	}
	check("total", sf.Total.Utilization, "true")
	for _, p := range sf.Load.Personas {
		if p.Utilization == nil {
			t.Fatalf("persona %s: no utilization_pct in summary.json", p.Name)
		}
		check(p.Name, *p.Utilization, "persona = '"+p.Name+"'")
	}
	if sf.Total.Utilization.P95 < 50 {
		t.Errorf("p95 utilization %.1f%%: the scenario fills its PTU backend, want well over 50%%", sf.Total.Utilization.P95)
	}
	// the report's capacity page gives what the PTU backend reported, from the records
	var n int64
	var avg, p95 float64
	if err := db.QueryRow(`SELECT count(*), avg(utilization_pct), quantile_disc(utilization_pct, 0.95) FROM records WHERE backend = 'ptu' AND utilization_pct IS NOT NULL`).Scan(&n, &avg, &p95); err != nil {
		t.Fatal(err)
	}
	pdf, err := os.ReadFile(res.ReportPDF)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(reporttest.PDFText(t, pdf)), " ")
	if want := fmt.Sprintf("ptu: average %.1f %%, p95 %.1f %% over %d answers", avg, p95, n); !strings.Contains(text, want) {
		t.Errorf("report.pdf lacks %q", want)
	}
	// every backend attempt, spill-over included, as the records say
	var attempts, refused, retried int64
	if err := db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE a.status = 429), count(*) FILTER (WHERE i < n AND a.status = 429)
		FROM (SELECT backend_attempts[i] AS a, i, len(backend_attempts) AS n
		      FROM (SELECT backend_attempts, generate_subscripts(backend_attempts, 1) AS i FROM records))
		WHERE a.backend = 'ptu'`).Scan(&attempts, &refused, &retried); err != nil {
		t.Fatal(err)
	}
	if refused == 0 || retried == 0 {
		t.Errorf("the PTU refused %d attempts, %d spilled; want some of both", refused, retried)
	}
	if want := fmt.Sprintf("ptu: %s attempts, %s refused with 429", groupDigits(attempts), groupDigits(refused)); !strings.Contains(text, want) {
		t.Errorf("report.pdf lacks %q", want)
	}
	line := fmt.Sprintf("deployment utilization (azure-openai-deployment-utilization): avg %.1f%%, p95 %.1f%% over %d answers",
		sf.Total.Utilization.Mean, sf.Total.Utilization.P95, sf.Total.Utilization.Count)
	if !strings.Contains(out.String(), line) {
		t.Errorf("printed summary lacks %q:\n%s", line, out.String())
	}
}

// groupDigits writes n with thousands separated by commas, as the PDF does.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
