package analytics

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// signature is what identifies a format: the columns a file of that
// format always has (its record's timestamp and id).
type signature struct {
	format Format
	need   []string
}

// signatures are checked in order; the first whose columns a file has
// names its format. LiteLLM comes before aiload: both have request_id.
var signatures = []signature{
	{FormatAPIM, []string{"TimeGenerated", "CorrelationId"}},
	{FormatLiteLLM, []string{"startTime", "request_id"}},
	{FormatAiload, []string{"ts", "request_id"}},
}

// DetectError says why a file matched no format: the columns it lacked
// for each.
type DetectError struct {
	File    string
	Columns []string            // the columns found (empty when none could be read)
	Missing map[Format][]string // per format, the identifying columns the file lacks
}

func (e *DetectError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "detect format of %s: not aiload JSONL, Parquet, APIM or LiteLLM", e.File)
	if len(e.Columns) == 0 {
		b.WriteString(" (no CSV header or JSON object found at its start)")
	}
	for _, s := range signatures {
		fmt.Fprintf(&b, "; %s: no %s", s.format, strings.Join(e.Missing[s.format], " or "))
	}
	b.WriteString(" (name one with --format)")
	return b.String()
}

// DetectFormat finds a file's format from its content: Parquet's magic
// bytes, else the column names of its first record — a CSV header, the
// first object of JSON lines or of a JSON array (pretty-printed or not),
// the first row of LiteLLM's {"data": [...]} page, or the columns of the
// Log Analytics API's {"tables": [{"columns": ...}]} answer. A
// ".parquet" name or a glob of them is Parquet. A file that matches no
// format returns a *DetectError.
func DetectFormat(path string) (Format, error) {
	if strings.HasSuffix(strings.ToLower(path), ".parquet") {
		return FormatParquet, nil
	}
	if isGlob(path) {
		m, err := filepath.Glob(path)
		if err != nil || len(m) == 0 {
			return "", fmt.Errorf("detect format: no files match %q", path)
		}
		return DetectFormat(m[0])
	}
	head, err := readHead(path, 64<<10)
	if err != nil {
		return "", fmt.Errorf("detect format of %s: %w", path, err)
	}
	if bytes.HasPrefix(head, []byte("PAR1")) {
		return FormatParquet, nil
	}
	cols := headColumns(head)
	have := map[string]bool{}
	for _, c := range cols {
		have[c] = true
	}
	missing := map[Format][]string{}
	for _, s := range signatures {
		for _, c := range s.need {
			if !have[c] {
				missing[s.format] = append(missing[s.format], c)
			}
		}
		if len(missing[s.format]) == 0 {
			return s.format, nil
		}
	}
	if tornStart(head) {
		return FormatAiload, nil
	}
	return "", &DetectError{File: path, Columns: cols, Missing: missing}
}

// readHead returns up to n bytes from the start of the file, decompressed
// when its name ends in .gz.
func readHead(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(strings.ToLower(path), ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	}
	head, err := io.ReadAll(io.LimitReader(r, n))
	if errors.Is(err, io.ErrUnexpectedEOF) && len(head) > 0 {
		err = nil // a truncated gzip stream still has a readable start
	}
	return head, err
}

// headColumns returns the column names of the first record in head: the
// keys of the first JSON object, the columns of a Log Analytics API table
// or of LiteLLM's data page, or the CSV header (Log Analytics' portal
// export writes "TimeGenerated [UTC]": the suffix is dropped). head may end
// in the middle of a record; the names read before its end are returned.
func headColumns(head []byte) []string {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(head, " \t\r\n")
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		return jsonColumns(json.NewDecoder(bytes.NewReader(trimmed)))
	}
	r := csv.NewReader(bytes.NewReader(head))
	r.LazyQuotes = true
	hdr, err := r.Read()
	if err != nil || len(hdr) < 2 {
		return nil
	}
	for i, h := range hdr {
		hdr[i], _ = strings.CutSuffix(strings.TrimSpace(h), " [UTC]")
	}
	return hdr
}

// jsonColumns reads the first object of a JSON value (an object, or an
// array of them) and returns its keys, descending into the wrappers of
// the Log Analytics API ({"tables": [{"columns": [{"name": …}]}]}) and of
// LiteLLM's /spend/logs/v2 ({"data": [{…}]}).
func jsonColumns(dec *json.Decoder) []string {
	tok, err := dec.Token()
	if err != nil {
		return nil
	}
	if tok == json.Delim('[') {
		if tok, err = dec.Token(); err != nil || tok != json.Delim('{') {
			return nil
		}
	}
	var keys []string
	for {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return keys
		}
		switch key {
		case "tables":
			if cols := tableColumns(dec); cols != nil {
				return cols
			}
		case "data":
			if cols := jsonColumns(dec); cols != nil {
				return cols
			}
		default:
			if skipValue(dec) != nil {
				return append(keys, key)
			}
		}
		keys = append(keys, key)
	}
}

// tableColumns reads the Log Analytics API's tables array up to the
// columns of its first table and returns their names, or nil when the
// value has another shape. The rows that follow need not be in head.
func tableColumns(dec *json.Decoder) []string {
	for _, want := range []json.Delim{'[', '{'} {
		if tok, err := dec.Token(); err != nil || tok != want {
			return nil
		}
	}
	for {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return nil
		}
		if key != "columns" {
			if skipValue(dec) != nil {
				return nil
			}
			continue
		}
		var cols []struct {
			Name string `json:"name"`
		}
		if err := dec.Decode(&cols); err != nil || len(cols) == 0 {
			return nil
		}
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = c.Name
		}
		return names
	}
}

// skipValue consumes one JSON value from dec.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}
