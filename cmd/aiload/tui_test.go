package main

import (
	"bytes"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/creack/pty"

	"github.com/aiload/aiload/reports/dashboard"
)

// childEnv makes the test binary act as the aiload command (see TestMain).
const childEnv = "AILOAD_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// screen collects what a program writes to its terminal.
type screen struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// text is everything shown so far, escape sequences removed.
func (s *screen) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ansi.Strip(s.b.String())
}

// waitFor waits until the screen shows want.
func (s *screen) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.text(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the terminal never showed %q; it showed:\n%s", want, s.text())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRunDashboardInTerminal runs `aiload run` in a real pseudo-terminal:
// the dashboard opens, tab moves to the backends view, q stops the run,
// and the process exits 0 after writing the database and the summary.
func TestRunDashboardInTerminal(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	cmd := exec.Command(os.Args[0], "run", "../../scenarios/quickstart.yaml", "--duration", "60s", "--out", out)
	cmd.Env = append(os.Environ(), childEnv+"=1", "TERM=xterm-256color")
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 30, Cols: 110})
	if err != nil {
		t.Fatalf("start in a pseudo-terminal: %v", err)
	}
	defer tty.Close()
	var scr screen
	go func() { _, _ = copyAll(&scr, tty) }()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	scr.waitFor(t, "[Overview]")
	scr.waitFor(t, "TPM USED / LIMIT")
	scr.waitFor(t, "research-sub")
	if _, err := tty.Write([]byte("\t")); err != nil {
		t.Fatal(err)
	}
	scr.waitFor(t, "[Backends]")
	scr.waitFor(t, "PAYG spill-over")
	if _, err := tty.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("aiload run exited with %v after q; screen:\n%s", err, scr.text())
		}
	case <-time.After(45 * time.Second):
		t.Fatalf("aiload run did not exit after q; screen:\n%s", scr.text())
	}
	time.Sleep(100 * time.Millisecond) // let the reader take the last output
	for _, want := range []string{"interrupted — in-flight requests drained, log flushed", "records:", "database:"} {
		if !strings.Contains(scr.text(), want) {
			t.Errorf("after the dashboard closed the terminal lacks %q; it showed:\n%s", want, scr.text())
		}
	}
	dbs, _ := filepath.Glob(filepath.Join(out, "quickstart-*", "aiload.duckdb"))
	if len(dbs) != 1 {
		t.Errorf("database files %v, want one", dbs)
	}
}

// TestDashInTerminal attaches `aiload dash` in a pseudo-terminal to an
// admin listener serving snapshots, moves to the events view and leaves
// with q (exit 0).
func TestDashInTerminal(t *testing.T) {
	t.Parallel()
	at := time.Now()
	admin := httptest.NewServer(dashboard.Handler(func(now time.Time) dashboard.Snapshot {
		return dashboard.Snapshot{
			At: now, Scenario: "gw-1", Phase: dashboard.PhaseAttached, Elapsed: now.Sub(at),
			Teams:  []dashboard.TeamRow{{Team: "research", Subscription: "research-sub", TPMUsed: 9000, TPMLimit: 10000, Throttled1m: 3, ThrottledTotal: 7}},
			Events: []dashboard.Event{{At: at, Kind: dashboard.EventThrottled, Who: "research-sub", Text: "429 research-sub over 10,000 TPM", Count: 3}},
		}
	}, nil))
	defer admin.Close()
	cmd := exec.Command(os.Args[0], "dash", "--gateway", admin.URL)
	cmd.Env = append(os.Environ(), childEnv+"=1", "TERM=xterm-256color")
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 100})
	if err != nil {
		t.Fatalf("start in a pseudo-terminal: %v", err)
	}
	defer tty.Close()
	var scr screen
	go func() { _, _ = copyAll(&scr, tty) }()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	scr.waitFor(t, "9,000/10,000 90%")
	if _, err := tty.Write([]byte("\x1b[Z")); err != nil { // shift-tab: from the overview back to events
		t.Fatal(err)
	}
	scr.waitFor(t, "[Events]")
	scr.waitFor(t, "429 research-sub over 10,000 TPM")
	if _, err := tty.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("aiload dash exited with %v after q; screen:\n%s", err, scr.text())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("aiload dash did not exit after q; screen:\n%s", scr.text())
	}
}

// copyAll copies until the terminal closes (EIO once the child is gone),
// answering the queries a terminal answers: the background colour (OSC 11)
// and the cursor position (DSR), which termenv asks for at start-up.
func copyAll(w *screen, tty *os.File) (int64, error) {
	buf := make([]byte, 32<<10)
	var n int64
	for {
		k, err := tty.Read(buf)
		if k > 0 {
			chunk := buf[:k]
			if bytes.Contains(chunk, []byte("\x1b]11;?")) {
				_, _ = tty.Write([]byte("\x1b]11;rgb:0000/0000/0000\x1b\\"))
			}
			if bytes.Contains(chunk, []byte("\x1b[6n")) {
				_, _ = tty.Write([]byte("\x1b[1;1R"))
			}
			w.Write(chunk)
			n += int64(k)
		}
		if err != nil {
			return n, err
		}
	}
}
