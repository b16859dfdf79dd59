package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aiload/aiload/internal/faultio"
)

// decodeLines parses JSONL, failing on any line that is not a record.
func decodeLines(t *testing.T, b []byte) []Record {
	t.Helper()
	var out []Record
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d %q: %v", len(out)+1, sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// errorLog collects what OnError is called with.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) add(err error) { l.mu.Lock(); l.errs = append(l.errs, err); l.mu.Unlock() }
func (l *errorLog) get() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

// TestWriterSurvivesFullDisk: a disk that fills up in the middle of a line
// neither loses records nor leaves a torn line: the error is reported at
// once, records wait in the buffer, and once space is freed the cut line is
// completed and every record lands, in order.
func TestWriterSurvivesFullDisk(t *testing.T) {
	t.Parallel()
	disk := faultio.New()
	var seen errorLog
	w := NewWriter(disk, time.Hour, OnError(seen.add))
	write := func(from, to int) {
		for i := from; i < to; i++ {
			if err := w.Write(&Record{RequestID: fmt.Sprint(i), Outcome: OutcomeOK}); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
		}
	}
	write(0, 10)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	disk.Fill(50) // the next line is cut after 50 bytes
	write(10, 160)
	err := w.Flush()
	if !errors.Is(err, syscall.ENOSPC) || !errors.Is(w.Err(), syscall.ENOSPC) {
		t.Fatalf("Flush on a full disk: %v, Err %v; want ENOSPC", err, w.Err())
	}
	if errs := seen.get(); len(errs) != 1 || !errors.Is(errs[0], syscall.ENOSPC) {
		t.Fatalf("OnError calls %v, want one with ENOSPC", errs)
	}
	if err := w.Flush(); err == nil { // a retry while still full
		t.Fatal("Flush succeeded on a full disk")
	}
	disk.Free()
	if err := w.Flush(); err != nil || w.Err() != nil {
		t.Fatalf("Flush after space was freed: %v, Err %v", err, w.Err())
	}
	write(160, 300)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs := decodeLines(t, disk.Bytes())
	if len(recs) != 300 || w.Count() != 300 || w.Dropped() != 0 {
		t.Fatalf("%d records on disk, %d accepted, %d dropped; want 300, 300, 0", len(recs), w.Count(), w.Dropped())
	}
	for i, r := range recs {
		if r.RequestID != fmt.Sprint(i) {
			t.Fatalf("record %d has request id %q", i, r.RequestID)
		}
	}
	if errs := seen.get(); len(errs) != 2 || errs[1] != nil {
		t.Fatalf("OnError calls %v, want the error then nil", errs)
	}
}

// TestWriterDropsBeyondMaxPending: while the log cannot be written, records
// beyond the pending buffer are dropped, counted and reported by Write;
// what was kept is written whole once the disk recovers.
func TestWriterDropsBeyondMaxPending(t *testing.T) {
	t.Parallel()
	disk := faultio.New()
	w := NewWriter(disk, time.Hour, MaxPending(4096))
	disk.Fill(0)
	var dropped int
	for i := range 200 {
		err := w.Write(&Record{RequestID: fmt.Sprint(i)})
		if i == 0 {
			_ = w.Flush() // the failure that puts the writer in its failing state
		}
		if errors.Is(err, ErrDropped) {
			dropped++
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("drop error %v does not carry the cause", err)
			}
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if dropped == 0 || int64(dropped) != w.Dropped() {
		t.Fatalf("Write reported %d drops, Dropped says %d; want the same, > 0", dropped, w.Dropped())
	}
	disk.Free()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs := decodeLines(t, disk.Bytes())
	if int64(len(recs)) != w.Count() || len(recs)+dropped != 200 {
		t.Fatalf("%d on disk + %d dropped, Count %d; want 200 in all", len(recs), dropped, w.Count())
	}
}

// TestWriterCloseCountsUnwritten: records still unwritten at Close are
// counted as dropped and Close says how many.
func TestWriterCloseCountsUnwritten(t *testing.T) {
	t.Parallel()
	disk := faultio.New()
	w := NewWriter(disk, time.Hour)
	disk.Fill(10)
	for i := range 5 {
		if err := w.Write(&Record{RequestID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	err := w.Close()
	if err == nil || !strings.Contains(err.Error(), "5 records not written") || w.Dropped() != 5 {
		t.Fatalf("Close: %v, Dropped %d; want 5 records not written", err, w.Dropped())
	}
}

// TestAppendContinuesTornLine: a log that ends in a torn line (a crash or a
// full disk) is continued on a new line, so only the torn line is bad.
func TestAppendContinuesTornLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, before, want string
	}{
		{"torn last line", "{\"schema\":1}\n{\"sche", "{\"schema\":1}\n{\"sche\n"},
		{"whole last line", "{\"schema\":1}\n", "{\"schema\":1}\n"},
		{"empty file", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tokens.jsonl")
			if err := os.WriteFile(path, []byte(tc.before), 0o644); err != nil {
				t.Fatal(err)
			}
			w, err := Append(path, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(&Record{RequestID: "new"}); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(path)
			got, rest, _ := bytes.Cut(b, []byte(`{"schema":1,"ts"`))
			if string(got) != tc.want || !bytes.Contains(rest, []byte(`"request_id":"new"`)) {
				t.Fatalf("log is %q; want %q then the new record", b, tc.want)
			}
		})
	}
}
