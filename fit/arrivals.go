package fit

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"
)

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
