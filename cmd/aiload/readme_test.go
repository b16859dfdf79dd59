package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// readmeCommands returns the command lines of README.md's fenced code blocks:
// every line that starts with "aiload", "go " or "make ".
func readmeCommands(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	inBlock := false
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, "```") {
			inBlock = !inBlock
			continue
		}
		l := strings.TrimSpace(line)
		if inBlock && (strings.HasPrefix(l, "aiload ") || strings.HasPrefix(l, "go ") || strings.HasPrefix(l, "make ")) {
			cmds = append(cmds, l)
		}
	}
	return cmds
}

var (
	listenFlag      = regexp.MustCompile(`--listen \S+`)
	trailingComment = regexp.MustCompile(`\s+#.*$`)
)

// TestREADMECommands runs every command of README.md, in order, through sh in
// a folder holding what a fresh clone has (scenarios/, examples/, docs/), so
// the README cannot name a file that does not ship, a flag that does not
// exist or a period with no data. Rewrites, so the test stays fast:
//   - go install / make build: the test builds the binary itself (on PATH);
//     other make targets (the test suite itself) are not run;
//   - a wall-clock `aiload run` gets --duration 3s (the quick start's 60 s
//     run, shortened) and every run --no-tui;
//   - `aiload gateway serve` listens on free loopback ports, must print its
//     addresses, and is stopped with SIGTERM, which must exit 0.
//
// A command passes when it exits 0 and prints no "warning: no requests"
// (a period that matches no data).
func TestREADMECommands(t *testing.T) {
	bin := ailoadBinary(t)
	dir := t.TempDir()
	for _, d := range []string{"scenarios", "examples", "docs"} {
		abs, err := filepath.Abs(filepath.Join("../..", d))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(abs, filepath.Join(dir, d)); err != nil {
			t.Fatal(err)
		}
	}
	binDir := filepath.Join(dir, ".bin")
	if err := os.Mkdir(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(binDir, "aiload")); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"))

	cmds := readmeCommands(t)
	if len(cmds) < 10 {
		t.Fatalf("found %d commands in README.md, want the quick start and the analysis examples at least", len(cmds))
	}
	for _, line := range cmds {
		line = trailingComment.ReplaceAllString(line, "")
		// `go run ./cmd/aiload` is the binary under test, built once above
		if rest, ok := strings.CutPrefix(line, "go run ./cmd/aiload "); ok {
			line = "aiload " + rest
		}
		switch {
		case strings.HasPrefix(line, "go install ./cmd/aiload"), strings.HasPrefix(line, "make "):
			continue
		case strings.HasPrefix(line, "aiload run "):
			if !strings.Contains(line, "--clock virtual") {
				line += " --duration 3s"
			}
			line += " --no-tui"
		case strings.HasPrefix(line, "aiload gateway serve "):
			line = listenFlag.ReplaceAllString(line, "--listen 127.0.0.1:0") + " --admin 127.0.0.1:0"
			runServe(t, dir, env, line)
			continue
		}
		cmd := exec.Command("sh", "-c", line)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil || bytes.Contains(out, []byte("warning: no requests")) {
			t.Errorf("README command %q: %v\n%s", line, err, out)
		}
	}
}

// runServe starts a long-running README command, waits for the gateway to
// print its addresses, and stops it as a service manager would.
func runServe(t *testing.T, dir string, env []string, line string) {
	t.Helper()
	cmd := exec.Command("sh", "-c", "exec "+line)
	cmd.Dir, cmd.Env = dir, env
	stderr := &watchWriter{want: []byte("api http://127.0.0.1:"), seen: make(chan struct{})}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-stderr.seen:
	case err := <-exited:
		t.Fatalf("README command %q: exited (%v) without printing its addresses: %s", line, err, stderr.String())
	case <-time.After(time.Minute):
		t.Errorf("README command %q: no addresses printed within a minute", line)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := <-exited; err != nil {
		t.Errorf("README command %q: after SIGTERM: %v\n%s", line, err, stderr.String())
	}
}

// watchWriter collects output and closes seen once want has been written.
type watchWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want []byte
	seen chan struct{}
	done bool
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if !w.done && bytes.Contains(w.buf.Bytes(), w.want) {
		w.done = true
		close(w.seen)
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
