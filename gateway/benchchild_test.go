package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/record"
)

// childRoleEnv names the server a re-executed test binary runs instead of
// its tests: "mock", "gateway" or "proxy" (see startChild).
const childRoleEnv = "AILOAD_BENCH_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childRoleEnv); role != "" {
		if err := serveChild(role, os.Getenv("AILOAD_BENCH_UPSTREAM"), os.Getenv("AILOAD_BENCH_LOG")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serveChild serves one benchmark role on a loopback port, prints the
// port's URL on stdout and serves until stdin is closed.
func serveChild(role, upstream, logPath string) error {
	var h http.Handler
	var closeLog func() error
	switch role {
	case "mock":
		h = mockllm.New(mockllm.Config{Seed: 1})
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
		h = rp
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
		closeLog = func() error {
			if err := w.Close(); err != nil {
				return err
			}
			return f.Close()
		}
		g, err := gateway.New(cfg, upstream, gateway.Options{Sink: w, RunID: "bench"})
		if err != nil {
			return err
		}
		h = g
	default:
		return fmt.Errorf("unknown %s %q", childRoleEnv, role)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("http://%s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
	if closeLog != nil {
		return closeLog()
	}
	return nil
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

// child is a benchmark server running in its own process.
type child struct {
	url   string
	log   string // the gateway's JSONL records
	cmd   *exec.Cmd
	stdin io.WriteCloser
	stop  func() // closes stdin and waits for the server to exit; idempotent
}

// startChild re-executes this test binary as a server for role in front of
// upstream, so the server's CPU time is its own and its Go scheduler and
// garbage collector do not share a heap with the load generator.
func startChild(b *testing.B, role, upstream string) *child {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	logPath := filepath.Join(b.TempDir(), role+".jsonl")
	cmd.Env = append(os.Environ(), childRoleEnv+"="+role, "AILOAD_BENCH_UPSTREAM="+upstream, "AILOAD_BENCH_LOG="+logPath)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		b.Fatalf("%s server did not start: %v", role, err)
	}
	c := &child{url: strings.TrimSpace(line), log: logPath, cmd: cmd, stdin: stdin}
	c.stop = sync.OnceFunc(func() {
		_ = c.stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				b.Errorf("%s server: %v", role, err)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			b.Errorf("%s server did not stop", role)
		}
	})
	b.Cleanup(c.stop)
	return c
}

// cpu is the child's user + system CPU time so far (Linux; 0 elsewhere),
// read from /proc/PID/stat in clock ticks of 10 ms.
func (c *child) cpu() time.Duration {
	st, err := os.ReadFile("/proc/" + strconv.Itoa(c.cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(st)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st2, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st2) * 10 * time.Millisecond
}
