package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/aiload/aiload/internal/benchproc"
	"github.com/aiload/aiload/internal/gcpolicy"
)

// Benchmark load roles (see TestMain): the test binary re-executed runs one
// load generator against the mock at AILOAD_BENCH_URL and prints its phase.
const (
	roleAiload = "load-aiload"
	roleVegeta = "load-vegeta"
)

// besideVegeta is the load of BenchmarkBesideVegeta: 2,000 req/s of the
// same chat completion for 5 s.
const (
	besideRate    = 2000
	besideSeconds = 5
	besideRounds  = 3
)

// loadPhase is what one load generator's process did in its run: CPU is
// its own user + system time from just before the load to the end of its
// results (the mock, in another process, is not in it).
type loadPhase struct {
	Sent   int64         `json:"sent"`
	OK     int64         `json:"ok"`
	CPU    time.Duration `json:"cpu_ns"`
	Wall   time.Duration `json:"wall_ns"`
	LagP99 float64       `json:"lag_p99_ms"`
	LatP50 float64       `json:"latency_p50_ms"`
}

// cpuPerRequest is the phase's CPU time per request sent, in microseconds.
func (p loadPhase) cpuPerRequest() float64 {
	if p.Sent == 0 {
		return 0
	}
	return float64(p.CPU.Microseconds()) / float64(p.Sent)
}

// BenchmarkBesideVegeta compares the load generator's CPU with vegeta's
// (github.com/tsenart/vegeta/v12, its library attacker) at the same
// open-loop rate and body: the built-in mock serves in one process, and
// each load generator runs in a process of its own for 5 s at 2,000
// req/s (aiload: 50 users with evenly spaced arrivals, 40 req/s each;
// vegeta: its constant pacer), three rounds, each one first in turn,
// after the mock has answered 2,000 requests to warm up. Each process
// measures its own CPU from just before its load to the end of its
// results, so neither the mock's CPU nor a process's start is counted;
// aiload_lag_p99_ms is the highest of the three rounds. aiload runs as
// the aiload binary does (its garbage-collector settings, interval
// snapshots and a histogram log); vegeta as its own binary does (Go's
// defaults), its results summed by vegeta.Metrics as `vegeta report` does.
// AILOAD_BENCH_CPUPROFILE=<dir> writes each generator's CPU profile of its
// last run there (load-aiload.prof, load-vegeta.prof), and
// AILOAD_BENCH_MEMPROFILE=<dir> its allocations (load-aiload.allocs, …).
//
//	go test -run '^$' -bench BesideVegeta ./loadgen
func BenchmarkBesideVegeta(b *testing.B) {
	mock := benchproc.Start(b, "mock")
	env := []string{"AILOAD_BENCH_URL=" + mock.URL, "AILOAD_BENCH_RATE=" + strconv.Itoa(besideRate),
		"AILOAD_BENCH_SECONDS=" + strconv.Itoa(besideSeconds)}
	warmUp(b, mock.URL)
	var ai, ve loadPhase
	var aiLag []float64
	for b.Loop() {
		if la, err := os.ReadFile("/proc/loadavg"); err == nil {
			b.Logf("load average before: %s", strings.TrimSpace(string(la)))
		}
		ai, ve, aiLag = loadPhase{}, loadPhase{}, nil
		for round := range besideRounds {
			var a, v loadPhase
			var ma, mv time.Duration
			phase := func(role string, p *loadPhase, m *time.Duration) {
				m0 := mock.CPU()
				*p = runLoad(b, role, env)
				*m = mock.CPU() - m0
			}
			if round%2 == 0 { // each goes first in turn
				phase(roleAiload, &a, &ma)
				phase(roleVegeta, &v, &mv)
			} else {
				phase(roleVegeta, &v, &mv)
				phase(roleAiload, &a, &ma)
			}
			b.Logf("aiload: %d sent, %d ok, CPU %v (%.1f µs/req), lag p99 %.2f ms, latency p50 %.2f ms; mock CPU %v",
				a.Sent, a.OK, a.CPU, a.cpuPerRequest(), a.LagP99, a.LatP50, ma)
			b.Logf("vegeta: %d sent, %d ok, CPU %v (%.1f µs/req), lag p99 ≈ %.2f ms, latency p50 %.2f ms; mock CPU %v",
				v.Sent, v.OK, v.CPU, v.cpuPerRequest(), v.LagP99, v.LatP50, mv)
			ai, ve = ai.add(a), ve.add(v)
			aiLag = append(aiLag, a.LagP99)
		}
	}
	b.ReportMetric(100*ai.CPU.Seconds()/ai.Wall.Seconds(), "aiload_cpu_%")
	b.ReportMetric(100*ve.CPU.Seconds()/ve.Wall.Seconds(), "vegeta_cpu_%")
	b.ReportMetric(ai.cpuPerRequest(), "aiload_µs/req")
	b.ReportMetric(ve.cpuPerRequest(), "vegeta_µs/req")
	b.ReportMetric(ai.cpuPerRequest()/ve.cpuPerRequest(), "aiload/vegeta")
	b.ReportMetric(maxOf(aiLag), "aiload_lag_p99_ms")
}

// warmUp sends the mock 2,000 requests one after another, so that the
// first generator measured does not meet a mock still warming up (its
// heap, its code paths) that the others do not.
func warmUp(b *testing.B, url string) {
	body := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + PromptText(20) + `"}],"max_tokens":5}`)
	for range 2000 {
		resp, err := http.Post(url+"/v1/chat/completions", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
}

// add sums two phases' counts and times (the lag and latency are the
// later phase's).
func (p loadPhase) add(q loadPhase) loadPhase {
	return loadPhase{Sent: p.Sent + q.Sent, OK: p.OK + q.OK, CPU: p.CPU + q.CPU, Wall: p.Wall + q.Wall,
		LagP99: q.LagP99, LatP50: q.LatP50}
}

func maxOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// runLoad runs one load role in its own process and reads its phase.
func runLoad(b *testing.B, role string, env []string) loadPhase {
	out := benchproc.Run(b, role, env...)
	var p loadPhase
	if err := json.Unmarshal(out, &p); err != nil {
		b.Fatalf("%s printed %q: %v", role, out, err)
	}
	if p.Sent == 0 || p.OK < p.Sent*99/100 {
		b.Fatalf("%s: %d of %d requests answered 200", role, p.OK, p.Sent)
	}
	return p
}

// serveLoad runs a load role (roleAiload or roleVegeta) from the
// environment and prints its phase as JSON on stdout.
func serveLoad(role string) error {
	url := os.Getenv("AILOAD_BENCH_URL")
	rate, err := strconv.Atoi(os.Getenv("AILOAD_BENCH_RATE"))
	if err != nil {
		return fmt.Errorf("AILOAD_BENCH_RATE: %w", err)
	}
	secs, err := strconv.Atoi(os.Getenv("AILOAD_BENCH_SECONDS"))
	if err != nil {
		return fmt.Errorf("AILOAD_BENCH_SECONDS: %w", err)
	}
	d := time.Duration(secs) * time.Second
	if dir := os.Getenv("AILOAD_BENCH_CPUPROFILE"); dir != "" {
		f, err := os.Create(filepath.Join(dir, role+".prof"))
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if dir := os.Getenv("AILOAD_BENCH_MEMPROFILE"); dir != "" {
		runtime.MemProfileRate = 4096
		defer writeAllocs(filepath.Join(dir, role+".allocs"))
	}
	var p loadPhase
	switch role {
	case roleAiload:
		p, err = ailoadLoad(url, rate, d)
	case roleVegeta:
		p, err = vegetaLoad(url, rate, d)
	default:
		err = fmt.Errorf("unknown benchmark role %q", role)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(p)
}

// writeAllocs writes the allocation profile to path (errors are ignored:
// a profile is a by-product of the benchmark).
func writeAllocs(path string) {
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	runtime.GC() // the profile is as of the last collection
	_ = pprof.Lookup("allocs").WriteTo(f, 0)
}

// besidePersona is the load of both generators: users sending the same
// 20-token prompt with max_tokens 5, evenly spaced, rate req/s in all.
func besidePersona(rate int) Persona {
	const users = 50
	p := Persona{Name: "bench", Kind: KindChat, Count: users, Rate: Rate(float64(rate) / users), Arrival: ArrivalConstant,
		Keys: []SubKey{{ID: "bench"}}, PromptTokens: Dist{Kind: DistFixed, Value: 20}, CompletionTokens: Dist{Kind: DistFixed, Value: 5}}
	p.Defaults()
	return p
}

// ailoadLoad runs aiload's load generator as `aiload run` does.
func ailoadLoad(url string, rate int, d time.Duration) (loadPhase, error) {
	gcpolicy.Apply()
	snaps := make(chan Snapshot, 1)
	go func() {
		for range snaps {
		}
	}()
	opts := Options{Scenario: "bench", Duration: d, Seed: 1, Model: "gpt-4o-mini", Target: Target{URL: url, API: "openai"},
		Personas: []Persona{besidePersona(rate)}, Drain: 5 * time.Second, Snapshots: snaps, HistogramLog: io.Discard}
	cpu0, t0 := benchproc.SelfCPU(), time.Now()
	res, err := Run(context.Background(), opts)
	if err != nil {
		return loadPhase{}, err
	}
	p := loadPhase{CPU: benchproc.SelfCPU() - cpu0, Wall: time.Since(t0)}
	s := res.Personas[0]
	p.Sent, p.OK, p.LagP99, p.LatP50 = s.Sent, s.OK, s.ScheduleLag.P99, s.Latency.P50
	return p, nil
}

// vegetaLoad runs vegeta's attacker with its defaults at rate for d with a
// static target: the body and headers of aiload's first user.
func vegetaLoad(url string, rate int, d time.Duration) (loadPhase, error) {
	p := besidePersona(rate)
	c := &call{p: &p, model: "gpt-4o-mini", userID: "bench-0"}
	body, err := requestBody(c, []message{{Role: "system", Content: systemPrompt}, {Role: "user", Content: PromptText(20)}}, 5)
	if err != nil {
		return loadPhase{}, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(HeaderScenario, "bench")
	h.Set(HeaderPersona, p.Name)
	h.Set(HeaderAttempt, "1")
	tgt := vegeta.Target{Method: http.MethodPost, URL: url + "/v1/chat/completions", Body: body, Header: h}
	atk := vegeta.NewAttacker()
	// vegeta does not report its schedule lag: it is estimated here as a
	// hit's timestamp (taken when a worker starts it, before its
	// connection) minus its place in the constant schedule from the start.
	lag := newHist()
	interval := time.Second / time.Duration(rate)
	var m vegeta.Metrics
	cpu0, t0 := benchproc.SelfCPU(), time.Now()
	for res := range atk.Attack(vegeta.NewStaticTargeter(tgt), vegeta.ConstantPacer{Freq: rate, Per: time.Second}, d, "bench") {
		m.Add(res)
		recordDur(lag, res.Timestamp.Sub(t0.Add(time.Duration(res.Seq)*interval)))
	}
	m.Close()
	ph := loadPhase{CPU: benchproc.SelfCPU() - cpu0, Wall: time.Since(t0), Sent: int64(m.Requests),
		OK: int64(m.StatusCodes["200"]), LagP99: ms(lag, 99), LatP50: m.Latencies.P50.Seconds() * 1e3}
	return ph, nil
}

func ms(h *hdrhistogram.Histogram, q float64) float64 { return float64(h.ValueAtQuantile(q)) / 1e6 }
