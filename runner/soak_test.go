package runner

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/internal/gcpolicy"
	"github.com/aiload/aiload/loadgen"
)

// soakScenario is about 1,000 requests per second (50 users at 20/s each)
// through the embedded gateway to the embedded mock.
const soakScenario = `
name: soak
duration: %s
seed: 3
model: gpt-4o-mini
mock: {first_token_delay: 5ms, per_token_delay: 100us}
gateway:
  products: [{name: p, tokens_per_minute: 1000000000}]
  subscriptions: [{id: s1, key: sk-soak-0001, product: p, team: soak}]
personas:
  - {name: soak, kind: chat, team: soak, subscription: s1, count: 50, rate: 1200/min, prompt_tokens: 100, completion_tokens: 20}
`

// TestSoakMemory runs `aiload run` in-process at about 1,000 requests per
// second for AILOAD_SOAK_DURATION (e.g. 60s or 10m; the test is skipped
// when it is unset, so it is not part of make test) and samples the
// process's resident set size once a second while the load runs. Records
// stream to disk, so RSS must stay flat: it fails when the peak during the
// load exceeds 300 MB or the last third of the run averages more than 1.5×
// the second third.
//
//	AILOAD_SOAK_DURATION=60s go test ./runner -run TestSoakMemory -v -timeout 30m
func TestSoakMemory(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("AILOAD_SOAK_DURATION"))
	if err != nil || d <= 0 {
		t.Skip("set AILOAD_SOAK_DURATION (e.g. 60s) to run the memory soak test")
	}
	// The aiload binary runs with these garbage-collector settings.
	defer debug.SetGCPercent(debug.SetGCPercent(gcpolicy.Percent))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(gcpolicy.MemoryLimit))
	dir := t.TempDir()
	path := filepath.Join(dir, "soak.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(soakScenario, d)), 0o644); err != nil {
		t.Fatal(err)
	}
	snaps := make(chan loadgen.Snapshot, 16)
	var rss []float64 // MB, one per snapshot while the load runs
	done := make(chan struct{})
	go func() {
		defer close(done)
		for s := range snaps {
			if !s.Final {
				rss = append(rss, float64(procStatusKB(t, "VmRSS"))/1024)
			}
		}
	}()
	t.Logf("load average before: %s", loadAvg())
	res, err := Run(context.Background(), Options{Scenario: path, OutDir: dir, ProgressEvery: time.Minute, Snapshots: snaps}, io.Discard, io.Discard)
	close(snaps)
	<-done
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("load average after: %s", loadAvg())
	tot := res.Load.Totals()
	t.Logf("%d requests in %v (%.0f req/s), %d records", tot.Sent, d, float64(tot.Sent)/d.Seconds(), res.Records)
	if len(rss) < 3 {
		t.Fatalf("only %d RSS samples", len(rss))
	}
	peak, third := 0.0, len(rss)/3
	for i, v := range rss {
		peak = max(peak, v)
		if i%10 == 0 {
			t.Logf("t=%3ds RSS %.0f MB", i+1, v)
		}
	}
	mid, last := mean(rss[third:2*third]), mean(rss[2*third:])
	t.Logf("RSS during the load: first %.0f MB, peak %.0f MB, mean of the middle third %.0f MB, of the last third %.0f MB; process peak (VmHWM, ingest and report included) %.0f MB",
		rss[0], peak, mid, last, float64(procStatusKB(t, "VmHWM"))/1024)
	if peak > 300 {
		t.Errorf("peak RSS %.0f MB during the load; want < 300 MB", peak)
	}
	if last > 1.5*mid {
		t.Errorf("RSS grows: last third averages %.0f MB, middle third %.0f MB", last, mid)
	}
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// procStatusKB reads a kB field (VmRSS, VmHWM) of /proc/self/status.
func procStatusKB(t *testing.T, field string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
