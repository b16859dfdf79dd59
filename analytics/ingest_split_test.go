package analytics

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A file large enough to be read as two halves on two threads loads every
// record once; a request id repeated across the halves keeps the file's
// first record for it; no copy is left beside the database.
func TestIngestHalvesOfALargeFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "day.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	pad := strings.Repeat("x", 300) // records of about 400 bytes; a day's are 815, mostly keys
	var size, n int
	for size < splitIngestMinBytes+1<<20 {
		k, _ := fmt.Fprintf(w, `{"schema":1,"ts":"2026-11-02T10:%02d:%02dZ","request_id":"r%d","team":"first","dims":{"pad":"%s"}}`+"\n",
			n/60%60, n%60, n, pad)
		size += k
		n++
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		extra string // appended to the file first
	}{
		{"each id once", ""},
		// r0 again at the end, in the second half
		{"r0 twice", `{"schema":1,"ts":"2026-11-02T11:00:00Z","request_id":"r0","team":"second"}` + "\n"},
	} {
		if _, err := f.WriteString(c.extra); err != nil {
			t.Fatal(err)
		}
		db, err := Open(t.Context(), filepath.Join(dir, "t.duckdb"))
		if err != nil {
			t.Fatal(err)
		}
		res := ingest(t, db, path, FormatAiload)
		var team string
		var ids int64
		row(t, db, `SELECT any_value(team) FILTER (WHERE request_id = 'r0'), count(DISTINCT request_id) FROM records`, &team, &ids)
		if res.Added != int64(n) || ids != int64(n) || team != "first" {
			t.Errorf("%s: added %d, %d request ids, r0's team %q; want %d, %d, \"first\"", c.name, res.Added, ids, team, n, n)
		}
		db.Close()
		if left, _ := filepath.Glob(filepath.Join(dir, "t.duckdb.*")); len(left) > 0 {
			t.Errorf("%s: left behind: %v", c.name, left)
		}
		os.Remove(filepath.Join(dir, "t.duckdb"))
	}
	f.Close()
}
