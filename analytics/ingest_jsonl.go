package analytics

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ingestJSONL loads aiload JSONL with DuckDB's read_json and an explicit
// schema. An incomplete last line is cut off first (into a temporary copy)
// and reported; a value of the wrong type is located by a strict scan of the
// file so the error names the line and field.
func (d *DB) ingestJSONL(ctx context.Context, path string, res *IngestResult) error {
	src := absPath(path)
	torn, keep, err := tornTail(src)
	if err != nil {
		return fmt.Errorf("ingest %s: %w", path, err)
	}
	if torn > 0 {
		res.TornLine = torn
		tmp, err := copyPrefix(src, keep)
		if err != nil {
			return fmt.Errorf("ingest %s: %w", path, err)
		}
		defer os.Remove(tmp)
		src = tmp
	}
	added, err := d.insertJSONL(ctx, src)
	if err == nil {
		res.Added = added
		return nil
	}
	if ferr := d.diagnoseJSONL(ctx, src, path); ferr != nil {
		return ferr
	}
	// lines that are not JSON (a record torn by a full disk or a crash, and
	// continued after a restart): load the others
	clean, skipped, cerr := cleanJSONL(src)
	if cerr != nil || len(skipped) == 0 {
		return fmt.Errorf("ingest %s: %w", path, err)
	}
	for i := range skipped {
		skipped[i].File = path
	}
	defer os.Remove(clean)
	res.Skipped = skipped
	if res.Added, err = d.insertDeduped(ctx, query("ingest_jsonl.sql"), clean); err != nil {
		return fmt.Errorf("ingest %s: %w", path, err)
	}
	return nil
}

// tornStart reports whether head is aiload JSONL whose first lines are
// not records (torn): one of the next lines of head is a whole record with
// the aiload columns.
func tornStart(head []byte) bool {
	lines := bytes.Split(head, []byte("\n"))
	for i := 1; i < len(lines)-1 && i <= 20; i++ { // the last may be cut by the head
		var rec struct {
			TS        *string `json:"ts"`
			RequestID *string `json:"request_id"`
		}
		l := bytes.TrimSpace(lines[i])
		if len(l) > 0 && l[0] == '{' && json.Unmarshal(l, &rec) == nil && rec.TS != nil && rec.RequestID != nil {
			return true
		}
	}
	return false
}

// maxLine bounds one JSONL line; a longer one is skipped as malformed.
const maxLine = 16 << 20

// cleanJSONL copies the JSON-object lines of the JSONL file at path to a
// temporary file and returns the lines it left out. A line that is not
// JSON but ends in a whole record (a torn record continued after a restart
// on the same line) keeps that record.
func cleanJSONL(path string) (tmp string, skipped []SkippedLine, err error) {
	in, err := os.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer in.Close()
	var r io.Reader = in
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(in)
		if err != nil {
			return "", nil, err
		}
		defer gz.Close()
		r = gz
	}
	out, err := os.CreateTemp("", "aiload-ingest-*.jsonl")
	if err != nil {
		return "", nil, err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(out.Name())
		}
	}()
	w := bufio.NewWriterSize(out, 1<<20)
	br := bufio.NewReaderSize(r, 1<<20)
	for line := 1; ; line++ {
		b, long, rerr := readLine(br)
		if rerr != nil && rerr != io.EOF {
			return "", nil, rerr
		}
		if rec, reason := wholeRecord(b, long); reason != "" {
			skipped = append(skipped, SkippedLine{Line: line, Reason: reason})
			if rec != nil {
				skipped[len(skipped)-1].Reason += "; the whole record after it was loaded"
				b = rec
			} else {
				b = nil
			}
		}
		if len(b) > 0 {
			w.Write(b)
			w.WriteByte('\n')
		}
		if rerr == io.EOF {
			break
		}
	}
	return out.Name(), skipped, w.Flush()
}

// readLine reads one line without its newline; a line over maxLine is
// consumed and reported long, with no bytes.
func readLine(r *bufio.Reader) (b []byte, long bool, err error) {
	for {
		frag, err := r.ReadSlice('\n')
		if !long {
			b = append(b, frag...)
			if len(b) > maxLine {
				b, long = nil, true
			}
		}
		if err != bufio.ErrBufferFull {
			return bytes.TrimRight(b, "\r\n"), long, err
		}
	}
}

// wholeRecord checks one line: reason is empty for a JSON object (or a
// blank line); otherwise it says what is wrong, and rec is the whole
// record that ends the line, if one does.
func wholeRecord(b []byte, long bool) (rec []byte, reason string) {
	if long {
		return nil, fmt.Sprintf("longer than %d MiB", maxLine>>20)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || (b[0] == '{' && json.Valid(b)) {
		return nil, ""
	}
	reason = "not a JSON object (a torn record?)"
	if !json.Valid(b) {
		reason = "not valid JSON (a torn record?)"
	}
	for i := 1; i < len(b); i++ {
		j := bytes.Index(b[i:], []byte(`{"schema":`))
		if j < 0 {
			break
		}
		i += j
		if json.Valid(b[i:]) {
			return b[i:], reason
		}
	}
	return nil, reason
}

// insertDeduped runs an INSERT that skips request ids already in the table,
// then removes duplicates within what it inserted (keeping the first
// inserted), in one transaction. It returns the number of records added.
func (d *DB) insertDeduped(ctx context.Context, insert string, args ...any) (int64, error) {
	return d.insertNew(ctx, false, insert, args...)
}

// errUnorderedDuplicates is returned by insertNew, which then adds nothing,
// when rows inserted out of their input's order repeat a request id.
var errUnorderedDuplicates = errors.New("request ids repeated in input inserted out of order")

// insertNew is insertDeduped; when the INSERT does not keep its input's
// order (unordered), repeated request ids within it are not removed (the
// first inserted may not be the first in the input): it fails with
// errUnorderedDuplicates instead.
func (d *DB) insertNew(ctx context.Context, unordered bool, insert string, args ...any) (int64, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var first int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(rowid) + 1, 0) FROM records`).Scan(&first); err != nil {
		return 0, err
	}
	r, err := tx.ExecContext(ctx, insert, args...)
	if err != nil {
		return 0, err
	}
	added, err := r.RowsAffected()
	if err != nil {
		return 0, err
	}
	var dups int64
	if err := tx.QueryRowContext(ctx, query("count_new_duplicates.sql"), first).Scan(&dups); err != nil {
		return 0, err
	}
	if dups > 0 && unordered {
		return 0, errUnorderedDuplicates
	}
	if dups > 0 {
		r, err := tx.ExecContext(ctx, query("dedupe_new.sql"), first)
		if err != nil {
			return 0, err
		}
		n, err := r.RowsAffected()
		if err != nil {
			return 0, err
		}
		added -= n
	}
	return added, tx.Commit()
}

// tornTail checks whether the file's last line is incomplete: no final
// newline and not a whole JSON value. It returns that line's number (0 when
// the tail is whole) and the length of the file without it.
func tornTail(path string) (line int, keep int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == 0 || strings.HasSuffix(path, ".gz") {
		return 0, st.Size(), err
	}
	size := st.Size()
	const chunk = 1 << 20
	off := max(0, size-chunk)
	buf := make([]byte, size-off)
	if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
		return 0, 0, err
	}
	if buf[len(buf)-1] == '\n' {
		return 0, size, nil
	}
	i := bytes.LastIndexByte(buf, '\n')
	last := bytes.TrimSpace(buf[i+1:])
	if i < 0 && off > 0 || len(last) == 0 || json.Valid(last) {
		return 0, size, nil // a whole last record without a final newline
	}
	keep = off + int64(i+1)
	n, err := countLines(f, keep)
	return n + 1, keep, err
}

// countLines counts newlines in the first n bytes of f.
func countLines(f *os.File, n int64) (int, error) {
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, n), 1<<20)
	buf := make([]byte, 1<<20)
	count := 0
	for {
		k, err := r.Read(buf)
		count += bytes.Count(buf[:k], []byte{'\n'})
		if err == io.EOF {
			return count, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// copyPrefix writes the first n bytes of path to a temporary file.
func copyPrefix(path string, n int64) (string, error) {
	in, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.CreateTemp("", "aiload-ingest-*"+filepath.Ext(path))
	if err != nil {
		return "", err
	}
	if _, err := io.CopyN(out, in, n); err != nil {
		out.Close()
		os.Remove(out.Name())
		return "", err
	}
	return out.Name(), out.Close()
}

// diagnoseJSONL scans the file line by line and returns a *FieldError for
// the first value whose JSON type does not fit its column, or nil.
func (d *DB) diagnoseJSONL(ctx context.Context, src, name string) error {
	kinds, err := d.columnKinds(ctx)
	if err != nil {
		return nil
	}
	f, err := os.Open(src)
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(b, &obj); err != nil {
			continue // not a record: cleanJSONL skips it
		}
		for field, raw := range obj {
			if msg := kinds[field].check(raw); msg != "" {
				return &FieldError{File: name, Line: line, Field: field, Msg: msg}
			}
		}
	}
	return nil
}

// kind is the JSON shape a records column accepts.
type kind string

func (k kind) check(raw json.RawMessage) string {
	if k == "" || string(raw) == "null" {
		return ""
	}
	s := strings.TrimSpace(string(raw))
	got := jsonType(s)
	switch k {
	case "string", "integer", "number", "boolean", "object":
		if got == k || (k == "number" && got == "integer") {
			return ""
		}
		if k == "integer" && got == "number" {
			return "want an integer, got " + s
		}
		return fmt.Sprintf("want %s, got %s %s", k, got, clip(s))
	case "timestamp":
		var v string
		if got != "string" || json.Unmarshal(raw, &v) != nil {
			return fmt.Sprintf("want an RFC 3339 timestamp string, got %s %s", got, clip(s))
		}
		if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
			return fmt.Sprintf("want an RFC 3339 timestamp, got %q", v)
		}
	}
	return ""
}

func jsonType(s string) kind {
	switch {
	case s == "":
		return "nothing"
	case s[0] == '"':
		return "string"
	case s[0] == '{':
		return "object"
	case s[0] == '[':
		return "array"
	case s == "true" || s == "false":
		return "boolean"
	case strings.ContainsAny(s, ".eE"):
		return "number"
	}
	return "integer"
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// columnKinds maps each records column to the JSON shape it accepts,
// derived from the table's DuckDB types.
func (d *DB) columnKinds(ctx context.Context) (map[string]kind, error) {
	rows, err := d.db.QueryContext(ctx,
		`SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'records'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]kind{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		out[name] = kindOf(typ)
	}
	return out, rows.Err()
}

func kindOf(duckType string) kind {
	switch {
	case duckType == "VARCHAR":
		return "string"
	case duckType == "BIGINT" || duckType == "INTEGER":
		return "integer"
	case duckType == "DOUBLE":
		return "number"
	case duckType == "BOOLEAN":
		return "boolean"
	case strings.HasPrefix(duckType, "TIMESTAMP"):
		return "timestamp"
	case strings.HasPrefix(duckType, "MAP"):
		return "object"
	}
	return ""
}
