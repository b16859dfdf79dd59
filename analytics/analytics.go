// Package analytics turns token-metric records into numbers in DuckDB:
// ingest of aiload, Parquet, API Management and LiteLLM logs (Ingest),
// zero-filled per-minute demand (Demand), TPM limits and tiers by replay
// through the gateway's token limit (Recommend), PTU plans (PTUPlan) and
// per-team cost allocation (Chargeback). SQL lives in embedded .sql files
// beside this code; docs/analytics.md and docs/ingest.md describe the
// methods and mappings.
package analytics

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" driver
)

//go:embed sql/*.sql
var queries embed.FS

func query(name string) string {
	b, err := queries.ReadFile("sql/" + name)
	if err != nil {
		panic(fmt.Sprintf("embedded query %s missing: %v", name, err)) // a build defect, not input
	}
	return string(b)
}

// DB is an aiload analytics database (a DuckDB file).
type DB struct {
	db   *sql.DB
	path string // "" for an in-memory database
	// memoryLimit is DuckDB's memory limit set by LimitMemory, "" for
	// DuckDB's default.
	memoryLimit string
}

// storageVersion is the DuckDB storage format new database files are
// written in: 1.3's. Its combined dictionary and FSST compression of
// strings makes inserting records cost about a fifth less CPU than the
// default format (readable by DuckDB 0.10), which analyses dictionary and
// FSST apart for every string column of every row group. New files are
// readable by DuckDB 1.3 or newer; existing files keep their format.
const storageVersion = "v1.3.0"

// Open opens or creates the DuckDB file at path and makes sure the schema
// exists. An empty path opens an in-memory database.
func Open(ctx context.Context, path string) (*DB, error) {
	dsn := path
	if path != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		dsn += sep + "storage_compatibility_version=" + storageVersion
	}
	db, err := sql.Open("duckdb", dsn)
	if err != nil {
		return nil, fmt.Errorf("open duckdb %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, query("schema.sql")); err != nil {
		db.Close()
		return nil, fmt.Errorf("create schema in %s: %w", path, err)
	}
	return &DB{db: db, path: path}, nil
}

// SQL returns the underlying database handle, for queries of callers' own.
func (d *DB) SQL() *sql.DB { return d.db }

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// Count returns the number of records in the database.
func (d *DB) Count(ctx context.Context) (int64, error) {
	var n int64
	if err := d.db.QueryRowContext(ctx, "SELECT count(*) FROM records").Scan(&n); err != nil {
		return 0, fmt.Errorf("count records: %w", err)
	}
	return n, nil
}

// SubscriptionSummary is one row of a run's summary.
type SubscriptionSummary struct {
	SubscriptionID string
	Team           string
	Product        string
	Requests       int64
	OK             int64
	Throttled      int64 // 429 answers
	// FirstAttempts counts requests' first attempts and ThrottledFirst
	// those refused (429 or 403); Retries counts later attempts and
	// ThrottledRetries those refused. ThrottledShare is the share of
	// requests throttled.
	FirstAttempts, ThrottledFirst, Retries, ThrottledRetries int64
	PromptTokens                                             int64 // served
	CompletionTokens                                         int64 // served
	// PeakTPM is the most tokens served in any sliding 60 s window to one
	// counter key (PeakKey, the busiest of the Keys the subscription's
	// requests were counted under): with one key per subscription, the
	// subscription's peak; with a limit per client IP or user, the busiest
	// address's or user's.
	PeakTPM int64
	PeakKey string
	Keys    int64
	// LimitTPM is the limit PeakKey's records carried (per key); 0 means
	// unlimited.
	LimitTPM int64
	P50MS    float64 // latency of requests answered ok
	P99MS    float64 // likewise
}

// ThrottledShare is the share of requests whose first attempt was refused
// (429 or 403), in [0, 1]; 0 without requests.
func (s SubscriptionSummary) ThrottledShare() float64 {
	if s.FirstAttempts == 0 {
		return 0
	}
	return float64(s.ThrottledFirst) / float64(s.FirstAttempts)
}

// Summary returns the per-subscription summary, ordered by subscription.
func (d *DB) Summary(ctx context.Context) ([]SubscriptionSummary, error) {
	rows, err := d.db.QueryContext(ctx, query("subscription_summary.sql"))
	if err != nil {
		return nil, fmt.Errorf("summary query: %w", err)
	}
	defer rows.Close()
	var out []SubscriptionSummary
	for rows.Next() {
		var s SubscriptionSummary
		var team, product sql.NullString
		var peak, limit sql.NullInt64
		if err := rows.Scan(&s.SubscriptionID, &team, &product, &s.Requests, &s.OK, &s.Throttled,
			&s.FirstAttempts, &s.ThrottledFirst, &s.Retries, &s.ThrottledRetries,
			&s.PromptTokens, &s.CompletionTokens, &peak, &limit, &s.PeakKey, &s.Keys, &s.P50MS, &s.P99MS); err != nil {
			return nil, fmt.Errorf("summary scan: %w", err)
		}
		s.Team, s.Product, s.PeakTPM, s.LimitTPM = team.String, product.String, peak.Int64, limit.Int64
		out = append(out, s)
	}
	return out, rows.Err()
}
