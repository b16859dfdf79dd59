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
	if o.By == "" {
		o.By = BySubscription
	}
	switch o.By {
	case BySubscription, ByUser, ByIP, ByTeam, byPersona:
	default:
		return fmt.Errorf("by %q: want subscription, user, ip or team", o.By)
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
		return nil, fmt.Errorf("fit: no requests between %s and %s", tw.From.Format(time.RFC3339), tw.To.Format(time.RFC3339))
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

// readBins sets each persona's daily curve and burstiness.
func (tw *Twin) readBins(ctx context.Context, conn *sql.Conn) error {
	period := tw.To.Sub(tw.From)
	tw.DailyBins = period >= 24*time.Hour
	width, perDay := period.Seconds()/24, 0
	tw.Day = period
	if tw.DailyBins {
		width, perDay, tw.Day = 3600, 24, 24*time.Hour
	}
	// Hour-of-day bins start at midnight, so the curve's hour 0 is 00:00 UTC.
	origin := float64(tw.From.Unix())
	if tw.DailyBins {
		origin = float64(tw.From.Truncate(24 * time.Hour).Unix())
	}
	rows, err := conn.QueryContext(ctx, query("bins.sql"), origin, width, perDay)
	if err != nil {
		return fmt.Errorf("fit: arrivals: %w", err)
	}
	defer rows.Close()
	byName := tw.byConsumer()
	counts := map[*Persona][]float64{}
	for rows.Next() {
		var consumer string
		var bin, n int64
		if err := rows.Scan(&consumer, &bin, &n); err != nil {
			return fmt.Errorf("fit: arrivals: %w", err)
		}
		p := byName[consumer]
		if p == nil || bin < 0 || bin >= 24 {
			continue
		}
		if counts[p] == nil {
			counts[p] = make([]float64, 24)
		}
		counts[p][bin] = float64(n)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("fit: arrivals: %w", err)
	}
	if err := tw.readDispersion(ctx, conn, origin, width, perDay); err != nil {
		return err
	}
	reps := tw.binReps()
	for _, p := range tw.Personas {
		p.Hours = shape(counts[p], reps)
		p.Burstiness = burstiness(p.CV2, p.Hours)
	}
	return nil
}

// readDispersion sets each persona's per-minute dispersion (CV2).
func (tw *Twin) readDispersion(ctx context.Context, conn *sql.Conn, origin, width float64, perDay int) error {
	rows, err := conn.QueryContext(ctx, query("dispersion.sql"), origin, width, perDay, tw.From.Unix(), tw.To.Unix())
	if err != nil {
		return fmt.Errorf("fit: dispersion: %w", err)
	}
	defer rows.Close()
	byName := tw.byConsumer()
	for rows.Next() {
		var consumer string
		var d sql.NullFloat64
		if err := rows.Scan(&consumer, &d); err != nil {
			return fmt.Errorf("fit: dispersion: %w", err)
		}
		if p := byName[consumer]; p != nil {
			p.CV2 = 1
			if d.Valid {
				p.CV2 = d.Float64
			}
		}
	}
	return rows.Err()
}

// binReps is how many times each bin occurs in the period: the number of
// days with that hour for hour-of-day bins, else 1.
func (tw *Twin) binReps() []float64 {
	reps := make([]float64, 24)
	if !tw.DailyBins {
		for i := range reps {
			reps[i] = 1
		}
		return reps
	}
	for t := tw.From.Truncate(time.Hour); t.Before(tw.To); t = t.Add(time.Hour) {
		reps[t.Hour()]++
	}
	return reps
}

// shape turns arrival counts per bin into 24 multipliers with mean 1 (the
// persona's rate is the mean rate). Empty: a flat curve.
func shape(counts, reps []float64) []float64 {
	h := make([]float64, 24)
	sum := 0.0
	for i := range h {
		if i < len(counts) && reps[i] > 0 {
			h[i] = counts[i] / reps[i]
		}
		sum += h[i]
	}
	for i := range h {
		if sum == 0 {
			h[i] = 1
			continue
		}
		h[i] = math.Round(h[i]*24/sum*1000) / 1000
	}
	return h
}

// burstiness returns the gamma shape k of the candidate arrivals that,
// thinned by the daily curve as the load generator does (candidates at the
// peak rate, each kept with probability shape/peak, on average p =
// mean/peak), give arrivals per minute with dispersion cv2. A gamma
// renewal process with shape k has counts of dispersion about 1/k over
// windows much longer than its gaps; thinning makes a dispersion d0 into
// p·d0 + (1 − p). So d0 = (cv2 − (1 − p)) / p and k = 1/d0, clamped to
// [0.05, 20].
func burstiness(cv2 float64, hours []float64) float64 {
	peak := 0.0
	for _, x := range hours {
		peak = max(peak, x)
	}
	p := 1.0
	if peak > 0 {
		p = 1 / peak // the multipliers have mean 1
	}
	c0 := (cv2 - (1 - p)) / p
	if c0 <= 0.05 {
		return 20
	}
	return math.Round(min(20, max(0.05, 1/c0))*100) / 100
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

// inferThrottle sets OnThrottle and MaxRetries from the retry evidence:
//   - no 429 among its first attempts: nothing to go by, aiload's default
//     (retry_after, 3 retries);
//   - fewer retries than a tenth of its 429s: fail (it gives up);
//   - retries whose median delay is within 0.8–1.5 × the Retry-After they
//     were given, or with no Retry-After recorded: retry_after;
//   - otherwise backoff, from the median delay.
//
// MaxRetries is the longest run of retries seen (at least 1).
func (p *Persona) inferThrottle() {
	p.OnThrottle, p.MaxRetries = "retry_after", 3
	switch {
	case p.Throttled == 0:
		p.ThrottleWhy = "no 429 in the log: aiload's default"
		return
	case float64(p.Retries) < 0.1*float64(p.Throttled):
		p.OnThrottle, p.MaxRetries = "fail", 0
		p.ThrottleWhy = fmt.Sprintf("%d requests got a 429, %d retries followed", p.Throttled, p.Retries)
		return
	}
	p.MaxRetries = max(1, p.LongestChain)
	if !p.DelayRatio.Valid || (p.DelayRatio.Float64 >= 0.8 && p.DelayRatio.Float64 <= 1.5) {
		p.ThrottleWhy = fmt.Sprintf("%d retries after %d 429s, waiting about the Retry-After", p.Retries, p.Throttled)
		return
	}
	p.OnThrottle = "backoff"
	p.ThrottleWhy = fmt.Sprintf("%d retries after %d 429s, median delay %.1f s, %.1f × the Retry-After",
		p.Retries, p.Throttled, p.MedianDelay.Float64, p.DelayRatio.Float64)
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
