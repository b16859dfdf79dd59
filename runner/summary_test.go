package runner

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/loadgen"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestPrintPersonasGolden renders the per-persona table of the run summary
// for one persona of each kind and compares it with the golden file.
func TestPrintPersonasGolden(t *testing.T) {
	t.Parallel()
	p := func(ms float64) loadgen.Percentiles { return loadgen.Percentiles{Count: 10, P50: ms, P99: 4 * ms} }
	load := &loadgen.Result{Personas: []loadgen.Stats{
		{Name: "support-chat", Kind: "chat", Requests: 120, OK: 118, Throttled: 2, Retries: 2, Goodput: 110,
			TTFT: p(140), Latency: p(300), LatencyCorrected: p(320), OutputTokensPerSec: 198.4, RetryWaitSeconds: 3.2},
		{Name: "office-users", Kind: "nat", Requests: 300, OK: 250, Throttled: 80, Retries: 30, GaveUp: 50, Goodput: 250,
			TTFT: p(90), Latency: p(200), LatencyCorrected: p(210), OutputTokensPerSec: 640, RetryWaitSeconds: 41.5},
		{Name: "invoice-batch", Kind: "batch", Requests: 80, OK: 60, Throttled: 40, Retries: 35, GaveUp: 5, Goodput: 60,
			TTFT: p(500), Latency: p(500), LatencyCorrected: p(2500), OutputTokensPerSec: 780, RetryWaitSeconds: 120,
			Jobs: &loadgen.JobStats{Started: 2, Completed: 1, Failed: 1}},
		{Name: "research-agent", Kind: "agent", Requests: 50, OK: 47, Throttled: 6, Retries: 3, GaveUp: 3, Goodput: 47,
			TTFT: p(220), Latency: p(220), LatencyCorrected: p(230), OutputTokensPerSec: 600, RetryWaitSeconds: 9,
			Pipelines: &loadgen.PipelineStats{Started: 10, Completed: 7, Broken: 2, Unfinished: 1, ThrottleDelaySeconds: 14.6}},
	}}
	var got bytes.Buffer
	printPersonas(&got, load)
	golden := filepath.Join("testdata", "personas.golden")
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("persona table differs from %s (-update to accept):\ngot:\n%s\nwant:\n%s", golden, got.Bytes(), want)
	}
}

// TestSummaryThrottledShare runs a scenario whose research team retries on
// 429 (virtual clock) and checks the run summary's table: requests are
// first attempts, throttled those refused with their share (never above
// 100 %), retries apart, all as counted in the run's DuckDB file.
func TestSummaryThrottledShare(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	res, err := Run(context.Background(), Options{Scenario: "testdata/clocks.yaml", OutDir: t.TempDir(), Clock: "virtual",
		Duration: 3 * time.Minute}, &out, io.Discard)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	db := openDB(t, res.DB)
	counts := queryMap(t, db, `SELECT subscription_id,
	    count(*) FILTER (WHERE attempt = 1),
	    count(*) FILTER (WHERE attempt = 1 AND status IN (429, 403)),
	    count(*) FILTER (WHERE attempt > 1),
	    count(*) FILTER (WHERE attempt > 1 AND status IN (429, 403))
	  FROM records GROUP BY ALL`)
	research := counts["research-sub"]
	if research[2] == 0 {
		t.Fatalf("research-sub: %v; the scenario should make it retry after 429s", research)
	}
	for sub, c := range counts {
		var row []string
		for _, l := range strings.Split(out.String(), "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == sub {
				row = f
			}
		}
		share := 100 * float64(c[1]) / float64(c[0])
		want := []string{strconv.FormatInt(c[0], 10), strconv.FormatInt(c[1], 10), fmt.Sprintf("(%.1f%%)", share)}
		if len(row) < 8 || row[3] != want[0] || row[5] != want[1] || row[6] != want[2] {
			t.Errorf("%s: summary row %q, want requests %s, throttled %s %s", sub, row, want[0], want[1], want[2])
		}
		if c[2] > 0 && !strings.Contains(strings.Join(row, " "), fmt.Sprintf("%d (%d refused)", c[2], c[3])) {
			t.Errorf("%s: summary row %q lacks retries %d (%d refused)", sub, row, c[2], c[3])
		}
		if share > 100 {
			t.Errorf("%s: throttled share %.1f%% from %v", sub, share, c)
		}
	}
}
