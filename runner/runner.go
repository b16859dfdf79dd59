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
	"runtime/debug"
	"time"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/calibrate"
	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/internal/gcpolicy"
	"github.com/aiload/aiload/loadgen"
	"github.com/aiload/aiload/record"
	"github.com/aiload/aiload/reports/dashboard"
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
	// Clock overrides the scenario's clock when set: "wall" or "virtual"
	// (a discrete-event simulation on simulated time; see Simulate).
	Clock string
	// ProgressEvery is the interval of progress lines (default 5 s).
	ProgressEvery time.Duration
	// Now stamps the run folder (default time.Now).
	Now func() time.Time
	// Shard, when set, runs only this machine's share of the users
	// (aiload run --shard i/n); the run folder's name ends in -shard-i-of-n.
	Shard loadgen.Shard
	// Snapshots, when set, also receives the load generator's snapshots
	// (once a second and a final one; never blocking, so a slow reader
	// misses some); it is not closed by Run.
	Snapshots chan<- loadgen.Snapshot
	// Terminal, when set, shows the live dashboard there instead of
	// progress lines on stderr; q in the dashboard stops the load as
	// cancelling ctx does.
	Terminal *dashboard.Terminal
	// Record, when set, is a calibration file to which the run writes
	// what it measured of the deployments it called (as aiload calibrate
	// does); only for a scenario whose target is a real deployment
	// (target.url) on the wall clock, else Run fails with ErrRecordEmbedded.
	Record string

	// wrapLog, when set, wraps the record log's sink (tests inject
	// write failures with it).
	wrapLog func(record.Sink) record.Sink
}

// Result is what a run produced.
type Result struct {
	Dir string
	Log string // tokens.jsonl (embedded gateway only)
	// SummaryJSON is summary.json: what the load generator saw, per
	// persona and per subscription, plus the scenario's pricing.
	SummaryJSON string
	// HistogramLog is latency.hlog: interval histograms per persona.
	HistogramLog string
	DB           string // aiload.duckdb
	// ReportPDF, ChargebackCSV, FocusCSV and ChartsDir are the run's
	// chargeback report (report.pdf, chargeback.csv, focus.csv, charts/),
	// written when the run has records.
	ReportPDF, ChargebackCSV, FocusCSV, ChartsDir string
	Records                                       int64 // records ingested into DuckDB
	Load                                          *loadgen.Result
	Summary                                       []analytics.SubscriptionSummary
	Served                                        map[string]mockllm.Usage // by persona, as the mock backend counted
	// Cache is the semantic cache's effect (analytics.CacheStats).
	Cache    []analytics.CacheStat
	Scenario *scenario.Scenario
	// ScenarioFile is the scenario file's absolute path.
	ScenarioFile string
	// ReportErr is why the chargeback report could not be written; the
	// database, summary.json and the printed summary do not depend on it.
	ReportErr error
}

// Run executes the scenario. Cancelling ctx (Ctrl-C) stops the load early;
// in-flight requests still drain, the log is flushed, and the database and
// summary are still written. A record that cannot be written (a full disk)
// stops the load too, and Run then fails. summary.json is rewritten
// atomically as the run goes (every second of the load, when it ends, after
// the database), so a later failure or a second signal leaves the latest.
// A report that cannot be written fails Run only after everything else is
// written and printed.
func Run(ctx context.Context, opts Options, stdout, stderr io.Writer) (*Result, error) {
	sc, err := scenario.LoadContext(ctx, opts.Scenario)
	if err != nil {
		return nil, err
	}
	applyOverrides(sc, opts)
	if opts.Record != "" && (sc.Target.Embedded() || sc.Clock == scenario.ClockVirtual) {
		return nil, ErrRecordEmbedded
	}
	res := &Result{Scenario: sc}
	if abs, err := filepath.Abs(opts.Scenario); err == nil {
		res.ScenarioFile = abs
	}
	if err := res.makeDir(opts, sc.Name); err != nil {
		return nil, err
	}
	l := newLive(sc)
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	wait := l.show(opts.Terminal, stderr, opts.ProgressEvery, stopLoad)
	// While the dashboard owns the terminal, messages wait for it to close.
	runErr := stderr
	var held *heldWriter
	if opts.Terminal != nil {
		held = &heldWriter{}
		runErr = held
	}
	l.onRecordError = func(err error) {
		fmt.Fprintf(runErr, "aiload: records cannot be written to %s: %v; stopping the load\n", res.Log, err)
		stopLoad()
	}
	err = res.execute(ctx, loadCtx, l, opts, runErr)
	if err != nil {
		l.finish(dashboard.PhaseFailed, err.Error())
	} else {
		l.finish(dashboard.PhaseDone, doneNote(res))
	}
	if werr := wait(); werr != nil && err == nil {
		fmt.Fprintln(stderr, "aiload:", werr)
	}
	if held != nil {
		held.flush(stderr)
	}
	if err != nil {
		return res, err
	}
	if res.Load.Interrupted {
		fmt.Fprintln(stderr, "aiload: interrupted — in-flight requests drained, log flushed")
	}
	printSummary(stdout, res)
	if res.ReportErr != nil {
		return res, fmt.Errorf("write chargeback report: %w (the records, database and summary.json are written)", res.ReportErr)
	}
	return res, nil
}

// execute drives the load (until loadCtx ends or the duration is over) and
// writes summary.json, the database, summary.json again and the report,
// even when ctx was cancelled.
func (res *Result) execute(ctx, loadCtx context.Context, l *live, opts Options, stderr io.Writer) error {
	stopWatch := context.AfterFunc(loadCtx, l.stopping)
	defer stopWatch()
	served, err := drive(loadCtx, res.Scenario, opts, res, l, stderr)
	if rerr := l.recordError(); rerr != nil {
		err = fmt.Errorf("records cannot be written to %s: %w; the load was stopped", res.Log, rerr)
	}
	if res.Load != nil {
		// first of all, what the callers saw: nothing later may lose it
		switch serr := writeSummaryJSON(res, summaryStatus(err, statusLoaded), err); {
		case serr != nil && err == nil:
			err = serr
		case serr != nil:
			fmt.Fprintf(stderr, "aiload: %v; summary.json holds the load as of its last second\n", serr)
		}
	}
	if err != nil {
		return err
	}
	res.Served = served
	// the load's heap (requests in flight, buffers, the mock's and the
	// gateway's state) is garbage now: give it back before DuckDB's share,
	// and collect at Go's default pace while the reports render
	debug.FreeOSMemory()
	defer gcpolicy.ForAnalysis()()
	l.setPhase(dashboard.PhaseWriting, "")
	if !res.Scenario.Target.Embedded() {
		return writeSummaryJSON(res, statusComplete, nil)
	}
	if err := res.analyse(context.WithoutCancel(ctx), stderr); err != nil {
		_ = writeSummaryJSON(res, statusFailed, err)
		return err
	}
	if err := writeSummaryJSON(res, statusComplete, nil); err != nil {
		return err
	}
	// the report's replay and rendering: the Go heap kept near its live
	// size, which the records set (the run's peak was there)
	defer gcpolicy.ForReport(res.Records)()
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	res.ReportErr = res.writeReports(context.WithoutCancel(ctx), now, stderr)
	return nil
}

func applyOverrides(sc *scenario.Scenario, opts Options) {
	if opts.Duration > 0 {
		sc.Duration = loadgen.Duration(opts.Duration)
	}
	if opts.Seed != nil {
		sc.Seed = *opts.Seed
	}
	if opts.Clock != "" {
		sc.Clock = opts.Clock
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
	if opts.Shard.Count > 1 {
		res.Dir += fmt.Sprintf("-shard-%d-of-%d", opts.Shard.Index+1, opts.Shard.Count)
	}
	if err := os.MkdirAll(res.Dir, 0o755); err != nil {
		return fmt.Errorf("create run folder: %w", err)
	}
	res.Log = filepath.Join(res.Dir, "tokens.jsonl")
	res.SummaryJSON = filepath.Join(res.Dir, "summary.json")
	res.HistogramLog = filepath.Join(res.Dir, "latency.hlog")
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

// drive starts the mock and the gateway (unless the scenario targets an
// external URL), runs the load and shuts both down with the log flushed.
func drive(ctx context.Context, sc *scenario.Scenario, opts Options, res *Result, l *live, stderr io.Writer) (map[string]mockllm.Usage, error) {
	if opts.Shard.Count > 1 && sc.Target.Embedded() {
		fmt.Fprintf(stderr, "aiload: shard %d/%d runs its own embedded gateway, so its limits apply to this shard's users alone; point every shard at one gateway (target.url) to share them\n",
			opts.Shard.Index+1, opts.Shard.Count)
	}
	if sc.Clock == scenario.ClockVirtual {
		return driveVirtual(ctx, sc, res, opts, l, stderr)
	}
	if !sc.Target.Embedded() {
		fmt.Fprintf(stderr, "aiload: %s for %v — target %s\n", sc.Name, sc.Duration.D(), sc.Target.URL)
		load, err := runLoad(ctx, sc, sc.Target.URL, opts, res, l)
		res.Load = load
		return nil, err
	}
	mocks, err := startMocks(sc)
	if err != nil {
		return nil, err
	}
	defer mocks.close()

	log, err := l.createLog(res.Log)
	if err != nil {
		return nil, err
	}
	runID := filepath.Base(res.Dir)
	gw, err := gateway.New(mocks.withIdentity(embeddedConfig(sc)), mocks.fallback, gateway.Options{Sink: l.sink(opts.logSink(log)), RunID: runID, BackendURLs: mocks.urls})
	if err != nil {
		log.Close()
		return nil, err
	}
	gwSrv, err := serve(gw)
	if err != nil {
		log.Close()
		return nil, err
	}
	fmt.Fprintf(stderr, "aiload: %s for %v — gateway %s, mock backend %s\n", sc.Name, sc.Duration.D(), gwSrv.url, mocks.describe())
	l.gw.Follow(gw)
	load, lerr := runLoad(ctx, sc, gwSrv.url, opts, res, l)
	gwSrv.close()
	shutdownGateway(ctx, gw, stderr)
	res.Load = load
	if err := log.Close(); err != nil {
		return nil, fmt.Errorf("close record log: %w", err)
	}
	if lerr != nil {
		return nil, lerr
	}
	return mocks.served(), nil
}

// shutdownGateway sends the gateway's last token metrics to its OTLP
// collector (gateway.otlp), within 10 s; a failure is reported, not fatal:
// the run's records are complete.
func shutdownGateway(ctx context.Context, gw *gateway.Gateway, stderr io.Writer) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := gw.Shutdown(sctx); err != nil {
		fmt.Fprintf(stderr, "aiload: export the last token metrics: %v\n", err)
	}
}

// logSink is the record log's sink, wrapped when a test asks.
func (o Options) logSink(log record.Sink) record.Sink {
	if o.wrapLog != nil {
		return o.wrapLog(log)
	}
	return log
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
	if sc.Mock.PerTokenDelayP95 != nil {
		c.PerTokenDelayP95 = sc.Mock.PerTokenDelayP95.D()
	}
	return c
}

// runLoad runs the load generator against url, feeding its snapshots to
// the live view (and opts.Snapshots) and writing the interval histogram log.
func runLoad(ctx context.Context, sc *scenario.Scenario, url string, opts Options, res *Result, l *live) (*loadgen.Result, error) {
	lo, err := loadOptions(sc, url)
	if err != nil {
		return nil, err
	}
	lo.Shard = opts.Shard
	hlog, err := os.Create(res.HistogramLog)
	if err != nil {
		return nil, fmt.Errorf("create histogram log: %w", err)
	}
	defer hlog.Close()
	lo.HistogramLog = hlog
	snaps := make(chan loadgen.Snapshot, 4)
	lo.Snapshots = snaps
	done := make(chan struct{})
	go func() {
		defer close(done)
		for s := range snaps {
			l.loadSnapshot(s)
			if !s.Final {
				// best effort: a failure here shows in the records or at the end
				_ = writeSummaryJSON(&Result{Scenario: sc, ScenarioFile: res.ScenarioFile, Dir: res.Dir, SummaryJSON: res.SummaryJSON, Load: snapshotResult(s)}, statusRunning, nil)
			}
			if opts.Snapshots != nil {
				select {
				case opts.Snapshots <- s:
				default: // as the load generator does: never block
				}
			}
		}
	}()
	var rec *calibrate.Recorder
	if opts.Record != "" {
		rec = calibrate.NewRecorder(sc.Seed)
		lo.Observe = rec.Observe
	}
	l.begin()
	load, err := loadgen.Run(ctx, lo)
	close(snaps)
	<-done
	if err != nil {
		return nil, err
	}
	if rec != nil {
		if err := recordCalibration(opts.Record, sc, rec, load); err != nil {
			return load, err
		}
	}
	return load, hlog.Sync()
}

// loadOptions turns the scenario into load generator options, resolving
// each persona's subscriptions to keys.
func loadOptions(sc *scenario.Scenario, url string) (loadgen.Options, error) {
	keys := map[string]string{}
	for _, s := range sc.Gateway.Subscriptions {
		keys[s.ID] = s.Key
	}
	personas := make([]loadgen.Persona, len(sc.Personas))
	for i, p := range sc.Personas {
		switch {
		case p.Key != "":
			id := p.Subscription
			if id == "" {
				id = p.Name
			}
			p.Keys = []loadgen.SubKey{{ID: id, Key: p.Key}}
		case len(p.SubscriptionIDs()) == 0: // external target without keys
			p.Keys = []loadgen.SubKey{{ID: p.Name}}
		default:
			for _, id := range p.SubscriptionIDs() {
				k, ok := keys[id]
				if !ok {
					return loadgen.Options{}, fmt.Errorf("persona %s: no key for subscription %q", p.Name, id)
				}
				p.Keys = append(p.Keys, loadgen.SubKey{ID: id, Key: k})
			}
		}
		p.UserJWT = sc.PersonaJWT(p)
		personas[i] = p
	}
	target := sc.Target
	target.URL = url
	return loadgen.Options{
		Scenario: sc.Name, Duration: sc.Duration.D(), Seed: sc.Seed, Model: sc.Model,
		ContextTokens: sc.ContextTokens, Target: target, Personas: personas,
	}, nil
}

// analysisMemoryLimit caps DuckDB's memory for the analyses after a run
// (summary, chargeback, demand, the replay behind the recommendations), so
// that they do not add to the run's peak: on a day of mixed-day records the
// report's queries took a fresh process 230–270 MB above its start at
// 150 MB, 150–200 MB at 64 MB; at 32 MB the callers' query ran out of
// memory. Measured in docs/benchmarks.md.
const analysisMemoryLimit = "64MB"

// analyse loads the log into DuckDB and computes the summary.
func (res *Result) analyse(ctx context.Context, stderr io.Writer) error {
	db, err := analytics.Open(ctx, res.DB)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.LimitMemory(ctx, analysisMemoryLimit); err != nil {
		return err
	}
	if _, err := db.IngestJSONL(ctx, res.Log); err != nil {
		return err
	}
	prices, _, err := scenarioPricing(res.Scenario.Pricing)
	if err != nil {
		return err
	}
	lifted, err := db.WithinMemoryLimit(ctx, func() (err error) {
		if res.Records, err = db.Count(ctx); err != nil {
			return err
		}
		if res.Summary, err = db.Summary(ctx); err != nil {
			return err
		}
		res.Cache, err = analytics.CacheStats(ctx, db, prices)
		return err
	})
	if lifted {
		warnLifted(stderr, "the summary's")
	}
	return err
}
