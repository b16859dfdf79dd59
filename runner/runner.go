// Package runner wires one `aiload run`: it starts the built-in mock
// backend and the enforcement gateway on loopback, drives them with a
// scenario's load, writes every token-metric record to a JSONL log, loads the
// log into DuckDB and prints a per-subscription summary.
package runner

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/loadgen"
	"github.com/aiload/aiload/record"
	"github.com/aiload/aiload/scenario"
)

// Options configure a run.
type Options struct {
	// Scenario is the path of the scenario file.
	Scenario string
	// OutDir is where the run folder is created (default "runs"). The run
	// folder is <OutDir>/<scenario>-<UTC timestamp>.
	OutDir string
	// Duration overrides the scenario's duration when > 0.
	Duration time.Duration
	// Seed overrides the scenario's seed when not nil.
	Seed *uint64
	// ProgressEvery is the interval of progress lines (default 5 s).
	ProgressEvery time.Duration
	// Now stamps the run folder (default time.Now).
	Now func() time.Time
}

// Result is what a run produced.
type Result struct {
	Dir      string
	Log      string // tokens.jsonl
	DB       string // aiload.duckdb
	Records  int64  // records ingested into DuckDB
	Load     *loadgen.Result
	Summary  []analytics.SubscriptionSummary
	Served   map[string]mockllm.Usage // by persona, as the mock backend counted
	Scenario *scenario.Scenario
}

// Run executes the scenario. Cancelling ctx (Ctrl-C) stops the load early;
// in-flight requests still drain, the log is flushed, and the database and
// summary are still written.
func Run(ctx context.Context, opts Options, stdout, stderr io.Writer) (*Result, error) {
	sc, err := scenario.Load(opts.Scenario)
	if err != nil {
		return nil, err
	}
	applyOverrides(sc, opts)
	res := &Result{Scenario: sc}
	if err := res.makeDir(opts, sc.Name); err != nil {
		return nil, err
	}
	load, served, err := drive(ctx, sc, opts, res.Log, stderr)
	if err != nil {
		return res, err
	}
	res.Load, res.Served = load, served
	if err := res.analyse(context.WithoutCancel(ctx)); err != nil {
		return res, err
	}
	printSummary(stdout, res)
	return res, nil
}

func applyOverrides(sc *scenario.Scenario, opts Options) {
	if opts.Duration > 0 {
		sc.Duration = loadgen.Duration(opts.Duration)
	}
	if opts.Seed != nil {
		sc.Seed = *opts.Seed
	}
}

func (res *Result) makeDir(opts Options, name string) error {
	out := opts.OutDir
	if out == "" {
		out = "runs"
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	res.Dir = filepath.Join(out, name+"-"+now().UTC().Format("20060102T150405Z"))
	if err := os.MkdirAll(res.Dir, 0o755); err != nil {
		return fmt.Errorf("create run folder: %w", err)
	}
	res.Log = filepath.Join(res.Dir, "tokens.jsonl")
	res.DB = filepath.Join(res.Dir, "aiload.duckdb")
	return nil
}

// server is an HTTP server on a loopback ephemeral port.
type server struct {
	srv *http.Server
	url string
}

func serve(h http.Handler) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on loopback: %w", err)
	}
	s := &server{
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second},
		url: "http://" + ln.Addr().String(),
	}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *server) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}

// drive starts the mock and the gateway, runs the load and shuts both down
// with the log flushed.
func drive(ctx context.Context, sc *scenario.Scenario, opts Options, logPath string, stderr io.Writer) (*loadgen.Result, map[string]mockllm.Usage, error) {
	mock := mockllm.New(mockConfig(sc))
	mockSrv, err := serve(mock)
	if err != nil {
		return nil, nil, err
	}
	defer mockSrv.close()

	log, err := record.Create(logPath, 0)
	if err != nil {
		return nil, nil, err
	}
	runID := filepath.Base(filepath.Dir(logPath))
	gw, err := gateway.New(sc.Gateway, mockSrv.url, gateway.Options{Sink: log, RunID: runID})
	if err != nil {
		log.Close()
		return nil, nil, err
	}
	gwSrv, err := serve(gw)
	if err != nil {
		log.Close()
		return nil, nil, err
	}
	fmt.Fprintf(stderr, "aiload: %s for %v — gateway %s, mock backend %s\n", sc.Name, sc.Duration.D(), gwSrv.url, mockSrv.url)
	load, lerr := loadgen.Run(ctx, loadOptions(sc, gwSrv.url, opts, stderr))
	gwSrv.close()
	if err := log.Close(); err != nil {
		return nil, nil, fmt.Errorf("close record log: %w", err)
	}
	if lerr != nil {
		return nil, nil, lerr
	}
	if load.Interrupted {
		fmt.Fprintln(stderr, "aiload: interrupted — in-flight requests drained, log flushed")
	}
	return load, mock.Served(), nil
}

func mockConfig(sc *scenario.Scenario) mockllm.Config {
	c := mockllm.Config{Seed: sc.Seed, MinFraction: sc.Mock.MinFraction,
		FirstTokenDelay: 50 * time.Millisecond, PerTokenDelay: time.Millisecond}
	if sc.Mock.FirstTokenDelay != nil {
		c.FirstTokenDelay = sc.Mock.FirstTokenDelay.D()
	}
	if sc.Mock.PerTokenDelay != nil {
		c.PerTokenDelay = sc.Mock.PerTokenDelay.D()
	}
	return c
}

func loadOptions(sc *scenario.Scenario, url string, opts Options, stderr io.Writer) loadgen.Options {
	keys := map[string]string{}
	for _, s := range sc.Gateway.Subscriptions {
		keys[s.ID] = s.Key
	}
	personas := make([]loadgen.Persona, len(sc.Personas))
	for i, p := range sc.Personas {
		if p.Key == "" {
			p.Key = keys[p.Subscription]
		}
		personas[i] = p
	}
	return loadgen.Options{
		Scenario: sc.Name, Duration: sc.Duration.D(), Seed: sc.Seed, Model: sc.Model,
		Target:   loadgen.Target{URL: url},
		Personas: personas,
		Progress: func(el time.Duration, t loadgen.PersonaStats) {
			fmt.Fprintf(stderr, "aiload: %5.0fs/%v  sent %d  ok %d  429 %d  errors %d\n",
				el.Seconds(), sc.Duration.D(), t.Sent, t.OK, t.Throttled, t.Errors)
		},
		ProgressEvery: opts.ProgressEvery,
	}
}

// analyse loads the log into DuckDB and computes the summary.
func (res *Result) analyse(ctx context.Context) error {
	db, err := analytics.Open(ctx, res.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.IngestJSONL(ctx, res.Log); err != nil {
		return err
	}
	if res.Records, err = db.Count(ctx); err != nil {
		return err
	}
	res.Summary, err = db.Summary(ctx)
	return err
}
