package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

// These tests run the real aiload binary as a user would, and stop it the
// hard ways: SIGTERM (as a service manager does) and kill -9 (a crash).

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// ailoadBinary builds the aiload binary once per test process.
func ailoadBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "aiload-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "aiload")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			t.Logf("%s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build aiload: %v", buildErr)
	}
	return binPath
}

// quickstartKeys are the subscription keys written in the quickstart scenario.
var quickstartKeys = []string{"sk-support-0001", "sk-research-0002", "sk-marketing-0003"}

// progressOK matches a progress line and captures the ok count.
var progressOK = regexp.MustCompile(`sent (\d+)\s+ok (\d+)`)

// startRun starts `aiload run` on the quickstart and returns the command,
// its stdout buffer, and a channel of the ok counts its progress lines show.
func startRun(t *testing.T, out string) (*exec.Cmd, *bytes.Buffer, <-chan int) {
	t.Helper()
	cmd := exec.Command(ailoadBinary(t), "run", "../../scenarios/quickstart.yaml",
		"--duration", "60s", "--out", out, "--no-tui", "--progress", "1s")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	oks := make(chan int, 128)
	go func() {
		defer close(oks)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := progressOK.FindStringSubmatch(sc.Text()); m != nil {
				n, _ := strconv.Atoi(m[2])
				select {
				case oks <- n:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, &stdout, oks
}

// waitOK waits for a progress line with at least n answered requests.
func waitOK(t *testing.T, oks <-chan int, n int) int {
	t.Helper()
	timeout := time.After(40 * time.Second)
	for {
		select {
		case got, ok := <-oks:
			if !ok {
				t.Fatal("aiload exited before reaching the expected progress")
			}
			if got >= n {
				return got
			}
		case <-timeout:
			t.Fatalf("no progress line with ok >= %d in 40 s", n)
		}
	}
}

func runFolder(t *testing.T, out string) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(out, "quickstart-*"))
	if len(dirs) != 1 {
		t.Fatalf("run folders %v, want one", dirs)
	}
	return dirs[0]
}

// TestSIGTERMDrainsAndKeepsEveryRecord: SIGTERM mid-run stops the load,
// drains in-flight requests, writes the database and summary, exits 0, and
// every request the load generator sent has its record.
func TestSIGTERMDrainsAndKeepsEveryRecord(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	cmd, stdout, oks := startRun(t, out)
	waitOK(t, oks, 3)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("aiload after SIGTERM: %v (want exit 0)", err)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("aiload did not exit within 45 s of SIGTERM")
	}
	dir := runFolder(t, out)
	var sum struct {
		Load struct {
			Personas []struct {
				Sent int64 `json:"sent"`
			} `json:"personas"`
		} `json:"load"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatalf("summary.json after SIGTERM: %v", err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	var sent int64
	for _, p := range sum.Load.Personas {
		sent += p.Sent
	}
	db, err := sql.Open("duckdb", filepath.Join(dir, "aiload.duckdb")+"?access_mode=read_only")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var records int64
	if err := db.QueryRow("SELECT count(*) FROM records").Scan(&records); err != nil {
		t.Fatal(err)
	}
	if sent == 0 || records != sent {
		t.Fatalf("after SIGTERM: %d records in DuckDB, %d requests sent; want equal", records, sent)
	}
	if !strings.Contains(stdout.String(), "subscription") {
		t.Fatalf("no summary table on stdout after SIGTERM:\n%s", stdout.String())
	}
	assertNoSecrets(t, dir, stdout.String())
}

// TestKill9LosesAtMostOneFlushInterval: after kill -9 the log holds every
// record of the requests answered a second before the kill (the writer
// flushes every 200 ms), and ingest reads the log, reporting a torn last
// line rather than failing.
func TestKill9LosesAtMostOneFlushInterval(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	cmd, _, oks := startRun(t, out)
	answered := waitOK(t, oks, 3)
	time.Sleep(time.Second)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	dir := runFolder(t, out)
	log := filepath.Join(dir, "tokens.jsonl")
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	for _, line := range bytes.Split(b, []byte("\n")) {
		if bytes.Contains(line, []byte(`"outcome":"ok"`)) {
			ok++
		}
	}
	if ok < answered {
		t.Fatalf("after kill -9: %d ok records in the log, but %d requests were answered over a second before", ok, answered)
	}
	code, stdoutS, stderrS := execute(t, "ingest", "--db", filepath.Join(t.TempDir(), "after.duckdb"), log)
	if code != 0 {
		t.Fatalf("ingest after kill -9: exit %d\n%s%s", code, stdoutS, stderrS)
	}
}

// assertNoSecrets greps every file of a run and the console output for the
// subscription keys: keys must never reach logs, records, reports or errors.
func assertNoSecrets(t *testing.T, dir, console string) {
	t.Helper()
	texts := map[string][]byte{"console": []byte(console)}
	_ = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		texts[path] = b
		if strings.HasSuffix(path, ".pdf") {
			if txt, err := exec.Command("pdftotext", path, "-").Output(); err == nil {
				texts[path+" (text)"] = txt
			}
		}
		return nil
	})
	if len(texts) < 4 {
		t.Fatalf("only %d artefacts found in %s", len(texts), dir)
	}
	for name, b := range texts {
		for _, key := range quickstartKeys {
			if bytes.Contains(b, []byte(key)) {
				t.Errorf("subscription key %q found in %s", key, name)
			}
		}
	}
}
