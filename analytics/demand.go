package analytics

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Dimension is what a demand series is keyed by.
type Dimension string

// Dimensions of the per-minute demand series.
const (
	ByCounterKey   Dimension = "counter_key" // the token limit's counter key (subscription when empty)
	BySubscription Dimension = "subscription"
	ByProduct      Dimension = "product"
	ByTeam         Dimension = "team"
	ByModel        Dimension = "model"
)

// Dimensions lists the dimensions, in a stable order.
func Dimensions() []Dimension {
	return []Dimension{ByCounterKey, BySubscription, ByProduct, ByTeam, ByModel}
}

// ParseDimension reads a dimension's name.
func ParseDimension(s string) (Dimension, error) {
	if d := Dimension(s); slices.Contains(Dimensions(), d) {
		return d, nil
	}
	return "", fmt.Errorf("unknown dimension %q (want counter_key, subscription, product, team or model)", s)
}

// DemandOptions selects the records of a demand query.
type DemandOptions struct {
	By Dimension // required, unless Group is set
	// Group, when its Name is set, keys the series by a bill's grouping
	// (a team, a user, a subscription metadata key, a dimension) instead
	// of By.
	Group Grouping
	Model string // only this model; "" means every model
	// From and To bound the series to [From, To); zero values mean the
	// first and last minute with data.
	From, To time.Time
}

// DemandPoint is one minute of a demand series. Tokens are total tokens
// (prompt + completion).
type DemandPoint struct {
	Minute time.Time // start of the minute, UTC
	// Demand is what first attempts asked for: served usage plus the
	// requested tokens of throttled requests. Retries are not counted.
	Demand int64
	Served int64 // tokens of requests answered ok
	// Requests counts first attempts; Throttled those refused (429 or
	// 403), so Throttled/Requests is the share of requests throttled.
	Requests, Throttled int64
	// Retries counts later attempts; RetriesThrottled those refused.
	Retries, RetriesThrottled int64
	// RefusedTokens are the tokens the refused first attempts asked for
	// (part of Demand).
	RefusedTokens int64
}

// DemandSeries is the zero-filled per-minute series of one key: every
// minute of the range is present, with zeros where nothing happened.
type DemandSeries struct {
	Key      string // "" for records without a value for the dimension
	LimitTPM int64  // the largest tokens-per-minute limit recorded for the key; 0 = none
	Points   []DemandPoint
}

// Demand returns one zero-filled per-minute series per value of opts.By,
// ordered by key.
func Demand(ctx context.Context, db *DB, opts DemandOptions) ([]DemandSeries, error) {
	var grp, dim string
	if opts.Group.Name != "" {
		grp, dim = opts.Group.sqlArgs()
	} else if _, err := ParseDimension(string(opts.By)); err != nil {
		return nil, fmt.Errorf("demand: %w", err)
	}
	rows, err := db.db.QueryContext(ctx, query("demand_minutes.sql"),
		string(opts.By), opts.Model, nullTime(opts.From), nullTime(opts.To), grp, dim)
	if err != nil {
		return nil, fmt.Errorf("demand query: %w", err)
	}
	defer rows.Close()
	var out []DemandSeries
	for rows.Next() {
		var key string
		var limit int64
		var p DemandPoint
		var minute int64
		if err := rows.Scan(&key, &limit, &minute, &p.Demand, &p.Served, &p.Requests, &p.Throttled,
			&p.Retries, &p.RetriesThrottled, &p.RefusedTokens); err != nil {
			return nil, fmt.Errorf("demand scan: %w", err)
		}
		p.Minute = time.Unix(minute*60, 0).UTC()
		if len(out) == 0 || out[len(out)-1].Key != key {
			out = append(out, DemandSeries{Key: key, LimitTPM: limit})
		}
		s := &out[len(out)-1]
		s.Points = append(s.Points, p)
	}
	return out, rows.Err()
}

// nullTime maps the zero time to SQL NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}
