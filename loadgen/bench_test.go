package loadgen

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/internal/benchproc"
	"github.com/aiload/aiload/internal/gcpolicy"
)

// BenchmarkMaxRate searches for the highest open-loop request rate the
// load generator sustains against the built-in mock backend (no modelled
// latency, in its own process) on loopback, where "sustains" means the schedule-lag p99 stays
// under 2 ms and at least 98 % of the intended requests were sent. Next to
// it, wrk (when installed) drives the same mock as fast as it can with 64
// connections, which bounds what the machine can serve at all. Each probe
// runs 2 s; the whole search takes about 30 s.
//
//	go test -run '^$' -bench MaxRate ./loadgen
func BenchmarkMaxRate(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(gcpolicy.Percent)) // as aiload runs
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(gcpolicy.MemoryLimit))
	mock := benchproc.Start(b, "mock")
	var best, lagAtBest float64
	for b.Loop() {
		best, lagAtBest = searchRate(b, mock.URL)
	}
	b.ReportMetric(best, "max_req/s")
	b.ReportMetric(lagAtBest, "lag_p99_ms")
	b.ReportMetric(wrkRate(b, mock.URL), "wrk_req/s")
}

// probe runs rate req/s for 2 s and returns the schedule-lag p99 (ms) and
// the share of the intended requests that were sent.
func probe(b *testing.B, url string, rate float64) (lagP99, sentShare float64) {
	const users, d = 50, 2 * time.Second
	p := Persona{Name: "bench", Kind: KindChat, Count: users, Rate: Rate(rate / users), Arrival: ArrivalConstant,
		Keys: []SubKey{{ID: "bench"}}, PromptTokens: Dist{Kind: DistFixed, Value: 20}, CompletionTokens: Dist{Kind: DistFixed, Value: 5}}
	p.Defaults()
	res, err := Run(context.Background(), Options{Scenario: "bench", Duration: d, Seed: 1, Model: "gpt-4o-mini",
		Target: Target{URL: url, API: "openai"}, Personas: []Persona{p}, Drain: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	s := res.Personas[0]
	return s.ScheduleLag.P99, float64(s.Sent) / (rate * d.Seconds())
}

// searchRate doubles (or halves) the rate from 500 req/s until the
// outcome flips, then bisects three times.
func searchRate(b *testing.B, url string) (best, lagAtBest float64) {
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("load average before the search: %s", strings.TrimSpace(string(la)))
	}
	ok := func(rate float64) bool {
		lag, share := probe(b, url, rate)
		pass := lag < 2 && share >= 0.98
		b.Logf("rate %6.0f req/s: lag p99 %.2f ms, sent %.1f%% of intended → %v", rate, lag, share*100, pass)
		if pass && rate > best {
			best, lagAtBest = rate, lag
		}
		return pass
	}
	lo, hi, rate := 0.0, 0.0, 500.0
	if ok(rate) {
		for lo = rate; hi == 0 && rate < 64000; {
			if rate *= 2; ok(rate) {
				lo = rate
			} else {
				hi = rate
			}
		}
	} else {
		for hi = rate; lo == 0 && rate > 40; {
			if rate /= 2; ok(rate) {
				lo = rate
			} else {
				hi = rate
			}
		}
	}
	for i := 0; i < 3 && lo > 0 && hi > 0; i++ {
		if mid := (lo + hi) / 2; ok(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return best, lagAtBest
}

// wrkRate runs wrk against the mock with the same request body and
// returns its requests/s, or 0 (and says so) when wrk is not installed.
func wrkRate(b *testing.B, url string) float64 {
	bin, err := exec.LookPath("wrk")
	if err != nil {
		b.Log("wrk not installed (Debian package wrk): skipping the wrk comparison")
		return 0
	}
	script := filepath.Join(b.TempDir(), "post.lua")
	body := fmt.Sprintf(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":%q}],"max_tokens":5}`, PromptText(20))
	lua := fmt.Sprintf("wrk.method = \"POST\"\nwrk.body = %q\nwrk.headers[\"Content-Type\"] = \"application/json\"\n", body)
	if err := os.WriteFile(script, []byte(lua), 0o644); err != nil {
		b.Fatal(err)
	}
	out, err := exec.Command(bin, "-t2", "-c64", "-d5s", "-s", script, url+"/v1/chat/completions").CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		b.Fatalf("wrk output without Requests/sec:\n%s", out)
	}
	b.Logf("wrk -t2 -c64 -d5s:\n%s", out)
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}
