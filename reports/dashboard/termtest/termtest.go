// Package termtest helps tests read what a terminal program shows: a
// Screen collects its output (safe while the program writes), and Start
// runs a command in a real pseudo-terminal that answers the queries a
// terminal answers.
package termtest

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/creack/pty"
)

// Screen collects what a program writes to its terminal. The zero value
// is ready; it is safe for one writer and concurrent readers.
type Screen struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// Text is everything shown so far, escape sequences removed.
func (s *Screen) Text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ansi.Strip(s.b.String())
}

// WaitFor waits (up to 20 s) until the screen shows want, failing the
// test with what it shows otherwise.
func (s *Screen) WaitFor(t testing.TB, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.Text(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the terminal never showed %q; it showed:\n%s", want, s.Text())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Process is a command running in a pseudo-terminal.
type Process struct {
	Screen *Screen
	tty    *os.File
	exited chan error
}

// Start runs cmd in a pseudo-terminal of rows × cols. The command is
// killed and the terminal closed when the test ends.
func Start(t testing.TB, cmd *exec.Cmd, rows, cols uint16) *Process {
	t.Helper()
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: rows, Cols: cols})
	if err != nil {
		t.Fatalf("start in a pseudo-terminal: %v", err)
	}
	s := &Process{Screen: &Screen{}, tty: tty, exited: make(chan error, 1)}
	go s.copy()
	go func() { s.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = tty.Close()
	})
	return s
}

// Type sends keys to the program.
func (s *Process) Type(t testing.TB, keys string) {
	t.Helper()
	if _, err := s.tty.Write([]byte(keys)); err != nil {
		t.Fatalf("type %q: %v", keys, err)
	}
}

// Wait waits (up to limit) for the program to exit and returns its error.
func (s *Process) Wait(t testing.TB, limit time.Duration) error {
	t.Helper()
	select {
	case err := <-s.exited:
		time.Sleep(100 * time.Millisecond) // let the reader take the last output
		return err
	case <-time.After(limit):
		t.Fatalf("the program did not exit within %v; screen:\n%s", limit, s.Screen.Text())
		return nil
	}
}

// copy reads the terminal until it closes (EIO once the program is gone),
// answering what a terminal answers: the background colour (OSC 11) and
// the cursor position (DSR), which termenv asks for at start-up.
func (s *Process) copy() {
	buf := make([]byte, 32<<10)
	for {
		n, err := s.tty.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if bytes.Contains(chunk, []byte("\x1b]11;?")) {
				_, _ = s.tty.Write([]byte("\x1b]11;rgb:0000/0000/0000\x1b\\"))
			}
			if bytes.Contains(chunk, []byte("\x1b[6n")) {
				_, _ = s.tty.Write([]byte("\x1b[1;1R"))
			}
			_, _ = s.Screen.Write(chunk)
		}
		if err != nil {
			return
		}
	}
}
