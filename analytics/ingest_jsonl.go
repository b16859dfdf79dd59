package analytics

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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
	added, err := d.insertDeduped(ctx, query("ingest_jsonl.sql"), src)
	if err != nil {
		if ferr := d.diagnoseJSONL(ctx, src, path); ferr != nil {
			return ferr
		}
		return fmt.Errorf("ingest %s: %w", path, err)
	}
	res.Added = added
	return nil
}

// insertDeduped runs an INSERT that skips request ids already in the table,
// then removes duplicates within what it inserted, in one transaction. It
// returns the number of records added.
func (d *DB) insertDeduped(ctx context.Context, insert string, args ...any) (int64, error) {
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
			return &FieldError{File: name, Line: line, Field: "", Msg: "not a JSON object: " + err.Error()}
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
