//go:build linux

package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkWholeRunMemory runs `aiload run` on scenarios/mixed-day.yaml
// stretched to 24 h (`duration: 24h`, `day: 24h` in its daily shapes) with
// `--clock virtual --no-tui`, the test binary acting as the aiload command
// in a process of its own, and reports the process's peak resident memory
// for the whole run (the kernel's high-water mark: the load, the ingest
// into DuckDB and the report's PDF and charts included) beside the peak
// of its load phase alone (resident memory sampled every 20 ms until the
// run says it is writing the database). The target is a whole run under
// 300 MB; see docs/benchmarks.md, "Memory of a whole run".
//
//	go test ./cmd/aiload -run '^$' -bench WholeRunMemory -benchtime 1x
func BenchmarkWholeRunMemory(b *testing.B) {
	src, err := os.ReadFile("../../scenarios/mixed-day.yaml")
	if err != nil {
		b.Fatal(err)
	}
	day := string(src)
	for _, r := range []struct {
		old, new string
		n        int
	}{{"duration: 4m\n", "duration: 24h\n", 1}, {"day: 4m,", "day: 24h,", 2}} {
		if c := strings.Count(day, r.old); c != r.n {
			b.Fatalf("mixed-day.yaml has %d of %q, want %d: update the benchmark", c, r.old, r.n)
		}
		day = strings.ReplaceAll(day, r.old, r.new)
	}
	dir := b.TempDir()
	file := filepath.Join(dir, "mixed-day-24h.yaml")
	if err := os.WriteFile(file, []byte(day), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Logf("load average before: %s", readLoadAvg())
	for i := 0; b.Loop(); i++ {
		out := filepath.Join(dir, "run"+strconv.Itoa(i))
		cmd := aiload("run", file, "--clock", "virtual", "--no-tui", "--out", out)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		var loadDone atomic.Bool
		var tail []string
		scanned := make(chan struct{})
		go func() {
			defer close(scanned)
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				line := sc.Text()
				if strings.Contains(line, "writing the database") {
					loadDone.Store(true)
				}
				if tail = append(tail, line); len(tail) > 20 {
					tail = tail[1:]
				}
			}
		}()
		var loadPeak int64
		tick := time.NewTicker(20 * time.Millisecond)
	sample:
		for {
			select {
			case <-scanned:
				break sample
			case <-tick.C:
				if !loadDone.Load() {
					loadPeak = max(loadPeak, childRSSKB(cmd.Process.Pid))
				}
			}
		}
		tick.Stop()
		err = cmd.Wait()
		wall := time.Since(start)
		if err != nil {
			b.Fatalf("aiload run: %v\n%s", err, strings.Join(tail, "\n"))
		}
		if !loadDone.Load() {
			b.Fatalf("aiload run did not say it was writing the database:\n%s", strings.Join(tail, "\n"))
		}
		peak := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // kB on Linux
		b.ReportMetric(float64(peak)/1024, "run_peak_MB")
		b.ReportMetric(float64(loadPeak)/1024, "load_peak_MB")
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.Logf("whole run: peak %d MB (the load phase: %d MB sampled) in %v", peak/1024, loadPeak/1024, wall.Round(time.Millisecond))
	}
}

// childRSSKB is the resident memory of process pid in kB (0 once it has
// exited).
func childRSSKB(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb
		}
	}
	return 0
}

// readLoadAvg is /proc/loadavg, or "?" where there is none.
func readLoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}
