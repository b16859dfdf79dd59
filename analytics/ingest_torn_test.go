package analytics

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recordLine is one whole aiload record line.
func recordLine(id string) string {
	return fmt.Sprintf(`{"schema":1,"ts":"2026-11-02T10:00:0%dZ","request_id":"%s","subscription_id":"s","team":"t","model":"gpt-4o","prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"status":200,"outcome":"ok"}`, len(id)%10, id)
}

// TestIngestSkipsTornLinesAnywhere: a torn or malformed line in the middle
// of a log is skipped and named, the other records load; a record torn by a
// full disk and continued on the same line after a restart keeps the whole
// record that follows the torn part.
func TestIngestSkipsTornLinesAnywhere(t *testing.T) {
	t.Parallel()
	torn := recordLine("torn")[:60] // cut mid-record, as a full disk does
	for _, tc := range []struct {
		name        string
		lines       []string
		wantIDs     string
		wantSkipped []int
		wantReason  string
	}{
		// A restarted gateway that starts on a new line.
		{"torn line then new line", []string{recordLine("a"), torn, recordLine("b"), recordLine("c")}, "a b c", []int{2}, "not valid JSON"},
		// An older gateway that appended to the torn line.
		{"continued on the torn line", []string{recordLine("a"), torn + recordLine("b"), recordLine("c")}, "a b c", []int{2}, "the whole record after it was loaded"},
		// The first line torn: the format is still recognised.
		{"first line torn", []string{torn, recordLine("a"), recordLine("b")}, "a b", []int{1}, "not valid JSON"},
		// Garbage and a JSON value that is not an object, twice.
		{"garbage", []string{recordLine("a"), "\x00\x00\x00", "[1,2]", recordLine("b"), "}{"}, "a b", []int{2, 3, 5}, "not a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "tokens.jsonl")
			if err := os.WriteFile(p, []byte(strings.Join(tc.lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			db := openTestDB(t)
			res := ingest(t, db, p, FormatAuto)
			var ids string
			row(t, db, `SELECT string_agg(request_id, ' ' ORDER BY request_id) FROM records`, &ids)
			if ids != tc.wantIDs || res.Added != int64(len(strings.Fields(tc.wantIDs))) {
				t.Errorf("records %q (added %d), want %q", ids, res.Added, tc.wantIDs)
			}
			var lines []int
			reasons := ""
			for _, s := range res.Skipped {
				lines = append(lines, s.Line)
				reasons += s.Reason + "; "
				if s.File != p {
					t.Errorf("skipped line names file %q, want %q", s.File, p)
				}
			}
			if fmt.Sprint(lines) != fmt.Sprint(tc.wantSkipped) || !strings.Contains(reasons, tc.wantReason) {
				t.Errorf("skipped lines %v (%s), want %v with %q", lines, reasons, tc.wantSkipped, tc.wantReason)
			}
			// a second ingest of the same file adds nothing
			if again := ingest(t, db, p, FormatAuto); again.Added != 0 {
				t.Errorf("second ingest added %d", again.Added)
			}
		})
	}
}
