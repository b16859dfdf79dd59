package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aiload/aiload/gateway/mockidentity"
	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/gateway/otelmetrics"
	"github.com/aiload/aiload/gateway/store"
	"github.com/aiload/aiload/record"
)

// ServeOptions configure `aiload gateway serve`.
type ServeOptions struct {
	// Config is the gateway config file (see LoadConfig).
	Config string
	// Load, when set, reads the config instead of LoadConfig (e.g. to add
	// API Management policy documents to it).
	Load func(path string) (Config, error)
	// Listen is the address of the API listener (default 127.0.0.1:8080).
	Listen string
	// Admin is the address of /metrics and /healthz (default
	// 127.0.0.1:9090: loopback unless asked otherwise).
	Admin string
	// Log is the JSONL file token-metric records are appended to
	// (default tokens.jsonl).
	Log string
	// LogWriter, when set, receives the records instead of the Log file.
	LogWriter io.Writer
	// OnRecordError says what to do while records cannot be written:
	// RecordErrorServe (default) or RecordErrorRefuse.
	OnRecordError string
	// RunID is written into every record.
	RunID string
	// ID, when set, names this instance in its records (gateway_id) and
	// its dashboard instead of the config's id: instances that share one
	// config (and Redis) tell themselves apart with it.
	ID string
	// Ready, when set, is called with both listeners' addresses once they
	// accept connections.
	Ready func(api, admin string)
	// Store holds the token counters (default: in memory, this instance
	// only); a shared store lets several instances enforce one limit.
	Store store.Store
	// Observe, when set, is called with the loaded config before serving:
	// records also go to the sink it returns (if not nil), and the handler it
	// returns (if not nil) serves the admin listener's other paths.
	Observe func(cfg Config) (record.Sink, http.Handler)
	// Built, when set, is called with the gateway before it serves (e.g.
	// to read its metrics registry).
	Built func(g *Gateway)
	// HeaderTimeout bounds reading a request's headers (default 10 s): a
	// client that trickles them (slowloris) is disconnected.
	HeaderTimeout time.Duration
	// BodyTimeout bounds reading a request's body once its headers are in
	// (default 30 s; the whole request must arrive within HeaderTimeout +
	// BodyTimeout); a body still incomplete then gets 400. It does not limit
	// how long an answer may stream.
	BodyTimeout time.Duration
	// MaxHeaderBytes caps a request's header size (default 64 KiB);
	// larger headers get 431 with an OpenAI-style error and a record (up to
	// four times the cap; beyond that net/http's plain-text 431, without a
	// record, before the gateway sees the request).
	MaxHeaderBytes int
	// OTLP, when set, is the OTLP/HTTP endpoint token metrics are exported
	// to (`--otlp`), in place of the config's otlp.endpoint; OTLPInterval,
	// when > 0, the time between exports (`--otlp-interval`).
	OTLP         string
	OTLPInterval time.Duration
}

// Serve runs the gateway in front of the configured backends until ctx is
// cancelled, then drains in-flight requests and flushes the record log.
func Serve(ctx context.Context, opts ServeOptions, stderr io.Writer) error {
	load := LoadConfig
	if opts.Load != nil {
		load = opts.Load
	}
	cfg, err := load(opts.Config)
	if err != nil {
		return err
	}
	if opts.ID != "" {
		cfg.ID = opts.ID
	}
	cfg.OTLP = opts.otlp(cfg.OTLP)
	for _, b := range cfg.Backends {
		if b.URL == "" && b.Mock == nil {
			return &ConfigError{File: opts.Config, Line: 1, Column: 1, Path: "backends",
				Msg: fmt.Sprintf("backend %q has neither a url nor a mock", b.Name)}
		}
	}
	opts.defaults()
	if opts.OnRecordError != RecordErrorServe && opts.OnRecordError != RecordErrorRefuse {
		return fmt.Errorf("on-record-error must be %s or %s, got %q", RecordErrorServe, RecordErrorRefuse, opts.OnRecordError)
	}
	mocks, err := startMocks(cfg, stderr)
	if err != nil {
		return err
	}
	defer mocks.close()
	cfg = mocks.withIdentity(cfg)
	logf := lockedLogf(stderr)
	log, health, err := openRecordLog(opts, logf)
	if err != nil {
		return err
	}
	sink, extra := record.Sink(log), http.Handler(nil)
	if opts.Observe != nil {
		var tee record.Sink
		if tee, extra = opts.Observe(cfg); tee != nil {
			sink = record.SinkFunc(func(r *record.Record) error {
				err := log.Write(r)
				_ = tee.Write(r)
				return err
			})
		}
	}
	gopts := Options{Sink: sink, RunID: opts.RunID, Store: opts.Store, MaxHeaderBytes: opts.MaxHeaderBytes,
		BackendURLs: mocks.urls, Logf: logf}
	if opts.OnRecordError == RecordErrorRefuse {
		gopts.Unmetered = log.Err
	}
	g, err := New(cfg, "", gopts)
	if err != nil {
		log.Close()
		return err
	}
	g.Registry().MustRegister(health)
	if opts.Built != nil {
		opts.Built(g)
	}
	api, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		log.Close()
		return fmt.Errorf("listen %s: %w", opts.Listen, err)
	}
	admin, err := net.Listen("tcp", opts.Admin)
	if err != nil {
		api.Close()
		log.Close()
		return fmt.Errorf("listen admin %s: %w", opts.Admin, err)
	}
	fmt.Fprintf(stderr, "aiload gateway %s: api http://%s, metrics http://%s/metrics, records %s\n", cfg.ID, api.Addr(), admin.Addr(), opts.Log)
	if opts.Ready != nil {
		opts.Ready(api.Addr().String(), admin.Addr().String())
	}
	err = serveUntil(ctx, []*http.Server{
		// ReadTimeout bounds header and body; net/http lifts it once the
		// body is read, so it does not cut a long streamed answer.
		{Handler: g, ReadHeaderTimeout: opts.HeaderTimeout, ReadTimeout: opts.HeaderTimeout + opts.BodyTimeout,
			MaxHeaderBytes: 4 * opts.MaxHeaderBytes, IdleTimeout: 2 * time.Minute},
		{Handler: adminMux(g.AdminHandler(), extra), ReadHeaderTimeout: opts.HeaderTimeout, MaxHeaderBytes: opts.MaxHeaderBytes, IdleTimeout: 2 * time.Minute},
	}, []net.Listener{api, admin})
	if serr := shutdownExports(ctx, g); serr != nil && err == nil {
		err = serr
	}
	if cerr := log.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close record log: %w", cerr)
	}
	if n := log.Dropped(); n > 0 {
		fmt.Fprintf(stderr, "aiload gateway: %d records were lost (the record log could not be written)\n", n)
	}
	return err
}

// Record-log error policies (ServeOptions.OnRecordError).
const (
	// RecordErrorServe serves on while records cannot be written, saying so
	// on stderr and in /metrics; records wait in memory (8 MiB) and the
	// rest are counted as dropped.
	RecordErrorServe = "serve"
	// RecordErrorRefuse answers 503 (records_unavailable) while records
	// cannot be written: no request goes unmetered.
	RecordErrorRefuse = "refuse"
)

// openRecordLog opens the record log (or wraps LogWriter) with a writer
// that logs its failures and recoveries at once, and returns the gauge
// aiload_gateway_record_log_writable that follows them.
func openRecordLog(opts ServeOptions, logf func(string, ...any)) (*record.Writer, prometheus.Gauge, error) {
	health := prometheus.NewGauge(prometheus.GaugeOpts{Name: "aiload_gateway_record_log_writable",
		Help: "1 while the record log accepts writes, 0 while records wait in memory or are dropped."})
	health.Set(1)
	what := "serving on, records wait in memory (up to 8 MiB) and the rest are dropped"
	if opts.OnRecordError == RecordErrorRefuse {
		what = "refusing requests with 503 until it can"
	}
	onErr := record.OnError(func(err error) {
		if err != nil {
			health.Set(0)
			logf("record log %s cannot be written, %s: %v", opts.Log, what, err)
			return
		}
		health.Set(1)
		logf("record log %s is writable again", opts.Log)
	})
	if opts.LogWriter != nil {
		return record.NewWriter(opts.LogWriter, 0, onErr), health, nil
	}
	w, err := record.Append(opts.Log, 0, onErr)
	return w, health, err
}

// lockedLogf writes one line per call to w, safe for concurrent use.
func lockedLogf(w io.Writer) func(string, ...any) {
	var mu sync.Mutex
	return func(format string, args ...any) {
		line := fmt.Sprintf("aiload gateway: "+format+"\n", args...)
		mu.Lock()
		defer mu.Unlock()
		_, _ = io.WriteString(w, line)
	}
}

// embeddedMocks are the mock backends Serve starts for backends configured
// with `mock:` and no url, each on its own loopback port. They outlive the
// gateway's drain, so requests in flight at shutdown still get answers.
type embeddedMocks struct {
	urls    map[string]string // backend name → URL
	servers []*http.Server
	// identity is the built-in mock identity endpoint (identity.mock).
	identity    *mockidentity.Server
	identityURL string
}

func startMocks(cfg Config, stderr io.Writer) (*embeddedMocks, error) {
	m := &embeddedMocks{urls: map[string]string{}}
	if err := m.startIdentity(cfg.Identity, stderr); err != nil {
		return nil, err
	}
	for i, b := range cfg.Backends {
		if b.URL != "" || b.Mock == nil {
			continue
		}
		mc := *b.Mock
		if mc.Seed == 0 {
			mc.Seed = uint64(i + 1)
		}
		if err := mc.Validate(); err != nil {
			m.close()
			return nil, fmt.Errorf("backend %q: mock: %w", b.Name, err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			m.close()
			return nil, fmt.Errorf("backend %q: start its mock: %w", b.Name, err)
		}
		srv := &http.Server{Handler: m.guard(b, mockllm.New(mc)), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		m.servers = append(m.servers, srv)
		m.urls[b.Name] = "http://" + ln.Addr().String()
		fmt.Fprintf(stderr, "aiload gateway: backend %s is an embedded mock at %s\n", b.Name, m.urls[b.Name])
	}
	return m, nil
}

func (m *embeddedMocks) close() {
	for _, s := range m.servers {
		_ = s.Close()
	}
}

// adminMux serves /metrics and /healthz from the gateway, the rest from extra.
func adminMux(own, extra http.Handler) http.Handler {
	if extra == nil {
		return own
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", own)
	mux.Handle("/healthz", own)
	mux.Handle("/", extra)
	return mux
}

// otlp is the config's otlp section with the flags' endpoint and
// interval in place of its own.
func (o *ServeOptions) otlp(c *otelmetrics.Config) *otelmetrics.Config {
	if o.OTLP == "" && o.OTLPInterval <= 0 {
		return c
	}
	var out otelmetrics.Config
	if c != nil {
		out = *c
	}
	if o.OTLP != "" {
		out.Endpoint = o.OTLP
	}
	if o.OTLPInterval > 0 {
		out.Interval = o.OTLPInterval
	}
	return &out
}

// shutdownExports sends the gateway's last counts to where it exports
// them, within 10 s.
func shutdownExports(ctx context.Context, g *Gateway) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := g.Shutdown(sctx); err != nil {
		return fmt.Errorf("export the last token metrics: %w", err)
	}
	return nil
}

func (o *ServeOptions) defaults() {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:8080"
	}
	if o.Admin == "" {
		o.Admin = "127.0.0.1:9090"
	}
	if o.Log == "" {
		o.Log = "tokens.jsonl"
	}
	if o.OnRecordError == "" {
		o.OnRecordError = RecordErrorServe
	}
	if o.HeaderTimeout <= 0 {
		o.HeaderTimeout = 10 * time.Second
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = 30 * time.Second
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 64 << 10
	}
}

// serveUntil serves each server on its listener until ctx ends or one
// fails, then shuts all down, letting in-flight requests finish (30 s).
func serveUntil(ctx context.Context, srvs []*http.Server, lns []net.Listener) error {
	errc := make(chan error, len(srvs))
	for i, s := range srvs {
		go func() { errc <- s.Serve(lns[i]) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for _, s := range srvs {
		_ = s.Shutdown(sctx)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
