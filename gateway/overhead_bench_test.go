package gateway_test

import (
	"context"
	"fmt"
	"io"
	stdlog "log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/goccy/go-yaml"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/record"
)

// overheadBody is a small chat request (about 20 prompt tokens, 5
// completion tokens), so the figures are dominated by the gateway's fixed
// cost per request rather than by token counting or copying.
const overheadBody = `{"model":"gpt-4o-mini","max_tokens":5,"messages":[{"role":"user","content":"Summarise the attached meeting notes in three short bullet points for the team."}]}`

// overheadKey is the subscription key the benchmark gateway accepts.
const overheadKey = "bench-key"

// benchRig is the mock backend, the gateway in front of it (writing its
// records to a JSONL file, as `aiload gateway serve` does) and a plain
// httputil.ReverseProxy in front of the same mock, all on loopback.
type benchRig struct {
	mock, gw, proxy *httptest.Server
	log             *record.Writer
}

func newBenchRig(b *testing.B) *benchRig {
	b.Helper()
	var cfg gateway.Config
	if err := yaml.Unmarshal([]byte(`
backends: [{name: mock}]
products: [{name: p, tokens_per_minute: 1000000000000}]
subscriptions: [{id: s1, key: `+overheadKey+`, product: p, team: t}]
`), &cfg); err != nil {
		b.Fatal(err)
	}
	mock := httptest.NewServer(mockllm.New(mockllm.Config{Seed: 1}))
	f, err := os.Create(filepath.Join(b.TempDir(), "tokens.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	log := record.NewWriter(f, 0)
	g, err := gateway.New(cfg, mock.URL, gateway.Options{Sink: log, RunID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	target, _ := url.Parse(mock.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 2048, 512 // as the gateway's default transport
	rp.Transport = t
	rp.ErrorLog = stdlog.New(io.Discard, "", 0) // wrk cuts requests short when it stops
	r := &benchRig{mock: mock, gw: httptest.NewServer(g), proxy: httptest.NewServer(rp), log: log}
	b.Cleanup(func() {
		r.gw.Close()
		r.proxy.Close()
		r.mock.Close()
		_ = log.Close()
		_ = f.Close()
	})
	return r
}

// loadAverage is /proc/loadavg's first three fields ("" elsewhere).
func loadAverage() string {
	la, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(la))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// phase is what one open-loop run measured.
type phase struct {
	hist      *hdrhistogram.Histogram // request latency, µs
	sent, bad int64
	cpu       time.Duration
}

// openLoop sends rate requests per second to url for d, each at its
// scheduled time whether or not earlier ones have answered (open loop), and
// records each request's latency from the moment it was sent to the end of
// its body in µs. Requests that fail or answer other than 200 are counted
// in bad. The process's CPU time over the run goes into cpu.
func openLoop(ctx context.Context, client *http.Client, url string, hdr http.Header, rate float64, d time.Duration, into *phase) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var bad atomic.Int64
	interval := time.Duration(float64(time.Second) / rate)
	cpu0 := cpuTime()
	start := time.Now()
	var i int64
	for ; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if due.Sub(start) >= d || ctx.Err() != nil {
			break
		}
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(overheadBody))
			req.Header = hdr.Clone()
			sent := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				bad.Add(1)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			lat := time.Since(sent)
			if resp.StatusCode != http.StatusOK {
				bad.Add(1)
				return
			}
			mu.Lock()
			_ = into.hist.RecordValue(lat.Microseconds())
			mu.Unlock()
		}()
	}
	wg.Wait()
	into.cpu += cpuTime() - cpu0
	into.sent += i
	into.bad += bad.Load()
}

func newPhase() *phase { return &phase{hist: hdrhistogram.New(1, 60_000_000, 3)} }

// BenchmarkGatewayOverhead sends the same fixed-rate, open-loop load
// (AILOAD_BENCH_RATE, default 2000 req/s) on loopback to the built-in mock
// backend directly and through the gateway, in alternating 2-second rounds
// (three each, after a warm-up), and reports the latency each saw and the
// difference: the latency the gateway adds, at p50 and p99.
//
// Gateway CPU per request is differential: the process's CPU time
// (getrusage) during the gateway rounds minus that during the direct rounds,
// divided by the requests sent. Both kinds of round run the same load
// generator and the same mock in this process, so what is left is the
// gateway's work plus its second loopback hop (the extra accept, read and
// write on both sides of it), which is what putting the gateway in the path
// costs. The machine is shared: the load average is logged.
//
//	go test ./gateway -run '^$' -bench GatewayOverhead -benchtime 1x
func BenchmarkGatewayOverhead(b *testing.B) {
	rate := 2000.0
	if v, err := strconv.ParseFloat(os.Getenv("AILOAD_BENCH_RATE"), 64); err == nil && v > 0 {
		rate = v
	}
	rig := newBenchRig(b)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 4096, 4096
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	direct := http.Header{"Content-Type": {"application/json"}}
	viaGW := http.Header{"Content-Type": {"application/json"}, "Ocp-Apim-Subscription-Key": {overheadKey}}
	b.Logf("load average before: %s", loadAverage())
	ctx := context.Background()
	var d, g *phase
	for b.Loop() {
		d, g = newPhase(), newPhase()
		openLoop(ctx, client, rig.mock.URL+"/v1/chat/completions", direct, rate, 500*time.Millisecond, newPhase())
		openLoop(ctx, client, rig.gw.URL+"/v1/chat/completions", viaGW, rate, 500*time.Millisecond, newPhase())
		for range 3 {
			openLoop(ctx, client, rig.mock.URL+"/v1/chat/completions", direct, rate, 2*time.Second, d)
			openLoop(ctx, client, rig.gw.URL+"/v1/chat/completions", viaGW, rate, 2*time.Second, g)
		}
	}
	b.Logf("load average after: %s", loadAverage())
	if d.bad+g.bad > 0 {
		b.Errorf("failed requests: %d direct, %d through the gateway", d.bad, g.bad)
	}
	p := func(h *hdrhistogram.Histogram, q float64) float64 { return float64(h.ValueAtQuantile(q)) }
	b.ReportMetric(rate, "rate_req/s")
	b.ReportMetric(p(d.hist, 50), "direct_p50_us")
	b.ReportMetric(p(g.hist, 50), "gw_p50_us")
	b.ReportMetric(p(g.hist, 50)-p(d.hist, 50), "added_p50_us")
	b.ReportMetric(p(d.hist, 99), "direct_p99_us")
	b.ReportMetric(p(g.hist, 99), "gw_p99_us")
	b.ReportMetric(p(g.hist, 99)-p(d.hist, 99), "added_p99_us")
	perReq := func(ph *phase) float64 { return float64(ph.cpu.Microseconds()) / float64(ph.sent) }
	b.ReportMetric(perReq(d), "direct_cpu_us/req")
	b.ReportMetric(perReq(g), "gw_run_cpu_us/req")
	b.ReportMetric(perReq(g)-perReq(d), "gw_cpu_us/req")
}

// BenchmarkGatewaySaturation drives, with wrk (-t2 -c64, 3 s per run), a
// plain httputil.ReverseProxy and the gateway, both in front of the same
// mock backend in this process, in the order proxy, gateway, gateway,
// proxy (so a drift in the machine's load falls on both alike), and
// reports each one's mean requests/s and their ratio; the mock alone is
// measured once for context. Skipped when wrk is not installed.
//
//	go test ./gateway -run '^$' -bench GatewaySaturation -benchtime 1x
func BenchmarkGatewaySaturation(b *testing.B) {
	bin, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("wrk not installed (Debian package wrk): skipping the saturation comparison")
	}
	rig := newBenchRig(b)
	script := filepath.Join(b.TempDir(), "post.lua")
	lua := fmt.Sprintf("wrk.method = \"POST\"\nwrk.body = %q\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Ocp-Apim-Subscription-Key\"] = %q\n", overheadBody, overheadKey)
	if err := os.WriteFile(script, []byte(lua), 0o644); err != nil {
		b.Fatal(err)
	}
	run := func(name, base string) float64 {
		out, err := exec.Command(bin, "-t2", "-c64", "-d3s", "-s", script, base+"/v1/chat/completions").CombinedOutput()
		if err != nil {
			b.Fatalf("wrk %s: %v\n%s", name, err, out)
		}
		if bytesNon2xx := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`).FindSubmatch(out); bytesNon2xx != nil {
			b.Errorf("wrk %s: %s non-2xx answers", name, bytesNon2xx[1])
		}
		m := regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`).FindSubmatch(out)
		if m == nil {
			b.Fatalf("wrk %s: output without Requests/sec:\n%s", name, out)
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		b.Logf("%-8s %8.0f req/s (load average %s)", name, v, loadAverage())
		return v
	}
	var mock, proxy, gw float64
	for b.Loop() {
		mock = run("mock", rig.mock.URL)
		proxy = run("proxy", rig.proxy.URL)
		gw = run("gateway", rig.gw.URL)
		gw = (gw + run("gateway", rig.gw.URL)) / 2
		proxy = (proxy + run("proxy", rig.proxy.URL)) / 2
	}
	b.ReportMetric(mock, "mock_req/s")
	b.ReportMetric(proxy, "proxy_req/s")
	b.ReportMetric(gw, "gw_req/s")
	b.ReportMetric(gw/proxy, "gw/proxy")
}

// BenchmarkGatewayRequestEstimateOff is BenchmarkGatewayRequest's pipeline
// with the common API Management setup: a product's tokens-per-minute
// limit with prompt estimation off (charged from the backend's usage), the
// records written as JSONL to a file. The backend answers in-process.
func BenchmarkGatewayRequestEstimateOff(b *testing.B) {
	var cfg gateway.Config
	if err := yaml.Unmarshal([]byte(`
backends: [{name: b, url: "http://backend.invalid"}]
products: [{name: p, tokens_per_minute: 1000000000000}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
`), &cfg); err != nil {
		b.Fatal(err)
	}
	backend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, benchAnswer)
	})
	f, err := os.Create(filepath.Join(b.TempDir(), "tokens.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	log := record.NewWriter(f, 0)
	defer f.Close()
	defer log.Close()
	gw, err := gateway.New(cfg, "", gateway.Options{Sink: log, Transport: handlerTransport{backend}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(overheadBody))
		req.Header.Set("Ocp-Apim-Subscription-Key", "k1")
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	// CPU time (all threads, GC included) per request: steadier than
	// ns/op on a shared machine.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
