package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/chat"
	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/loadgen"
	"github.com/aiload/aiload/record"
	"github.com/aiload/aiload/scenario"
	"github.com/aiload/aiload/vclock"
)

// virtualEpoch is midnight UTC of the day a virtual run starts on (a
// Monday); the clock starts at the hour of day of the first persona with a
// daily shape (its start_hour), else at midnight. Fixed, so that records
// of a virtual run are reproducible.
func virtualEpoch() time.Time { return time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) }

// gatewayHost is the in-process gateway's address in a virtual run.
const gatewayHost = "http://gateway.virtual"

// Simulation is one scenario run on virtual time: the built-in mocks and
// the gateway answer in process on the caller's goroutine, the load
// generator's users are actors of a vclock.Clock. Requests go to the
// gateway, and from it to the mocks, as parsed values (gateway.Gateway.Call,
// mockllm.Server.Call): the same policy code without the wire format.
type Simulation struct {
	Load   *loadgen.Result
	Served map[string]mockllm.Usage // by persona, as the mocks counted
	// Start and End are the virtual times the run began and ended.
	Start, End time.Time
	// ExportErr is why the gateway's last OTLP export (gateway.otlp)
	// failed, if it did; the records are complete all the same.
	ExportErr error
}

// Simulate runs sc on a virtual clock, writing every record to sink. runID
// is written into every record. snaps, when set, receives the final
// snapshot. The same scenario and seed give the same records, in the
// same order.
func Simulate(ctx context.Context, sc *scenario.Scenario, sink record.Sink, runID string, snaps chan<- loadgen.Snapshot) (*Simulation, error) {
	return SimulateWith(ctx, sc, sink, SimulateOptions{RunID: runID, Snapshots: snaps})
}

// SimulateOptions are the optional parts of a simulation.
type SimulateOptions struct {
	// RunID is written into every record.
	RunID string
	// Snapshots, when set, receives the final snapshot.
	Snapshots chan<- loadgen.Snapshot
	// Shard runs one shard's share of the users (aiload run --shard).
	Shard loadgen.Shard
	// HistogramLog, when set, receives the .hlog of corrected latencies.
	HistogramLog io.Writer
	// Clock is the virtual clock to run on (default: a new one at the
	// scenario's start, see virtualStart); a caller that shows progress
	// reads simulated time from it.
	Clock *vclock.Clock
	// Wire sends every request as HTTP with a JSON body through the
	// gateway's and the mocks' HTTP handlers (still in process, no
	// sockets), as before the in-process entry points existed: many times
	// slower; the records are the same, but for streams' ttft_ms, which is
	// the whole stream on this path (a stream arrives complete).
	Wire bool
}

// SimulateWith is Simulate with every option.
func SimulateWith(ctx context.Context, sc *scenario.Scenario, sink record.Sink, so SimulateOptions) (*Simulation, error) {
	runID, snaps := so.RunID, so.Snapshots
	if !sc.Target.Embedded() {
		return nil, errors.New("virtual clock: needs the embedded gateway (target.url must be empty)")
	}
	clk := so.Clock
	if clk == nil {
		clk = vclock.New(virtualStart(sc))
	}
	mocks, err := virtualMocks(sc, clk)
	if err != nil {
		return nil, err
	}
	gw, err := gateway.New(sc.Gateway, mocks.fallback, gateway.Options{
		Sink: sink, RunID: runID, Clock: clk, Timing: clk, BackendURLs: mocks.urls,
		Transport: mocks.hosts, InProcess: mocks.callers(), RequestID: seededIDs(sc.Seed, so.Shard),
		Sleep: virtualSleep(clk),
	})
	if err != nil {
		return nil, err
	}
	lo, err := loadOptions(sc, gatewayHost)
	if err != nil {
		return nil, err
	}
	lo.Clock, lo.Transport, lo.Snapshots = clk, inProcess{gw}, snaps
	if !so.Wire {
		lo.Gateway = gw
	}
	lo.Shard, lo.HistogramLog = so.Shard, so.HistogramLog
	sim := &Simulation{Start: clk.Now()}
	if sim.Load, err = loadgen.Run(ctx, lo); err != nil {
		return nil, err
	}
	sim.End = clk.Now()
	sim.Served = mocks.served()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	sim.ExportErr = gw.Shutdown(sctx)
	return sim, nil
}

// virtualStart is the virtual clock's start: virtualEpoch at the first
// daily shape's start_hour.
func virtualStart(sc *scenario.Scenario) time.Time {
	for _, p := range sc.Personas {
		if p.Shape.Kind == loadgen.ShapeKindDaily {
			return virtualEpoch().Add(time.Duration(p.Shape.StartHour * float64(time.Hour)))
		}
	}
	return virtualEpoch()
}

// seededIDs returns a source of version-4-shaped request ids drawn from
// seed, for reproducible records.
func seededIDs(seed uint64, sh loadgen.Shard) func() string {
	var mu sync.Mutex
	// each shard draws its own ids, so merged shards never collide
	rng := rand.New(rand.NewPCG(seed, 0x72657169+uint64(sh.Index)<<32+uint64(sh.Count)))
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		var u uuid.UUID
		for i := 0; i < 16; i += 8 {
			v := rng.Uint64()
			for k := 0; k < 8; k++ {
				u[i+k] = byte(v >> (8 * k))
			}
		}
		u[6] = u[6]&0x0f | 0x40
		u[8] = u[8]&0x3f | 0x80
		return u.String()
	}
}

// virtualMockSet is the scenario's mocks, answering in process.
type virtualMockSet struct {
	urls     map[string]string
	fallback string
	hosts    hostTransport
	mocks    []*mockllm.Server
}

// virtualMocks builds the mocks startMocks would start, on clk's time.
func virtualMocks(sc *scenario.Scenario, clk *vclock.Clock) (*virtualMockSet, error) {
	cfg := sc.Gateway
	cfg.Backends = append(cfg.Backends[:0:0], cfg.Backends...)
	cfg.Defaults()
	for i, q := range cfg.Quotas {
		if q.Bandwidth > 0 {
			return nil, fmt.Errorf("virtual clock: gateway.quotas[%d].bandwidth is not simulated (requests travel in process, without bodies to count)", i)
		}
	}
	ms := &virtualMockSet{urls: map[string]string{}, hosts: hostTransport{}}
	sleep := func(ctx context.Context, d time.Duration) error {
		if !clk.Sleep(d) {
			return context.Canceled
		}
		return nil
	}
	add := func(name string, c mockllm.Config) (string, error) {
		if c.TimeoutRate > 0 {
			return "", fmt.Errorf("virtual clock: backend %s: mock timeout_rate is not simulated (a hung request needs a wall-clock timeout)", name)
		}
		c.Clock, c.Sleep = clk, sleep
		m := mockllm.New(c)
		ms.mocks = append(ms.mocks, m)
		host := fmt.Sprintf("mock-%d.virtual", len(ms.mocks))
		ms.hosts[host] = m
		return "http://" + host, nil
	}
	shared := false
	for i, b := range cfg.Backends {
		switch {
		case b.URL != "":
			return nil, fmt.Errorf("virtual clock: backend %s has a url; only built-in mocks can be simulated", b.Name)
		case b.Mock != nil:
			u, err := add(b.Name, backendMock(sc, *b.Mock, uint64(i)))
			if err != nil {
				return nil, err
			}
			ms.urls[b.Name] = u
		default:
			shared = true
		}
	}
	if shared {
		u, err := add("(shared mock)", mockConfig(sc))
		if err != nil {
			return nil, err
		}
		ms.fallback = u
	}
	return ms, nil
}

// callers are the mocks by base URL, for gateway.Options.InProcess.
func (ms *virtualMockSet) callers() map[string]chat.Caller {
	out := make(map[string]chat.Caller, len(ms.hosts))
	for host, h := range ms.hosts {
		out["http://"+host] = h.(*mockllm.Server)
	}
	return out
}

func (ms *virtualMockSet) served() map[string]mockllm.Usage {
	set := &mockSet{mocks: ms.mocks}
	return set.served()
}

// driveVirtual is drive on a virtual clock: the same records, the same
// load generator result, no sockets.
func driveVirtual(ctx context.Context, sc *scenario.Scenario, res *Result, opts Options, l *live, stderr io.Writer) (map[string]mockllm.Usage, error) {
	log, err := l.createLog(res.Log)
	if err != nil {
		return nil, err
	}
	hlog, err := os.Create(res.HistogramLog)
	if err != nil {
		log.Close()
		return nil, fmt.Errorf("create histogram log: %w", err)
	}
	defer hlog.Close()
	fmt.Fprintf(stderr, "aiload: %s for %v on a virtual clock\n", sc.Name, sc.Duration.D())
	snaps := make(chan loadgen.Snapshot, 1)
	clk := vclock.New(virtualStart(sc))
	l.now = clk.Now // progress lines and the dashboard show simulated time
	l.begin()
	began := time.Now()
	sim, err := SimulateWith(ctx, sc, l.sink(opts.logSink(log)), SimulateOptions{RunID: virtualRunID(sc), Snapshots: snaps,
		Shard: opts.Shard, HistogramLog: hlog, Clock: clk})
	if sim != nil {
		res.Load = sim.Load
	}
	if cerr := log.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close record log: %w", cerr)
	}
	if err != nil {
		return nil, err
	}
	select {
	case s := <-snaps:
		l.loadSnapshot(s)
	default:
	}
	fmt.Fprintf(stderr, "aiload: simulated %v (%s to %s) in %v\n", sim.End.Sub(sim.Start).Round(time.Millisecond),
		sim.Start.Format(time.RFC3339), sim.End.Format(time.RFC3339), time.Since(began).Round(time.Millisecond))
	if sim.ExportErr != nil {
		fmt.Fprintf(stderr, "aiload: export the last token metrics: %v\n", sim.ExportErr)
	}
	res.Load = sim.Load
	return sim.Served, nil
}

// virtualRunID names a virtual run's records: the scenario and its seed,
// so the same run gives the same records.
func virtualRunID(sc *scenario.Scenario) string {
	return fmt.Sprintf("%s-virtual-seed%d", sc.Name, sc.Seed)
}

// inProcess is an http.RoundTripper that serves each request with a
// handler on the caller's goroutine: no sockets, so it can run on a
// virtual clock.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	remote := "127.0.0.1:40000"
	if src := loadgen.SourceAddr(req.Context()); src != "" {
		remote = src + ":40000"
	}
	sreq := req.Clone(req.Context())
	sreq.RemoteAddr = remote
	sreq.RequestURI = req.URL.RequestURI()
	sreq.Host = req.URL.Host
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	w := newRecorder()
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				panic(p)
			}
			resp, err = nil, errors.New("connection reset by peer")
		}
	}()
	t.h.ServeHTTP(w, sreq)
	if w.status == 0 && w.body.Len() == 0 {
		return nil, errors.New("in-process handler ended without an answer (the simulation was stopped)")
	}
	return w.response(req), nil
}

// hostTransport routes requests in process by host name.
type hostTransport map[string]http.Handler

func (t hostTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	h, ok := t[req.URL.Host]
	if !ok {
		return nil, fmt.Errorf("dial %s: no such in-process backend", req.URL.Host)
	}
	return inProcess{h}.RoundTrip(req)
}

var (
	_ http.RoundTripper = inProcess{}
	_ http.RoundTripper = hostTransport{}
)

// virtualSleep waits on the simulation's clock (the gateway's <retry>
// intervals).
func virtualSleep(clk *vclock.Clock) func(context.Context, time.Duration) error {
	return func(ctx context.Context, d time.Duration) error {
		if !clk.Sleep(d) {
			return errors.New("simulation stopped")
		}
		return ctx.Err()
	}
}
