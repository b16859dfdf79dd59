package analytics

import (
	"context"
	"fmt"
	"time"
)

// BackendUtilization is what one provisioned backend reported of its own
// load (the records' utilization_pct).
type BackendUtilization struct {
	Backend string
	// Answers counts the records that carried a utilization.
	Answers int64
	// AvgPct and P95Pct are their average and 95th percentile (nearest
	// rank), in percent.
	AvgPct, P95Pct float64
}

// ReportedUtilization returns, per backend that reported one, the
// utilization of the records with ts in [from, to) (a zero bound is
// open), by backend name. Backends that reported none (pay-as-you-go) are
// left out.
func (d *DB) ReportedUtilization(ctx context.Context, from, to time.Time) ([]BackendUtilization, error) {
	bound := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC()
	}
	rows, err := d.db.QueryContext(ctx, query("backend_utilization.sql"), bound(from), bound(to))
	if err != nil {
		return nil, fmt.Errorf("utilization query: %w", err)
	}
	defer rows.Close()
	var out []BackendUtilization
	for rows.Next() {
		var u BackendUtilization
		if err := rows.Scan(&u.Backend, &u.Answers, &u.AvgPct, &u.P95Pct); err != nil {
			return nil, fmt.Errorf("utilization scan: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// BackendAttempts is what one backend answered to the gateway's attempts
// (the records' backend_attempts), spill-over included.
type BackendAttempts struct {
	Backend string
	// Attempts counts the attempts sent to it.
	Attempts int64
	// Refused counts its 429s, Failed its 5xx and attempts without an
	// answer (connection failure, timeout).
	Refused, Failed int64
	// Retried counts the refused or failed attempts the gateway tried
	// again on the pool (retry:): spill-over to another backend, or the
	// same one again.
	Retried int64
}

// AttemptsByBackend returns, per backend, what it answered to the attempts
// of the records with ts in [from, to) (a zero bound is open), by backend
// name. Records without backend_attempts (no backend called, older
// records) count nothing.
func (d *DB) AttemptsByBackend(ctx context.Context, from, to time.Time) ([]BackendAttempts, error) {
	bound := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC()
	}
	rows, err := d.db.QueryContext(ctx, query("backend_attempts.sql"), bound(from), bound(to))
	if err != nil {
		return nil, fmt.Errorf("backend attempts query: %w", err)
	}
	defer rows.Close()
	var out []BackendAttempts
	for rows.Next() {
		var b BackendAttempts
		if err := rows.Scan(&b.Backend, &b.Attempts, &b.Refused, &b.Failed, &b.Retried); err != nil {
			return nil, fmt.Errorf("backend attempts scan: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}
