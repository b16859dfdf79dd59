package gateway_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aiload/aiload/internal/benchproc"
)

// wrkRunner runs wrk with fixed arguments, POSTing overheadBody with the
// gateway's subscription key (a Lua script in a temporary directory).
type wrkRunner struct {
	b    *testing.B
	bin  string
	args []string
}

// newWrk finds wrk (skipping the benchmark, with what it compares, when it
// is not installed) and writes the POST script.
func newWrk(b *testing.B, what string, args ...string) *wrkRunner {
	b.Helper()
	bin, err := exec.LookPath("wrk")
	if err != nil {
		b.Skipf("wrk not installed (Debian package wrk): skipping %s", what)
	}
	script := filepath.Join(b.TempDir(), "post.lua")
	lua := fmt.Sprintf("wrk.method = \"POST\"\nwrk.body = %q\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Ocp-Apim-Subscription-Key\"] = %q\n", overheadBody, overheadKey)
	if err := os.WriteFile(script, []byte(lua), 0o644); err != nil {
		b.Fatal(err)
	}
	return &wrkRunner{b: b, bin: bin, args: append(args, "-s", script)}
}

var (
	wrkRate   = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// run drives base's chat route for d and returns wrk's requests/s; name
// labels the log line.
func (w *wrkRunner) run(name, base string, d time.Duration) float64 {
	w.b.Helper()
	args := append([]string{"-d" + d.String()}, w.args...)
	out, err := exec.Command(w.bin, append(args, base+"/v1/chat/completions")...).CombinedOutput()
	if err != nil {
		w.b.Fatalf("wrk %s: %v\n%s", name, err, out)
	}
	if m := wrkNon2xx.FindSubmatch(out); m != nil {
		w.b.Errorf("wrk %s: %s non-2xx answers", name, m[1])
	}
	m := wrkRate.FindSubmatch(out)
	if m == nil {
		w.b.Fatalf("wrk %s: output without Requests/sec:\n%s", name, out)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	w.b.Logf("%-8s %8.0f req/s (load average %s)", name, v, loadAverage())
	return v
}

// nginxConf is an nginx configuration for one worker proxying to an
// upstream with kept-alive connections, every path under the prefix
// directory, an access log buffered as the gateway's records are. Its
// arguments: listen address, upstream address.
const nginxConf = `worker_processes 1;
error_log logs/error.log warn;
pid nginx.pid;
events { worker_connections 1024; }
http {
    access_log logs/access.log combined buffer=64k flush=1s;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    upstream mock {
        server %s;
        keepalive 64;
    }
    server {
        listen %s;
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
`

// nginxProc is nginx running from a temporary prefix directory.
type nginxProc struct {
	URL string
	cmd *exec.Cmd
}

// startNginx starts nginx (one worker) in front of upstream (a base URL)
// and waits until it accepts connections; it is stopped at the end of the
// benchmark. It skips the benchmark when nginx is not installed.
func startNginx(b *testing.B, upstream string) *nginxProc {
	b.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/nginx"); err != nil {
			b.Skip("nginx not installed (Debian package nginx-light): skipping the comparison beside nginx")
		}
	}
	dir := b.TempDir()
	for _, d := range []string{"logs", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	addr := freeAddr(b)
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, nginxConf, strings.TrimPrefix(upstream, "http://"), addr), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir+"/", "-c", conf, "-g", "daemon off;")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("start nginx: %v", err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			b.Error("nginx did not stop")
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "logs", "error.log"))
			b.Fatalf("nginx did not listen on %s:\n%s", addr, log)
		}
	}
	return &nginxProc{URL: "http://" + addr, cmd: cmd}
}

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr(b *testing.B) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// CPU is the CPU time of nginx's master and workers so far (Linux; 0
// elsewhere).
func (n *nginxProc) CPU() time.Duration {
	pid := n.cmd.Process.Pid
	total := benchproc.ProcessCPU(pid)
	kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, k := range strings.Fields(string(kids)) {
		if p, err := strconv.Atoi(k); err == nil {
			total += benchproc.ProcessCPU(p)
		}
	}
	return total
}

// BenchmarkBesideNginx drives, with wrk (-t1 -c32, the same chat body and
// headers), nginx (one worker, kept-alive connections to the upstream,
// access log buffered), the gateway (a product with a tokens-per-minute
// limit, records written as JSONL) and a plain httputil.ReverseProxy (what
// Go's net/http alone costs), each in front of the same mock in its own
// process, in the order nginx, gateway, proxy, proxy, gateway, nginx (3 s
// each, after a 1 s warm-up of each), and reports each one's mean
// requests/s and CPU time per request and gateway/nginx; the mock alone is
// measured once for context. Skipped when nginx or wrk is not installed.
// With AILOAD_BENCH_GATEWAY_CPUPROFILE=file the gateway process writes a
// CPU profile of its whole life there.
//
//	go test ./gateway -run '^$' -bench BesideNginx -benchtime 1x
func BenchmarkBesideNginx(b *testing.B) {
	w := newWrk(b, "the comparison beside nginx", "-t1", "-c32")
	rig := newBenchRig(b)
	ngx := startNginx(b, rig.mock.URL)
	servers := map[string]struct {
		url string
		cpu func() time.Duration
	}{
		"nginx": {ngx.URL, ngx.CPU},
		"gw":    {rig.gw.URL, rig.gw.CPU},
		"proxy": {rig.proxy.URL, rig.proxy.CPU},
	}
	b.Logf("load average before: %s", loadAverage())
	const warm, round = time.Second, 3 * time.Second
	var direct float64
	rate, cpu := map[string]float64{}, map[string]time.Duration{}
	for b.Loop() {
		clear(rate)
		clear(cpu)
		for _, name := range []string{"nginx", "gw", "proxy"} {
			w.run("warm-up", servers[name].url, warm)
		}
		direct = w.run("mock", rig.mock.URL, round)
		for _, name := range []string{"nginx", "gw", "proxy", "proxy", "gw", "nginx"} {
			s := servers[name]
			c0 := s.cpu()
			rate[name] += w.run(name, s.url, round) / 2
			cpu[name] += s.cpu() - c0
		}
	}
	b.Logf("load average after: %s", loadAverage())
	b.ReportMetric(direct, "mock_req/s")
	for _, name := range []string{"nginx", "gw", "proxy"} {
		b.ReportMetric(rate[name], name+"_req/s")
		b.ReportMetric(float64(cpu[name].Microseconds())/(rate[name]*2*round.Seconds()), name+"_cpu_us/req")
	}
	b.ReportMetric(rate["gw"]/rate["nginx"], "gw/nginx")
	b.ReportMetric(rate["proxy"]/rate["nginx"], "proxy/nginx")
}
