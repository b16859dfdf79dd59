// Package fit turns request logs in an aiload analytics database into a
// scenario that plays the same traffic (a twin): one chat persona per
// consumer with the consumer's arrival rate, daily curve and burstiness,
// its prompt and completion lengths, model, streamed share and reaction to
// 429s, on a gateway with the products and limits the log shows. Check
// runs the twin on the virtual clock and compares it with the source. The
// heuristics are documented in docs/fit.md; SQL lives in sql/.
package fit

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/aiload/aiload/analytics"
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

// Consumer kinds a twin has one persona for.
const (
	BySubscription = "subscription"
	ByUser         = "user"
	ByIP           = "ip"
	ByTeam         = "team"
	// byPersona groups a twin's own records by the persona that sent them.
	byPersona = "persona"
)

// ErrNoRequests is returned (wrapped) by Fit when the period holds no
// request to fit.
var ErrNoRequests = errors.New("no requests")

// ParseBy reads the consumer kind a persona stands for; "" is
// BySubscription.
func ParseBy(s string) (string, error) {
	switch s {
	case "":
		return BySubscription, nil
	case BySubscription, ByUser, ByIP, ByTeam:
		return s, nil
	}
	return "", fmt.Errorf("unknown consumer %q (want subscription, user, ip or team)", s)
}

// Options say what to fit.
type Options struct {
	// By is the consumer a persona stands for: subscription (default),
	// user, ip or team.
	By string
	// From and To bound the period fitted, [From, To); zero values take the
	// first and last record.
	From, To time.Time
	// Duration is the twin's run length (0: the period, at most 24h).
	Duration time.Duration
	// Gateway, when set, is the path of a gateway configuration the twin
	// uses instead of the products and limits observed in the log.
	Gateway string
	// Quantiles is the number of values of each empirical length
	// distribution (default 50).
	Quantiles int
	// Seed is the twin's seed (default 1).
	Seed uint64
}

func (o *Options) normalise() error {
	if o.By != byPersona {
		by, err := ParseBy(o.By)
		if err != nil {
			return fmt.Errorf("fit: %w", err)
		}
		o.By = by
	}
	if o.Quantiles <= 0 {
		o.Quantiles = 50
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	return nil
}

// Persona is what the log says about one consumer.
type Persona struct {
	Consumer     string
	Subscription string
	Product      string
	Team         string
	Model        string
	Requests     int64   // first attempts in the period
	Tokens       int64   // their total tokens (demand)
	StreamShare  float64 // share of requests that streamed
	// Hours are the 24 shape multipliers (mean 1) of the arrival rate.
	Hours []float64
	// CV2 is the index of dispersion of its arrivals per minute (variance
	// over mean, within the daily curve: 1 for Poisson), which for a
	// renewal process is the gaps' squared variation; Burstiness is the
	// gamma shape fitted from it.
	CV2, Burstiness float64
	Prompt          []int64 // empirical prompt lengths
	Completion      []int64 // empirical completion lengths (used as max_tokens)
	// Throttled first attempts, Retries seen and the longest run of them,
	// the median ratio of a retry's delay to its Retry-After, and the
	// median delay.
	Throttled, Retries, LongestChain int64
	DelayRatio, MedianDelay          sql.NullFloat64
	OnThrottle                       string
	MaxRetries                       int64
	ThrottleWhy                      string // how OnThrottle was inferred
	LimitTPM                         int64  // the largest limit recorded for its requests (0: none)
	// OtherKey is true when a limit on its requests was keyed by something
	// else than the subscription (a client IP, a user).
	OtherKey bool
	// Stats are its per-minute figures in the period.
	Stats Stats
}

// Stats are a consumer's requests and tokens per minute (first attempts,
// every minute of the period, zero-filled) at p50, p95 and p99, and its
// tokens per day.
type Stats struct {
	RPM, TPM     [3]float64
	TokensPerDay float64
}

// Twin is a fitted scenario.
type Twin struct {
	Options
	From, To time.Time
	// Day is the run time of one shape day; StartHour where the run
	// starts in it.
	Day       time.Duration
	Personas  []*Persona
	DailyBins bool // the shape is hour of day (the period spans a day or more)
}

// Fit reads the records of db in the period and fits a twin.
func Fit(ctx context.Context, db *analytics.DB, opts Options) (*Twin, error) {
	if err := opts.normalise(); err != nil {
		return nil, err
	}
	conn, err := db.SQL().Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("fit: %w", err)
	}
	defer conn.Close()
	tw := &Twin{Options: opts}
	if tw.From, tw.To, err = span(ctx, conn, opts.From, opts.To); err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, query("base.sql"), opts.By, tw.From, tw.To); err != nil {
		return nil, fmt.Errorf("fit: select records: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS fit_base")
	if err := tw.readConsumers(ctx, conn); err != nil {
		return nil, err
	}
	if len(tw.Personas) == 0 {
		return nil, fmt.Errorf("fit: %w between %s and %s", ErrNoRequests, tw.From.Format(time.RFC3339), tw.To.Format(time.RFC3339))
	}
	if err := tw.readBins(ctx, conn); err != nil {
		return nil, err
	}
	if err := tw.readLengths(ctx, conn); err != nil {
		return nil, err
	}
	if err := tw.readStats(ctx, conn); err != nil {
		return nil, err
	}
	for _, p := range tw.Personas {
		p.inferThrottle()
	}
	if tw.Duration == 0 {
		tw.Duration = min(tw.To.Sub(tw.From), 24*time.Hour)
	}
	return tw, nil
}

// span returns the period, defaulting to the records' first and last
// minute.
func span(ctx context.Context, conn *sql.Conn, from, to time.Time) (time.Time, time.Time, error) {
	if !from.IsZero() && !to.IsZero() {
		return from.UTC(), to.UTC(), nil
	}
	var lo, hi sql.NullTime
	if err := conn.QueryRowContext(ctx, `SELECT min(ts), max(ts) FROM records`).Scan(&lo, &hi); err != nil {
		return from, to, fmt.Errorf("fit: period: %w", err)
	}
	if !lo.Valid {
		return from, to, fmt.Errorf("fit: the database has no records")
	}
	if from.IsZero() {
		from = lo.Time.Truncate(time.Minute)
	}
	if to.IsZero() {
		to = hi.Time.Truncate(time.Minute).Add(time.Minute)
	}
	return from.UTC(), to.UTC(), nil
}

func (tw *Twin) readConsumers(ctx context.Context, conn *sql.Conn) error {
	rows, err := conn.QueryContext(ctx, query("consumers.sql"))
	if err != nil {
		return fmt.Errorf("fit: consumers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		p := &Persona{}
		var sub, prod, team, model sql.NullString
		var tokens, limit sql.NullInt64
		if err := rows.Scan(&p.Consumer, &p.Requests, &tokens, &sub, &prod, &team, &model, &p.StreamShare,
			&p.Throttled, &p.Retries, &p.LongestChain, &p.DelayRatio, &p.MedianDelay, &limit, &p.OtherKey); err != nil {
			return fmt.Errorf("fit: consumers: %w", err)
		}
		p.Tokens, p.LimitTPM = tokens.Int64, limit.Int64
		p.Subscription, p.Product, p.Team, p.Model = sub.String, prod.String, team.String, model.String
		tw.Personas = append(tw.Personas, p)
	}
	return rows.Err()
}

func (tw *Twin) readStats(ctx context.Context, conn *sql.Conn) error {
	rows, err := conn.QueryContext(ctx, query("minutes.sql"), tw.From.Unix(), tw.To.Unix())
	if err != nil {
		return fmt.Errorf("fit: per-minute figures: %w", err)
	}
	defer rows.Close()
	byName := tw.byConsumer()
	for rows.Next() {
		var consumer string
		var rpm, tpm []any
		var st Stats
		if err := rows.Scan(&consumer, &rpm, &tpm, &st.TokensPerDay); err != nil {
			return fmt.Errorf("fit: per-minute figures: %w", err)
		}
		for i := 0; i < 3 && i < len(rpm) && i < len(tpm); i++ {
			st.RPM[i], _ = rpm[i].(float64)
			st.TPM[i], _ = tpm[i].(float64)
		}
		if p := byName[consumer]; p != nil {
			p.Stats = st
		}
	}
	return rows.Err()
}

func (tw *Twin) readLengths(ctx context.Context, conn *sql.Conn) error {
	rows, err := conn.QueryContext(ctx, query("lengths.sql"), tw.Quantiles)
	if err != nil {
		return fmt.Errorf("fit: lengths: %w", err)
	}
	defer rows.Close()
	byName := tw.byConsumer()
	for rows.Next() {
		var consumer string
		var prompt, completion []any
		if err := rows.Scan(&consumer, &prompt, &completion); err != nil {
			return fmt.Errorf("fit: lengths: %w", err)
		}
		if p := byName[consumer]; p != nil {
			p.Prompt, p.Completion = ints(prompt), ints(completion)
		}
	}
	return rows.Err()
}

// ints converts a DuckDB list of integers.
func ints(l []any) []int64 {
	out := make([]int64, 0, len(l))
	for _, v := range l {
		switch x := v.(type) {
		case int64:
			out = append(out, x)
		case int32:
			out = append(out, int64(x))
		case float64:
			out = append(out, int64(math.Round(x)))
		}
	}
	return out
}

func (tw *Twin) byConsumer() map[string]*Persona {
	m := make(map[string]*Persona, len(tw.Personas))
	for _, p := range tw.Personas {
		m[p.Consumer] = p
	}
	return m
}

// name is a persona name for a consumer: printable, without control
// characters.
func name(consumer string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, consumer)
}

// chatOverhead is the number of prompt tokens the load generator's
// one-turn chat adds to its question, as the gateway counts them: the
// system message ("You are a helpful assistant.") and the chat format's
// overheads (3 per message and its role, 3 priming the reply). The twin's
// prompt lengths are the logged ones less this, so its requests count as
// the logged ones did.
const chatOverhead = 17
