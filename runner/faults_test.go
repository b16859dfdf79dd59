package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aiload/aiload/record"
)

// failingSink accepts after records and then fails every write, as a log on
// a disk that has filled up does.
func failingSink(after int64) func(record.Sink) record.Sink {
	return func(log record.Sink) record.Sink {
		var n atomic.Int64
		return record.SinkFunc(func(r *record.Record) error {
			if n.Add(1) > after {
				return fmt.Errorf("write record: %w", syscall.ENOSPC)
			}
			return log.Write(r)
		})
	}
}

// readSummary reads a run's summary.json.
func readSummary(t *testing.T, path string) SummaryFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	var sf SummaryFile
	if err := json.Unmarshal(b, &sf); err != nil {
		t.Fatalf("summary.json: %v\n%s", err, b)
	}
	return sf
}

// TestRecordWriteFailureStopsTheLoad: when records cannot be written, the
// run says so at once, stops the load instead of running its full minute
// unmetered, fails, and still leaves summary.json with what the callers saw
// and why the run failed.
func TestRecordWriteFailureStopsTheLoad(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	res, err := Run(context.Background(), Options{
		Scenario: "../scenarios/quickstart.yaml", OutDir: t.TempDir(), wrapLog: failingSink(5),
	}, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "no space left on device") || !strings.Contains(err.Error(), "the load was stopped") {
		t.Fatalf("Run: got %v, want an error naming the full disk and the stopped load", err)
	}
	if !strings.Contains(stderr.String(), "records cannot be written to "+res.Log) {
		t.Errorf("stderr does not say at once that records cannot be written:\n%s", stderr.String())
	}
	if res.Load == nil || !res.Load.Interrupted {
		t.Fatalf("load result %+v: want the load stopped before its duration", res.Load)
	}
	sf := readSummary(t, res.SummaryJSON)
	if sf.Status != statusFailed || !strings.Contains(sf.Error, "no space left on device") || sf.Total.Sent == 0 {
		t.Errorf("summary.json: status %q, error %q, sent %d; want failed, the cause, and the requests sent", sf.Status, sf.Error, sf.Total.Sent)
	}
}

// TestReportFailureKeepsSummary: a chargeback report that cannot be
// written fails the run, but only after summary.json, the database and
// the printed summary.
func TestReportFailureKeepsSummary(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	dir := filepath.Join(out, "quickstart-20260504T100000Z")
	// report.pdf cannot be created: a folder has its name
	if err := os.MkdirAll(filepath.Join(dir, "report.pdf"), 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	res, err := Run(context.Background(), Options{
		Scenario: "../scenarios/quickstart.yaml", OutDir: out, Duration: 3 * time.Second,
		Now: func() time.Time { return now },
	}, &stdout, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "report.pdf") {
		t.Fatalf("Run: got %v, want the report's error", err)
	}
	if res.Dir != dir {
		t.Fatalf("run folder %s, want %s", res.Dir, dir)
	}
	sf := readSummary(t, res.SummaryJSON)
	if sf.Status != statusComplete || sf.Records == 0 || sf.Records != sf.Total.Sent || len(sf.Gateway) == 0 {
		t.Errorf("summary.json: status %q, %d records, %d sent, %d gateway rows; want complete with every record", sf.Status, sf.Records, sf.Total.Sent, len(sf.Gateway))
	}
	if !strings.Contains(stdout.String(), "subscription") || !strings.Contains(stdout.String(), "summary: "+res.SummaryJSON) {
		t.Errorf("printed summary missing:\n%s", stdout.String())
	}
	if _, err := os.Stat(res.DB); err != nil {
		t.Errorf("database: %v", err)
	}
}

// TestMergeRefusesUnfinishedShard: a shard killed mid-load left a
// summary.json of status running; merging it would pass partial counts
// off as a whole run.
func TestMergeRefusesUnfinishedShard(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sf := `{"schema":1,"scenario":"q","load":{"scenario":"q","personas":[]},"status":"running"}`
	if err := os.WriteFile(filepath.Join(dir, "summary.json"), []byte(sf), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readShards([]string{dir}); err == nil || !strings.Contains(err.Error(), "did not finish") {
		t.Fatalf("readShards: got %v, want an unfinished-run error", err)
	}
}

// TestSweepRefusesADevice: sweep reads its scenario under the same limits
// as run and validate; /dev/zero is refused instead of read forever.
func TestSweepRefusesADevice(t *testing.T) {
	t.Parallel()
	_, err := Sweep(context.Background(), SweepOptions{Scenario: "/dev/zero", Sets: []string{"seed=1,2"}})
	if err == nil || !strings.Contains(err.Error(), "/dev/zero: read scenario: not a regular file (a device)") {
		t.Fatalf("Sweep(/dev/zero): got %v, want a not-a-regular-file error", err)
	}
}
