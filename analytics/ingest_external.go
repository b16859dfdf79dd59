package analytics

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// sourceColumn is a column an external format's mapping reads, with the
// DuckDB type its values must convert to (JSON: a document, object or text).
type sourceColumn struct{ name, typ string }

// apimColumns are the columns of the APIM export (docs/ingest.md) that the
// mapping reads; columns missing from a file are NULL.
var apimColumns = []sourceColumn{
	{"TimeGenerated", "TIMESTAMPTZ"}, {"CorrelationId", "VARCHAR"}, {"ApimSubscriptionId", "VARCHAR"},
	{"ProductId", "VARCHAR"}, {"Team", "VARCHAR"}, {"UserId", "VARCHAR"}, {"CallerIpAddress", "VARCHAR"},
	{"ApiId", "VARCHAR"}, {"BackendId", "VARCHAR"}, {"BackendTier", "VARCHAR"}, {"ModelName", "VARCHAR"},
	{"DeploymentName", "VARCHAR"}, {"PromptTokens", "BIGINT"}, {"CompletionTokens", "BIGINT"},
	{"TotalTokens", "BIGINT"}, {"IsStreamCompletion", "BOOLEAN"}, {"ResponseCode", "INTEGER"},
	{"BackendResponseCode", "INTEGER"}, {"TotalTime", "DOUBLE"}, {"BackendTime", "DOUBLE"},
	{"Region", "VARCHAR"}, {"SequenceNumber", "INTEGER"}, {"Url", "VARCHAR"}, {"RequestSize", "BIGINT"},
	{"RequestBody", "VARCHAR"},
}

// litellmColumns are the LiteLLM_SpendLogs columns the mapping reads.
var litellmColumns = []sourceColumn{
	{"request_id", "VARCHAR"}, {"call_type", "VARCHAR"}, {"api_key", "VARCHAR"}, {"spend", "DOUBLE"},
	{"total_tokens", "BIGINT"}, {"prompt_tokens", "BIGINT"}, {"completion_tokens", "BIGINT"},
	{"startTime", "TIMESTAMPTZ"}, {"endTime", "TIMESTAMPTZ"}, {"completionStartTime", "TIMESTAMPTZ"},
	{"request_duration_ms", "DOUBLE"}, {"model", "VARCHAR"}, {"model_group", "VARCHAR"},
	{"custom_llm_provider", "VARCHAR"}, {"api_base", "VARCHAR"}, {"user", "VARCHAR"},
	{"metadata", "JSON"}, {"team_id", "VARCHAR"}, {"end_user", "VARCHAR"},
	{"requester_ip_address", "VARCHAR"}, {"status", "VARCHAR"}, {"proxy_server_request", "JSON"},
	{"messages", "JSON"},
}

// required are the columns without which an external file has no records:
// its request id and timestamp.
var required = map[Format][]string{
	FormatAPIM:    {"CorrelationId", "TimeGenerated"},
	FormatLiteLLM: {"request_id", "startTime"},
}

// ingestExternal stages an APIM or LiteLLM export (CSV or JSON) in a
// temporary table, checks every typed column, and maps it onto records.
func (d *DB) ingestExternal(ctx context.Context, path string, res *IngestResult) error {
	cols := apimColumns
	if res.Format == FormatLiteLLM {
		cols = litellmColumns
	}
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("ingest %s: %w", path, err)
	}
	defer conn.Close()
	defer conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS stage")
	csv := strings.HasSuffix(strings.ToLower(strings.TrimSuffix(path, ".gz")), ".csv")
	have, err := stageFile(ctx, conn, path, csv)
	if err != nil {
		return err
	}
	for _, c := range required[res.Format] {
		if _, ok := have[strings.ToLower(c)]; !ok {
			return &FieldError{File: path, Line: 1, Field: c, Msg: fmt.Sprintf("missing: the %s format needs this column", res.Format)}
		}
	}
	_, tokens := have["prompttokens"]
	_, model := have["modelname"]
	gatewayOnly := res.Format == FormatAPIM && !tokens && !model
	if err := addMissing(ctx, conn, cols, have); err != nil {
		return fmt.Errorf("ingest %s: %w", path, err)
	}
	if csv {
		if err := portalTimestamps(ctx, conn, cols); err != nil {
			return fmt.Errorf("ingest %s: %w", path, err)
		}
	}
	if err := checkStage(ctx, conn, cols, path, csv); err != nil {
		return err
	}
	steps := mappingSteps(res.Format, gatewayOnly)
	typed := typedColumns(cols)
	for _, st := range steps {
		r, err := conn.ExecContext(ctx, strings.ReplaceAll(query(st.file), "{{typed}}", typed))
		if err != nil {
			return fmt.Errorf("ingest %s: %s: %w", path, st.what, err)
		}
		n, err := r.RowsAffected()
		if err != nil {
			return fmt.Errorf("ingest %s: %s: %w", path, st.what, err)
		}
		switch st.count {
		case countAdded:
			res.Added += n
		case countCompleted:
			res.Completed += n
		}
	}
	return nil
}

// step is one SQL statement of a format's mapping and what its row count
// means.
type step struct {
	file, what string
	count      int
}

const (
	countNone = iota
	countAdded
	countCompleted
)

// mappingSteps lists the statements that map a staged export onto records.
// APIM's two tables can arrive in separate files, in either order: an LLM
// log first completes records made from a gateway log's refused requests,
// then adds its own; a gateway log is kept (apim_gateway_logs), adds
// records for the requests it refused, and completes the LLM log's records.
func mappingSteps(f Format, gatewayOnly bool) []step {
	switch {
	case f == FormatLiteLLM:
		return []step{{"ingest_litellm.sql", "map LiteLLM rows", countAdded}}
	case gatewayOnly:
		return []step{
			{"apim_gateway_store.sql", "keep gateway log", countNone},
			{"apim_gateway_refused.sql", "add refused requests", countAdded},
			{"apim_gateway_complete.sql", "join gateway log", countCompleted},
		}
	}
	return []step{
		{"apim_llm_complete.sql", "complete refused requests", countCompleted},
		{"ingest_apim.sql", "map LLM log rows", countAdded},
		{"apim_gateway_complete.sql", "join gateway log", countCompleted},
	}
}

// typedColumns is the select list that casts each staged source column to
// its type, keeping its name. checkStage has made sure every value
// converts, so what TRY_CAST makes NULL is an empty text (as exports
// write a null).
func typedColumns(cols []sourceColumn) string {
	list := make([]string, len(cols))
	for i, c := range cols {
		if c.typ == "JSON" {
			list[i] = fmt.Sprintf("json_doc(%s) AS %s", ident(c.name), ident(c.name))
			continue
		}
		list[i] = fmt.Sprintf("TRY_CAST(%s AS %s) AS %s", ident(c.name), c.typ, ident(c.name))
	}
	return strings.Join(list, ", ")
}

// jsonReader reads a JSON export: JSON lines, or an array (pretty-printed
// or not), or one object that wraps the rows. One value may hold the whole
// file (an API answer), so the object size limit is raised.
const jsonReader = "read_json($1, format = 'auto', sample_size = -1, maximum_object_size = 1073741824)"

// stageFile reads a CSV or JSON export into the temporary table stage, with
// a row number (aiload_row). A JSON object that wraps the rows in "data" (as
// LiteLLM's /spend/logs/v2 answers) is unwrapped, and so is the Log
// Analytics API's {"tables": [{"columns": [...], "rows": [[...]]}]}. Log
// Analytics' "Name [UTC]" headers become Name. It returns the stage's
// columns by lower-case name.
func stageFile(ctx context.Context, conn *sql.Conn, path string, csv bool) (map[string]string, error) {
	reader := jsonReader
	if csv {
		reader = "read_csv($1, header = true, all_varchar = true)"
	}
	stage := "CREATE OR REPLACE TEMP TABLE stage AS SELECT row_number() OVER () AS aiload_row, * FROM " + reader
	if _, err := conn.ExecContext(ctx, stage, absPath(path)); err != nil {
		return nil, fmt.Errorf("ingest %s: read: %w", path, err)
	}
	have, err := stageColumns(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("ingest %s: %w", path, err)
	}
	unwrap := ""
	if _, ok := have["data"]; ok && !csv && len(have) <= 8 {
		unwrap = `CREATE OR REPLACE TEMP TABLE stage AS
			SELECT row_number() OVER () AS aiload_row, unnest(d) FROM (SELECT unnest(data) AS d FROM ` + jsonReader + `)`
	}
	if _, ok := have["tables"]; ok && !csv {
		if unwrap, err = tablesStage(ctx, conn, path); err != nil {
			return nil, err
		}
	}
	if unwrap != "" {
		if _, err := conn.ExecContext(ctx, unwrap, absPath(path)); err != nil {
			return nil, fmt.Errorf("ingest %s: read rows: %w", path, err)
		}
		if have, err = stageColumns(ctx, conn); err != nil {
			return nil, fmt.Errorf("ingest %s: %w", path, err)
		}
	}
	if err := renameExportHeaders(ctx, conn, have); err != nil {
		return nil, fmt.Errorf("ingest %s: %w", path, err)
	}
	return have, nil
}

// tablesReader reads the Log Analytics API's answer: each row is a JSON
// array whose values follow the table's columns.
const tablesReader = `(SELECT unnest(tables) AS t FROM read_json($1, maximum_object_size = 1073741824,
	columns = {'tables': 'STRUCT(name VARCHAR, columns STRUCT(name VARCHAR, type VARCHAR)[], rows JSON[])[]'}) LIMIT 1)`

// tablesStage returns the statement that stages the rows of the first
// table (PrimaryResult) of a Log Analytics API answer, every value as text
// (as in a CSV export), under its column's name.
func tablesStage(ctx context.Context, conn *sql.Conn, path string) (string, error) {
	rows, err := conn.QueryContext(ctx, `SELECT unnest(t.columns).name FROM `+tablesReader, absPath(path))
	if err != nil {
		return "", fmt.Errorf("ingest %s: read table columns: %w", path, err)
	}
	defer rows.Close()
	var list []string
	for i := 0; rows.Next(); i++ {
		var name string
		if err := rows.Scan(&name); err != nil {
			return "", fmt.Errorf("ingest %s: read table columns: %w", path, err)
		}
		list = append(list, fmt.Sprintf("json_extract_string(r, '$[%d]') AS %s", i, ident(name)))
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("ingest %s: read table columns: %w", path, err)
	}
	if len(list) == 0 {
		return "", &FieldError{File: path, Line: 1, Field: "tables", Msg: "the first table has no columns"}
	}
	return `CREATE OR REPLACE TEMP TABLE stage AS SELECT row_number() OVER () AS aiload_row, ` +
		strings.Join(list, ", ") + ` FROM (SELECT unnest(t.rows) AS r FROM ` + tablesReader + `)`, nil
}

// stageColumns returns the staged table's column names.
func stageColumns(ctx context.Context, conn *sql.Conn) (map[string]string, error) {
	rows, err := conn.QueryContext(ctx,
		`SELECT column_name FROM duckdb_columns() WHERE table_name = 'stage' AND database_name = 'temp'`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	have := map[string]string{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		have[strings.ToLower(n)] = n
	}
	return have, rows.Err()
}

// renameExportHeaders renames Log Analytics' "Name [UTC]" export headers
// to Name, updating have.
func renameExportHeaders(ctx context.Context, conn *sql.Conn, have map[string]string) error {
	for lower, n := range have {
		base, ok := strings.CutSuffix(lower, " [utc]")
		if _, dup := have[base]; !ok || dup {
			continue
		}
		if _, err := conn.ExecContext(ctx, fmt.Sprintf(`ALTER TABLE stage RENAME COLUMN %s TO %s`,
			ident(n), ident(n[:len(base)]))); err != nil {
			return err
		}
		delete(have, lower)
		have[base] = n[:len(base)]
	}
	return nil
}

// addMissing adds the source columns the stage lacks, as NULL.
func addMissing(ctx context.Context, conn *sql.Conn, cols []sourceColumn, have map[string]string) error {
	for _, c := range cols {
		if _, ok := have[strings.ToLower(c.name)]; ok {
			continue
		}
		if _, err := conn.ExecContext(ctx, fmt.Sprintf(`ALTER TABLE stage ADD COLUMN %s %s`, ident(c.name), c.typ)); err != nil {
			return err
		}
	}
	return nil
}

// checkStage returns a *FieldError for the first value of a typed source
// column that does not convert to its type.
func checkStage(ctx context.Context, conn *sql.Conn, cols []sourceColumn, path string, csv bool) error {
	for _, c := range cols {
		if c.typ == "VARCHAR" || c.typ == "JSON" {
			continue // any text is a string; json_doc makes what is not JSON NULL
		}
		q := strings.NewReplacer("{{col}}", ident(c.name), "{{type}}", c.typ).Replace(query("check_column.sql"))
		var row int
		var val string
		err := conn.QueryRowContext(ctx, q).Scan(&row, &val)
		if err == sql.ErrNoRows {
			continue
		}
		if err != nil {
			return fmt.Errorf("ingest %s: check %s: %w", path, c.name, err)
		}
		line := row
		if csv {
			line++ // the header is line 1
		}
		return &FieldError{File: path, Line: line, Field: c.name,
			Msg: fmt.Sprintf("cannot convert %q to %s", val, c.typ)}
	}
	return nil
}

// ident quotes a DuckDB identifier.
func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// ingestParquet stages Parquet files (a path or glob, read by name so files
// with older column sets mix), adds the record columns they lack, and
// inserts the new records.
func (d *DB) ingestParquet(ctx context.Context, path string, res *IngestResult) error {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("ingest %s: %w", path, err)
	}
	defer conn.Close()
	defer conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS stage")
	if _, err := conn.ExecContext(ctx,
		`CREATE OR REPLACE TEMP TABLE stage AS
		 SELECT * FROM read_parquet($1, union_by_name = true, filename = true, file_row_number = true)`,
		absPath(path)); err != nil {
		return fmt.Errorf("ingest %s: read: %w", path, err)
	}
	cols, err := d.recordColumns(ctx)
	if err != nil {
		return fmt.Errorf("ingest %s: %w", path, err)
	}
	have, err := stageColumns(ctx, conn)
	if err != nil {
		return fmt.Errorf("ingest %s: %w", path, err)
	}
	for _, c := range []string{"request_id", "ts"} {
		if _, ok := have[c]; !ok {
			return &FieldError{File: path, Line: 1, Field: c, Msg: "missing: aiload Parquet needs this column"}
		}
	}
	if err := addMissing(ctx, conn, cols, have); err != nil {
		return fmt.Errorf("ingest %s: %w", path, err)
	}
	list := make([]string, len(cols))
	for i, c := range cols {
		list[i] = fmt.Sprintf("CAST(s.%s AS %s)", ident(c.name), c.typ)
	}
	q := strings.Replace(query("ingest_stage.sql"), "{{columns}}", strings.Join(list, ", "), 1)
	r, err := conn.ExecContext(ctx, q)
	if err != nil {
		if ferr := checkParquetStage(ctx, conn, cols); ferr != nil {
			return ferr
		}
		return fmt.Errorf("ingest %s: %w", path, err)
	}
	res.Added, err = r.RowsAffected()
	return err
}

// checkParquetStage returns a *FieldError naming the file, row (1-based)
// and column of the first value that does not convert to its records type.
func checkParquetStage(ctx context.Context, conn *sql.Conn, cols []sourceColumn) error {
	for _, c := range cols {
		if c.typ == "VARCHAR" {
			continue
		}
		q := strings.NewReplacer("{{col}}", ident(c.name), "{{type}}", c.typ).Replace(query("check_parquet_column.sql"))
		var file, val string
		var row int
		if err := conn.QueryRowContext(ctx, q).Scan(&file, &row, &val); err != nil {
			continue // sql.ErrNoRows: this column converts
		}
		return &FieldError{File: file, Line: row + 1, Field: c.name, Msg: fmt.Sprintf("cannot convert %q to %s", val, c.typ)}
	}
	return nil
}

// recordColumns lists the records table's columns in table order.
func (d *DB) recordColumns(ctx context.Context) ([]sourceColumn, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_name = 'records' ORDER BY ordinal_position`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sourceColumn
	for rows.Next() {
		var c sourceColumn
		if err := rows.Scan(&c.name, &c.typ); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// portalTimestamps rewrites timestamps in the Azure portal's CSV export
// format ("11/3/2026, 9:15:02.123 AM", UTC) as ISO 8601, so they convert.
func portalTimestamps(ctx context.Context, conn *sql.Conn, cols []sourceColumn) error {
	for _, c := range cols {
		if c.typ != "TIMESTAMPTZ" {
			continue
		}
		q := strings.ReplaceAll(query("portal_timestamps.sql"), "{{col}}", ident(c.name))
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("timestamps in %s: %w", c.name, err)
		}
	}
	return nil
}
