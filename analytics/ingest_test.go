package analytics

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func openTestDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "t.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func ingest(t *testing.T, db *DB, path string, f Format) IngestResult {
	t.Helper()
	res, err := db.Ingest(context.Background(), path, f)
	if err != nil {
		t.Fatalf("ingest %s: %v", path, err)
	}
	return res
}

// row fetches one row of a query for comparison.
func row(t *testing.T, db *DB, q string, dst ...any) {
	t.Helper()
	if err := db.SQL().QueryRow(q).Scan(dst...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestIngestFormats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file   string
		format Format // detected
		added  int64
		// check is a query over records and its expected single-line answer.
		check, want string
	}{
		// three records; the third has no schema field (pre-versioned) and few fields.
		{"aiload_v1.jsonl", FormatAiload, 3,
			`SELECT string_agg(request_id || ':' || team || ':' || total_tokens || ':' || coalesce(outcome,'?'), ' ' ORDER BY ts) FROM records`,
			"r1:alpha:120:ok r2:alpha:1000:throttled r3:beta:55:ok"},
		// four rows for three requests: the split message (SequenceNumber 1) is one request;
		// missing completion/total tokens are 0 and prompt 400 is the total.
		{"apim.csv", FormatAPIM, 3,
			`SELECT string_agg(request_id || ':' || subscription_id || ':' || team || ':' || model || ':' || total_tokens || ':' || outcome, ' ' ORDER BY ts) FROM records`,
			"7c1e0f1a-0001:sub-marketing:standard:gpt-4o:1500:ok 7c1e0f1a-0002:sub-support:developer:gpt-4o-mini:400:ok 7c1e0f1a-0003:sub-support:developer:gpt-4o-mini:0:throttled"},
		// the JSON export carries a Team column and the backend tier.
		{"apim.json", FormatAPIM, 2,
			`SELECT string_agg(request_id || ':' || team || ':' || backend_tier || ':' || stream, ' ' ORDER BY ts) FROM records`,
			"aa-1:research:ptu:true aa-2:research:payg:false"},
		// cached tokens come from metadata; the failure with error_code 429 is throttled.
		// startTime has no zone (Postgres timestamp): read as UTC.
		{"litellm.csv", FormatLiteLLM, 2,
			`SELECT string_agg(request_id || ':' || team || ':' || model || ':' || cached_tokens || ':' || status || ':' || outcome || ':' || latency_ms::BIGINT || ':' || epoch(ts)::BIGINT, ' ' ORDER BY ts) FROM records`,
			"chatcmpl-101:team-ds:gpt-4o:200:200:ok:1750:1793779201 chatcmpl-102:team-ds:gpt-4o:0:429:throttled:20:1793779210"},
		// the portal's CSV export: "TimeGenerated [UTC]" header and US-style timestamps.
		{"apim_portal.csv", FormatAPIM, 2,
			`SELECT string_agg(request_id || '@' || strftime(ts, '%Y-%m-%dT%H:%M:%S.%g'), ' ' ORDER BY ts) FROM records`,
			"p-2@2026-11-03T09:16:00.000 p-1@2026-11-03T21:15:02.123"},
		// GET /spend/logs/v2 wraps the rows in {"data": [...], "total": …}.
		{"litellm_v2.json", FormatLiteLLM, 2,
			`SELECT string_agg(request_id || ':' || team || ':' || model || ':' || status || ':' || outcome, ' ' ORDER BY ts) FROM records`,
			"chatcmpl-301:team-ops:gpt-4.1:200:ok chatcmpl-302:team-ops:gpt-4.1:500:backend_error"},
		{"litellm.json", FormatLiteLLM, 1,
			`SELECT string_agg(request_id || ':' || team || ':' || user_id || ':' || prompt_tokens, ' ') FROM records`,
			"chatcmpl-201:team-web:customer-9:1000"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata", tc.file)
			got, err := DetectFormat(path)
			if err != nil || got != tc.format {
				t.Fatalf("DetectFormat(%s) = %q, %v; want %q", tc.file, got, err, tc.format)
			}
			db := openTestDB(t)
			if res := ingest(t, db, path, FormatAuto); res.Added != tc.added {
				t.Errorf("first ingest added %d, want %d", res.Added, tc.added)
			}
			if res := ingest(t, db, path, FormatAuto); res.Added != 0 {
				t.Errorf("second ingest added %d, want 0 (dedupe on request id)", res.Added)
			}
			var s string
			row(t, db, tc.check, &s)
			if s != tc.want {
				t.Errorf("records:\n got %s\nwant %s", s, tc.want)
			}
		})
	}
}

func TestIngestParquetGlob(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	ingest(t, db, filepath.Join("testdata", "aiload_v1.jsonl"), FormatAiload)
	dir := t.TempDir()
	// Two Parquet files: all of the records, and an older column set
	// (no dims, no cached_tokens) holding one new record.
	if _, err := db.SQL().Exec(`COPY records TO '` + filepath.Join(dir, "a.parquet") + `' (FORMAT parquet)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().Exec(`COPY (SELECT ts + INTERVAL 1 HOUR AS ts, 'p1' AS request_id, 'gamma' AS team, 7 AS total_tokens, 'ok' AS outcome FROM records LIMIT 1) TO '` +
		filepath.Join(dir, "b.parquet") + `' (FORMAT parquet)`); err != nil {
		t.Fatal(err)
	}
	db2 := openTestDB(t)
	glob := filepath.Join(dir, "*.parquet")
	if res := ingest(t, db2, glob, FormatAuto); res.Added != 4 || res.Format != FormatParquet {
		t.Errorf("parquet ingest = %+v, want 4 records", res)
	}
	if res := ingest(t, db2, glob, FormatAuto); res.Added != 0 {
		t.Errorf("second parquet ingest added %d, want 0", res.Added)
	}
	var s string
	row(t, db2, `SELECT string_agg(request_id || ':' || team || ':' || total_tokens, ' ' ORDER BY ts) FROM records`, &s)
	if want := "r1:alpha:120 r2:alpha:1000 r3:beta:55 p1:gamma:7"; s != want {
		t.Errorf("records: got %s, want %s", s, want)
	}
}

func TestIngestTornLastLine(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	res := ingest(t, db, filepath.Join("testdata", "torn.jsonl"), FormatAuto)
	if res.Added != 1 || res.TornLine != 2 {
		t.Errorf("torn ingest = %+v; want 1 added, torn line 2", res)
	}
	// A whole last record without a final newline is not torn.
	p := filepath.Join(t.TempDir(), "nofinal.jsonl")
	if err := os.WriteFile(p, []byte(`{"ts":"2026-11-02T11:00:00Z","request_id":"n1","outcome":"ok"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := ingest(t, db, p, FormatAiload); res.Added != 1 || res.TornLine != 0 {
		t.Errorf("no-final-newline ingest = %+v; want 1 added, no torn line", res)
	}
}

func TestIngestWrongType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file   string
		format Format
		line   int
		field  string
	}{
		{"badtype.jsonl", FormatAuto, 2, "prompt_tokens"},       // "ten" where an integer belongs
		{"apim_badtype.csv", FormatAuto, 3, "CompletionTokens"}, // header is line 1, "five" on line 3
		{"apim_nokey.csv", FormatAPIM, 1, "CorrelationId"},      // no request id column at all
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			db := openTestDB(t)
			path := filepath.Join("testdata", tc.file)
			_, err := db.Ingest(context.Background(), path, tc.format)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("ingest %s: err = %v, want a *FieldError", tc.file, err)
			}
			if fe.File != path || fe.Line != tc.line || fe.Field != tc.field {
				t.Errorf("error = %v; want %s:%d field %q", fe, path, tc.line, tc.field)
			}
			var n int
			row(t, db, `SELECT count(*) FROM records`, &n)
			if n != 0 {
				t.Errorf("%d records after a failed ingest, want 0", n)
			}
		})
	}
}

func TestIngestDuplicatesWithinAFile(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	ingest(t, db, filepath.Join("testdata", "aiload_v1.jsonl"), FormatAiload)
	// x1 appears twice in the file: loaded once.
	if res := ingest(t, db, filepath.Join("testdata", "dup.jsonl"), FormatAiload); res.Added != 2 {
		t.Errorf("added %d, want 2 (x1 once, x2)", res.Added)
	}
	var n, x1 int
	row(t, db, `SELECT count(*), count(*) FILTER (WHERE request_id = 'x1') FROM records`, &n, &x1)
	if n != 5 || x1 != 1 {
		t.Errorf("%d records, %d x1; want 5 and 1", n, x1)
	}
}

func TestIngestJSONLGlob(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	// d*.jsonl matches demand.jsonl (5 records) and dup.jsonl (2 request ids).
	res := ingest(t, db, filepath.Join("testdata", "d*.jsonl"), FormatAuto)
	if res.Added != 7 || res.Format != FormatAiload {
		t.Errorf("glob ingest = %+v, want 7 aiload records", res)
	}
}

func TestIngestParquetWrongType(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	file := filepath.Join(t.TempDir(), "bad.parquet")
	// Row 2 of the file has prompt_tokens "ten".
	if _, err := db.SQL().Exec(`COPY (SELECT * FROM (VALUES
		(TIMESTAMPTZ '2026-11-02 10:00:00+00', 'q1', '12'),
		(TIMESTAMPTZ '2026-11-02 10:00:01+00', 'q2', 'ten')) v(ts, request_id, prompt_tokens))
		TO '` + file + `' (FORMAT parquet)`); err != nil {
		t.Fatal(err)
	}
	_, err := db.Ingest(context.Background(), file, FormatAuto)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.File != file || fe.Line != 2 || fe.Field != "prompt_tokens" {
		t.Fatalf("err = %v; want %s:2 field prompt_tokens", err, file)
	}
}

func TestParsePeriod(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in         string
		start, end string // "" end: an error is expected
		months     int
	}{
		{"2026-11", "2026-11-01", "2026-12-01", 1},                // a calendar month
		{"2026-12", "2026-12-01", "2027-01-01", 1},                // across the year end
		{"2026-11-01..2026-11-07", "2026-11-01", "2026-11-08", 0}, // days, end inclusive
		{"2026-11-01..2026-12-31", "2026-11-01", "2027-01-01", 2}, // whole months as a range
		{"2026-13", "", "", 0},                                    // no month 13
		{"2026-11-08..2026-11-01", "", "", 0},                     // backwards
	}
	for _, tc := range tests {
		p, err := ParsePeriod(tc.in)
		if tc.end == "" {
			if err == nil {
				t.Errorf("ParsePeriod(%q) = %+v, want an error", tc.in, p)
			}
			continue
		}
		if err != nil || p.Start.Format("2006-01-02") != tc.start || p.End.Format("2006-01-02") != tc.end || p.WholeMonths() != tc.months {
			t.Errorf("ParsePeriod(%q) = %v..%v (%d months), %v; want %s..%s (%d)", tc.in, p.Start, p.End, p.WholeMonths(), err, tc.start, tc.end, tc.months)
		}
	}
	if FormatCents(123456) != "1234.56" || FormatCents(5) != "0.05" || FormatCents(-250) != "-2.50" {
		t.Error("FormatCents")
	}
}

// The two APIM tables exported separately join on CorrelationId in either
// order; gateway rows without an LLM log row (g-3, another API) add no record.
func TestIngestAPIMTablesSeparately(t *testing.T) {
	t.Parallel()
	llm := filepath.Join("testdata", "apim_llm_only.csv")
	gw := filepath.Join("testdata", "apim_gateway_only.csv")
	want := "g-1:sub-legal:standard:203.0.113.9:aoai-ptu:330:900 g-2:sub-legal:standard:203.0.113.9:aoai-ptu:550:1500"
	for _, order := range [][]string{{llm, gw}, {gw, llm}} {
		db := openTestDB(t)
		var added, completed int64
		for _, f := range order {
			r := ingest(t, db, f, FormatAuto)
			added += r.Added
			completed += r.Completed
		}
		var got string
		row(t, db, `SELECT string_agg(request_id || ':' || subscription_id || ':' || team || ':' || client_ip || ':' ||
			backend || ':' || total_tokens || ':' || latency_ms::BIGINT, ' ' ORDER BY ts) FROM records`, &got)
		// LLM log first: the gateway log completes both records afterwards.
		wantCompleted := int64(0)
		if order[0] == llm {
			wantCompleted = 2
		}
		if added != 2 || completed != wantCompleted || got != want {
			t.Errorf("order %v: added %d, completed %d\n got %s\nwant %s", order, added, completed, got, want)
		}
	}
}
