package analytics

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Format names a log format that Ingest reads.
type Format string

// Formats Ingest understands. FormatAuto detects the format from the file
// name and its first record; see docs/ingest.md for the column mappings.
const (
	FormatAuto    Format = ""
	FormatAiload  Format = "aiload"  // aiload JSONL token-metric records, any schema version
	FormatParquet Format = "parquet" // Parquet files with the record's column names (globs allowed)
	FormatAPIM    Format = "apim"    // API Management LLM log joined to gateway log, CSV or JSON
	FormatLiteLLM Format = "litellm" // LiteLLM_SpendLogs export, CSV or JSON
)

// Formats lists the formats accepted by ParseFormat.
func Formats() []Format { return []Format{FormatAiload, FormatParquet, FormatAPIM, FormatLiteLLM} }

// ParseFormat maps a name ("auto", "aiload", "parquet", "apim", "litellm") to a Format.
func ParseFormat(s string) (Format, error) {
	if s == "" || s == "auto" {
		return FormatAuto, nil
	}
	for _, f := range Formats() {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown format %q (want auto, aiload, parquet, apim or litellm)", s)
}

// IngestResult reports what one Ingest call did.
type IngestResult struct {
	File   string
	Format Format
	// Added is the number of new records; records whose request id was
	// already present are skipped, so ingesting a file twice adds 0.
	Added int64
	// Completed counts earlier APIM records this file completed: a gateway
	// log (exported apart from the LLM log) adds subscription, product,
	// caller and status to LLM log records; an LLM log adds the model and
	// stream flag to the records of requests the gateway log refused.
	Completed int64
	// TornLine is the line number of an incomplete last line that was
	// skipped (a log cut off while being written); 0 when there was none.
	TornLine int
	// Skipped are other lines of aiload JSONL that were not records (torn
	// by a full disk or a crash, or otherwise malformed) and were left out.
	Skipped []SkippedLine
}

// SkippedLine is a line of an input file that was left out, and why.
type SkippedLine struct {
	File   string
	Line   int
	Reason string
}

// FieldError is a value of the wrong type in an input file.
type FieldError struct {
	File  string
	Line  int    // 1-based line (JSONL, CSV without multi-line fields) or record number
	Field string // the input's field or column name
	Msg   string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s:%d: field %q: %s", e.File, e.Line, e.Field, e.Msg)
}

// Ingest loads the records of the file (or Parquet glob) at path into the
// database, detecting the format when format is FormatAuto.
func (d *DB) Ingest(ctx context.Context, path string, format Format) (IngestResult, error) {
	res := IngestResult{File: path, Format: format}
	if format == FormatAuto {
		f, err := DetectFormat(path)
		if err != nil {
			return res, err
		}
		res.Format = f
	}
	if isGlob(path) && res.Format != FormatParquet {
		return d.ingestGlob(ctx, path, res.Format)
	}
	if res.Format == FormatAiload || res.Format == FormatParquet {
		var size int64
		if st, err := os.Stat(path); err == nil {
			size = st.Size()
		}
		limit, threads := ingestBounds(res.Format, size)
		restore, err := d.boundIngest(ctx, limit, threads)
		if err != nil {
			return res, err
		}
		defer restore()
	}
	var err error
	switch res.Format {
	case FormatAiload:
		err = d.ingestJSONL(ctx, path, &res)
	case FormatParquet:
		err = d.ingestParquet(ctx, path, &res)
	case FormatAPIM, FormatLiteLLM:
		err = d.ingestExternal(ctx, path, &res)
	default:
		err = fmt.Errorf("unknown format %q", res.Format)
	}
	return res, err
}

// IngestJSONL loads the records of an aiload JSONL file, skipping those
// already present (same request_id). It returns how many rows were added.
func (d *DB) IngestJSONL(ctx context.Context, path string) (int64, error) {
	res, err := d.Ingest(ctx, path, FormatAiload)
	return res.Added, err
}

// ingestGlob ingests every file a pattern matches (formats other than
// Parquet are read file by file, so a torn line or a wrong type names its
// file). The result sums the files; TornLine is that of the last torn file.
func (d *DB) ingestGlob(ctx context.Context, pattern string, format Format) (IngestResult, error) {
	res := IngestResult{File: pattern, Format: format}
	files, err := filepath.Glob(pattern)
	if err != nil {
		return res, fmt.Errorf("ingest %s: %w", pattern, err)
	}
	if len(files) == 0 {
		return res, fmt.Errorf("ingest %s: no files match", pattern)
	}
	for _, f := range files {
		r, err := d.Ingest(ctx, f, format)
		res.Added += r.Added
		res.Completed += r.Completed
		if r.TornLine > 0 {
			res.TornLine = r.TornLine
		}
		res.Skipped = append(res.Skipped, r.Skipped...)
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// isGlob reports whether path holds a glob pattern.
func isGlob(path string) bool { return strings.ContainsAny(path, "*?[") }

// absPath makes path absolute so DuckDB reads what the caller named.
func absPath(path string) string {
	if p, err := filepath.Abs(path); err == nil {
		return p
	}
	return path
}
