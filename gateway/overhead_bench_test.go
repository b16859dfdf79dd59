package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
	"github.com/aiload/aiload/internal/benchproc"
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
// httputil.ReverseProxy in front of the same mock, each in its own process
// on loopback.
type benchRig struct {
	mock, gw, proxy *benchproc.Child
	gwLog           string // the gateway's JSONL records
}

func newBenchRig(b *testing.B) *benchRig {
	b.Helper()
	mock := benchproc.Start(b, "mock")
	up := "AILOAD_BENCH_UPSTREAM=" + mock.URL
	log := filepath.Join(b.TempDir(), "gateway.jsonl")
	return &benchRig{mock: mock, gw: benchproc.Start(b, "gateway", up, "AILOAD_BENCH_LOG="+log),
		proxy: benchproc.Start(b, "proxy", up), gwLog: log}
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
// backend directly, through the gateway and through a plain
// httputil.ReverseProxy, in alternating 2-second rounds (three each, after
// a warm-up), and reports the latency each saw and the differences: the
// latency the gateway adds at p50 and p99, beside what the plain proxy's
// extra hop adds.
//
// The mock, the gateway and the proxy each run in their own process (the
// test binary re-executed), so each one's CPU time per request is its own
// (from /proc/PID/stat, Linux only). The load generator is this process.
// The machine is shared: the load average is logged.
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
	const path = "/v1/chat/completions"
	var d, g, px *phase
	var gwCPU, pxCPU, mockCPU time.Duration
	for b.Loop() {
		d, g, px = newPhase(), newPhase(), newPhase()
		gwCPU, pxCPU, mockCPU = 0, 0, 0
		for _, u := range []string{rig.mock.URL, rig.gw.URL, rig.proxy.URL} {
			openLoop(ctx, client, u+path, viaGW, rate, 500*time.Millisecond, newPhase())
		}
		for range 3 {
			m0 := rig.mock.CPU()
			openLoop(ctx, client, rig.mock.URL+path, direct, rate, 2*time.Second, d)
			mockCPU += rig.mock.CPU() - m0
			c0 := rig.gw.CPU()
			openLoop(ctx, client, rig.gw.URL+path, viaGW, rate, 2*time.Second, g)
			gwCPU += rig.gw.CPU() - c0
			c0 = rig.proxy.CPU()
			openLoop(ctx, client, rig.proxy.URL+path, direct, rate, 2*time.Second, px)
			pxCPU += rig.proxy.CPU() - c0
		}
	}
	b.Logf("load average after: %s", loadAverage())
	if d.bad+g.bad+px.bad > 0 {
		b.Errorf("failed requests: %d direct, %d through the gateway, %d through the proxy", d.bad, g.bad, px.bad)
	}
	p := func(h *hdrhistogram.Histogram, q float64) float64 { return float64(h.ValueAtQuantile(q)) }
	b.ReportMetric(rate, "rate_req/s")
	b.ReportMetric(p(d.hist, 50), "direct_p50_us")
	b.ReportMetric(p(g.hist, 50), "gw_p50_us")
	b.ReportMetric(p(g.hist, 50)-p(d.hist, 50), "added_p50_us")
	b.ReportMetric(p(px.hist, 50)-p(d.hist, 50), "proxy_added_p50_us")
	b.ReportMetric(p(d.hist, 99), "direct_p99_us")
	b.ReportMetric(p(g.hist, 99), "gw_p99_us")
	b.ReportMetric(p(g.hist, 99)-p(d.hist, 99), "added_p99_us")
	b.ReportMetric(p(px.hist, 99)-p(d.hist, 99), "proxy_added_p99_us")
	// What the gateway reports of itself: the time from its handler's start
	// to the record minus the backend's part (TotalTime - BackendTime in
	// API Management's logs).
	rig.gw.Stop()
	internal := gatewayInternal(b, rig.gwLog)
	b.ReportMetric(p(internal, 50), "gw_internal_p50_us")
	b.ReportMetric(p(internal, 99), "gw_internal_p99_us")
	perReq := func(cpu time.Duration, ph *phase) float64 { return float64(cpu.Microseconds()) / float64(ph.sent) }
	b.ReportMetric(perReq(gwCPU, g), "gw_cpu_us/req")
	b.ReportMetric(perReq(pxCPU, px), "proxy_cpu_us/req")
	b.ReportMetric(perReq(mockCPU, d), "mock_cpu_us/req")
}

// gatewayInternal is the distribution, in µs, of latency_ms -
// backend_latency_ms over the records of the JSONL file at path.
func gatewayInternal(b *testing.B, path string) *hdrhistogram.Histogram {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	h := hdrhistogram.New(1, 60_000_000, 3)
	dec := json.NewDecoder(f)
	for {
		var r record.Record
		if err := dec.Decode(&r); err == io.EOF {
			break
		} else if err != nil {
			b.Fatalf("%s: %v", path, err)
		}
		_ = h.RecordValue(max(1, int64((r.LatencyMS-r.BackendLatencyMS)*1000)))
	}
	if h.TotalCount() == 0 {
		b.Fatalf("%s: no records", path)
	}
	return h
}

// BenchmarkGatewaySaturation drives, with wrk (-t2 -c64, 3 s per run), a
// plain httputil.ReverseProxy and the gateway, both in front of the same
// mock backend, each in its own process, in the order proxy, gateway, gateway,
// proxy (so a drift in the machine's load falls on both alike), and
// reports each one's mean requests/s and their ratio; the mock alone is
// measured once for context. Skipped when wrk is not installed.
//
//	go test ./gateway -run '^$' -bench GatewaySaturation -benchtime 1x
func BenchmarkGatewaySaturation(b *testing.B) {
	w := newWrk(b, "the saturation comparison", "-t2", "-c64")
	rig := newBenchRig(b)
	var mock, proxy, gw float64
	for b.Loop() {
		mock = w.run("mock", rig.mock.URL, 3*time.Second)
		proxy = w.run("proxy", rig.proxy.URL, 3*time.Second)
		gw = w.run("gateway", rig.gw.URL, 3*time.Second)
		gw = (gw + w.run("gateway", rig.gw.URL, 3*time.Second)) / 2
		proxy = (proxy + w.run("proxy", rig.proxy.URL, 3*time.Second)) / 2
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
