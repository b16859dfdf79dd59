package gateway_test

import (
	"fmt"
	"io"
	stdlog "log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime/pprof"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/internal/benchproc"
	"github.com/aiload/aiload/record"
)

func TestMain(m *testing.M) {
	if role := benchproc.Role(); role != "" {
		if err := serveChild(role, os.Getenv("AILOAD_BENCH_UPSTREAM"), os.Getenv("AILOAD_BENCH_LOG")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveChild serves one benchmark role ("mock", "gateway" in front of
// upstream, writing its records to logPath, or "proxy" in front of
// upstream) until the parent closes stdin.
func serveChild(role, upstream, logPath string) error {
	switch role {
	case "mock":
		return benchproc.Serve(mockllm.New(mockllm.Config{Seed: 1}))
	case "proxy":
		target, err := url.Parse(upstream)
		if err != nil {
			return err
		}
		rp := httputil.NewSingleHostReverseProxy(target)
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns, t.MaxIdleConnsPerHost = 2048, 512 // as the gateway's default transport
		rp.Transport = t
		rp.ErrorLog = stdlog.New(io.Discard, "", 0) // wrk cuts requests short when it stops
		return benchproc.Serve(rp)
	case "gateway":
		var cfg gateway.Config
		if err := yaml.Unmarshal([]byte(overheadConfig), &cfg); err != nil {
			return err
		}
		f, err := os.Create(logPath)
		if err != nil {
			return err
		}
		w := record.NewWriter(f, 0)
		g, err := gateway.New(cfg, upstream, gateway.Options{Sink: w, RunID: "bench"})
		if err != nil {
			return err
		}
		if path := os.Getenv("AILOAD_BENCH_GATEWAY_CPUPROFILE"); path != "" {
			stop, err := cpuProfile(path)
			if err != nil {
				return err
			}
			defer stop()
		}
		err = benchproc.Serve(g)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}
	return fmt.Errorf("unknown benchmark server role %q", role)
}

// overheadConfig is the gateway the overhead benchmarks measure: one
// product with a tokens-per-minute limit (charged from the backend's
// usage, as API Management does with estimation off) that the load never
// reaches.
const overheadConfig = `
backends: [{name: mock}]
products: [{name: p, tokens_per_minute: 1000000000000}]
subscriptions: [{id: s1, key: ` + overheadKey + `, product: p, team: t}]
`

// cpuProfile starts a CPU profile written to path and returns the function
// that ends it.
func cpuProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
