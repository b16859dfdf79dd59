// Package benchproc runs a benchmark's servers (mock backend, gateway,
// plain proxy) in processes of their own, so each one's CPU time is its
// own and its Go scheduler and garbage collector do not share a heap with
// the load generator. A benchmark's TestMain calls Role; the parent calls
// Start, which re-executes the test binary in that role.
package benchproc

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiload/aiload/internal/gcpolicy"
)

// roleEnv names the role of a re-executed test binary.
const roleEnv = "AILOAD_BENCH_CHILD"

// Role is the server role this process was started for by Start, "" in
// an ordinary test run.
func Role() string { return os.Getenv(roleEnv) }

// Serve serves h on a loopback port, prints the port's URL on stdout (for
// Start) and serves until stdin is closed. The process runs with aiload's
// garbage-collector settings, as `aiload gateway serve` does.
func Serve(h http.Handler) error {
	gcpolicy.Apply()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("http://%s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return srv.Close()
}

// Child is a server running in its own process.
type Child struct {
	// URL is the server's base URL.
	URL string
	cmd *exec.Cmd
	// Stop closes the child's stdin and waits for it to exit; it is
	// idempotent and also runs at the end of the benchmark.
	Stop func()
}

// Start re-executes the test binary with role (and env, as KEY=value) and
// waits for the URL it serves on.
func Start(tb testing.TB, role string, env ...string) *Child {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), roleEnv+"="+role), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		tb.Fatalf("%s server did not start: %v", role, err)
	}
	c := &Child{URL: strings.TrimSpace(line), cmd: cmd}
	c.Stop = sync.OnceFunc(func() {
		_ = stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("%s server: %v", role, err)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			tb.Errorf("%s server did not stop", role)
		}
	})
	tb.Cleanup(c.Stop)
	return c
}

// CPU is the child's user + system CPU time so far, read from
// /proc/PID/stat in clock ticks of 10 ms (Linux; 0 elsewhere).
func (c *Child) CPU() time.Duration { return procCPU(strconv.Itoa(c.cmd.Process.Pid)) }

// SelfCPU is this process's user + system CPU time so far, as Child.CPU
// reads it for a child: a role that measures its own phase (see Run)
// reads it before and after.
func SelfCPU() time.Duration { return procCPU("self") }

// ProcessCPU is the user + system CPU time so far of the process pid (one
// that Start did not start: nginx beside the gateway), as Child.CPU reads
// it.
func ProcessCPU(pid int) time.Duration { return procCPU(strconv.Itoa(pid)) }

// procCPU reads /proc/<pid>/stat's utime + stime.
func procCPU(pid string) time.Duration {
	st, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces; utime and stime are the 14th and 15th of the line.
	s := string(st)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	user, _ := strconv.ParseInt(f[11], 10, 64)
	sys, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(user+sys) * 10 * time.Millisecond
}

// Run re-executes the test binary with role (and env, as KEY=value), waits
// for it to exit and returns what it printed on stdout: a role that does
// one job (a load generator's run) rather than serve.
func Run(tb testing.TB, role string, env ...string) []byte {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), roleEnv+"="+role), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("%s: %v\n%s", role, err, out)
	}
	return out
}
