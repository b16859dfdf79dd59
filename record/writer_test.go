package record

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func readLines(t *testing.T, path string) []Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d: %v", len(out)+1, err)
		}
		out = append(out, r)
	}
	return out
}

// TestWriterConcurrentWritesAllLand: every record accepted by concurrent
// writers is on disk, whole, after Close.
func TestWriterConcurrentWritesAllLand(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens.jsonl")
	w, err := Create(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				r := &Record{RequestID: fmt.Sprintf("%d-%d", g, i), TotalTokens: 10, Outcome: OutcomeOK}
				if err := w.Write(r); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	recs := readLines(t, path)
	if len(recs) != 4000 || w.Count() != 4000 {
		t.Fatalf("got %d lines, %d counted; want 4000", len(recs), w.Count())
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if r.Schema != SchemaVersion || seen[r.RequestID] {
			t.Fatalf("bad or duplicate record %+v", r)
		}
		seen[r.RequestID] = true
	}
}

// TestWriterFlushesPeriodically: records reach the file within the flush
// interval without Close, so a kill -9 loses at most one interval.
func TestWriterFlushesPeriodically(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens.jsonl")
	w, err := Create(path, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Write(&Record{RequestID: "a"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(readLines(t, path)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("record not flushed by the periodic flush")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWriterAfterClose(t *testing.T) {
	t.Parallel()
	w, err := Create(filepath.Join(t.TempDir(), "x.jsonl"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(&Record{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close: %v, want ErrClosed", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestOutcomeValid(t *testing.T) {
	t.Parallel()
	for _, o := range Outcomes() {
		if !o.Valid() {
			t.Errorf("%q not valid", o)
		}
	}
	if Outcome("nope").Valid() {
		t.Error(`"nope" valid`)
	}
}

func BenchmarkWriter(b *testing.B) {
	w := NewWriter(discard{}, time.Second)
	defer w.Close()
	r := &Record{Schema: 1, TS: time.Now().UTC(), RequestID: "2b7c2c3e-4f63-4a8b-9d7e-0c1b2a3d4e5f",
		SubscriptionID: "support-sub", Product: "standard", Team: "support", Model: "gpt-4o-mini",
		PromptTokens: 412, CompletionTokens: 180, TotalTokens: 592, Status: 200, Outcome: OutcomeOK}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = w.Write(r)
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
