package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// summaryOf reads the summary.json of the one run folder under out.
func summaryOf(t *testing.T, out string) (status string, sent int64) {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(out, "*-*"))
	if len(dirs) != 1 {
		t.Fatalf("run folders %v, want one", dirs)
	}
	b, err := os.ReadFile(filepath.Join(dirs[0], "summary.json"))
	if err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	var sf struct {
		Status string `json:"status"`
		Total  struct {
			Sent int64 `json:"sent"`
		} `json:"total"`
	}
	if err := json.Unmarshal(b, &sf); err != nil {
		t.Fatalf("summary.json is not JSON: %v\n%s", err, b)
	}
	return sf.Status, sf.Total.Sent
}

// waitExit waits for cmd (a guard against a hang, not a timing assertion).
func waitExit(t *testing.T, cmd *exec.Cmd, within time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		t.Fatalf("aiload still running after %v", within)
		return nil
	}
}

// TestTwoSIGTERMsKeepSummary: a second SIGTERM 0.3 s after the first ends
// the process at once (as a service manager's escalation does), and
// summary.json is still there, whole, with what the callers saw.
func TestTwoSIGTERMsKeepSummary(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	cmd, _, oks := startRun(t, out)
	waitOK(t, oks, 3)
	for range 2 {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	_ = waitExit(t, cmd, 60*time.Second)
	if _, sent := summaryOf(t, out); sent == 0 {
		t.Fatalf("summary.json after two SIGTERMs counts no request sent")
	}
}

// fastScenario is a scenario whose records fill a small disk in seconds.
const fastScenario = `name: fill
duration: 10m
mock: {first_token_delay: 1ms, per_token_delay: 0s}
gateway:
  products: [{name: p, tokens_per_minute: 100000000}]
  subscriptions: [{id: s, key: sk-fill-0001, product: p, team: t}]
personas:
  - name: p
    subscription: s
    count: 5
    rate: 10/s
    prompt_tokens: 10
    completion_tokens: 10
`

// TestFullDiskStopsTheRun: on a full disk (a 128 KiB tmpfs; root only)
// `aiload run` says at once that records cannot be written, stops the load
// instead of running its ten minutes unmetered, and exits 1.
func TestFullDiskStopsTheRun(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	disk := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", disk).Run() })
	scen := filepath.Join(t.TempDir(), "fill.yaml")
	if err := os.WriteFile(scen, []byte(fastScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ailoadBinary(t), "run", scen, "--out", disk, "--no-tui", "--progress", "1s")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	err := waitExit(t, cmd, 120*time.Second)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("aiload run on a full disk: %v, want exit status 1\n%s", err, stderr.String())
	}
	for _, want := range []string{"records cannot be written", "no space left on device", "stopping the load"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}
