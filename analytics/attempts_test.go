package analytics

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAttemptsByBackend: backend_attempts land in DuckDB as a list of
// structs; per backend, the PTU's 429s that spilled to pay-as-you-go, a
// 429 that reached the caller, a failed attempt and one outside the
// period are counted as a hand count gives.
func TestAttemptsByBackend(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	jsonl := filepath.Join(t.TempDir(), "records.jsonl")
	lines := `{"schema":1,"ts":"2026-11-03T09:00:00Z","request_id":"a1","team":"a","backend":"payg","status":200,"outcome":"ok","backend_attempts":[{"backend":"ptu","status":429,"latency_ms":3.5},{"backend":"payg","status":200,"latency_ms":120}]}
{"schema":1,"ts":"2026-11-03T09:00:01Z","request_id":"a2","team":"a","backend":"ptu","status":429,"outcome":"backend_throttled","backend_attempts":[{"backend":"ptu","status":429,"latency_ms":2}]}
{"schema":1,"ts":"2026-11-03T09:00:02Z","request_id":"a3","team":"a","backend":"payg","status":200,"outcome":"ok","backend_attempts":[{"backend":"ptu","status":0,"latency_ms":100},{"backend":"payg","status":500,"latency_ms":9},{"backend":"payg","status":200,"latency_ms":80}]}
{"schema":1,"ts":"2026-11-03T09:00:03Z","request_id":"a4","team":"a","status":401,"outcome":"unauthorized"}
{"schema":1,"ts":"2026-11-03T10:00:00Z","request_id":"a5","team":"a","backend":"ptu","status":200,"outcome":"ok","backend_attempts":[{"backend":"ptu","status":200,"latency_ms":50}]}
`
	if err := os.WriteFile(jsonl, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := ingest(t, db, jsonl, FormatAuto); res.Added != 5 {
		t.Fatalf("added %d, want 5", res.Added)
	}
	var got string
	row(t, db, `SELECT string_agg(request_id || ':' || coalesce(CAST(len(backend_attempts) AS VARCHAR), 'null') || ':' ||
		coalesce(backend_attempts[1].backend || '/' || CAST(backend_attempts[1].status AS VARCHAR) || '/' || CAST(backend_attempts[1].latency_ms AS VARCHAR), '-'), ' ' ORDER BY ts) FROM records`, &got)
	if want := "a1:2:ptu/429/3.5 a2:1:ptu/429/2.0 a3:3:ptu/0/100.0 a4:null:- a5:1:ptu/200/50.0"; got != want {
		t.Errorf("backend_attempts in DuckDB:\n got %s\nwant %s", got, want)
	}
	bs, err := db.AttemptsByBackend(context.Background(), time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC), time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want := []BackendAttempts{
		{Backend: "payg", Attempts: 3, Refused: 0, Failed: 1, Retried: 1},
		{Backend: "ptu", Attempts: 3, Refused: 2, Failed: 1, Retried: 2},
	}
	if len(bs) != len(want) || bs[0] != want[0] || bs[1] != want[1] {
		t.Errorf("AttemptsByBackend = %+v\nwant %+v", bs, want)
	}
}
