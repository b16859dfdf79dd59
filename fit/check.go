package fit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/record"
	"github.com/aiload/aiload/runner"
	"github.com/aiload/aiload/scenario"
)

// Tolerance is how far a twin's figure may be from the source's (10 %).
const Tolerance = 0.10

// Comparison is one consumer's figures in the source and in its twin.
type Comparison struct {
	Consumer     string
	Source, Twin Stats
	// Off names the figures more than Tolerance away from the source's.
	Off []string
}

// Check runs the twin (its scenario text, as if in file, against which
// relative paths resolve) on the virtual clock with seed, fits its own
// records the same way, and compares each consumer's requests and tokens
// per minute at p50, p95 and p99 and its tokens per day with the
// source's. dir holds the twin's records while it runs.
func Check(ctx context.Context, tw *Twin, file string, twinYAML []byte, seed uint64, dir string) ([]Comparison, error) {
	sc, err := scenario.Parse(file, twinYAML)
	if err != nil {
		return nil, fmt.Errorf("check twin: %w", err)
	}
	if seed != 0 {
		sc.Seed = seed
	}
	log := filepath.Join(dir, "twin.jsonl")
	w, err := record.Create(log, 0)
	if err != nil {
		return nil, fmt.Errorf("check twin: %w", err)
	}
	sim, err := runner.Simulate(ctx, sc, w, "twin-check", nil)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("check twin: run: %w", err)
	}
	db, err := analytics.Open(ctx, filepath.Join(dir, "twin.duckdb"))
	if err != nil {
		return nil, fmt.Errorf("check twin: %w", err)
	}
	defer db.Close()
	defer os.Remove(filepath.Join(dir, "twin.duckdb"))
	defer os.Remove(log)
	if _, err := db.Ingest(ctx, log, analytics.FormatAiload); err != nil {
		return nil, fmt.Errorf("check twin: %w", err)
	}
	twin := map[string]*Persona{}
	got, err := Fit(ctx, db, Options{By: byPersona, From: sim.Start, To: sim.Start.Add(sc.Duration.D())})
	switch {
	case err == nil:
		twin = got.byConsumer()
	case !errors.Is(err, ErrNoRequests): // a twin that sent nothing compares as zeros
		return nil, fmt.Errorf("check twin: %w", err)
	}
	var out []Comparison
	for _, p := range tw.Personas {
		c := Comparison{Consumer: p.Consumer, Source: p.Stats}
		if t := twin[name(p.Consumer)]; t != nil {
			c.Twin = t.Stats
		}
		c.Off = off(c.Source, c.Twin)
		out = append(out, c)
	}
	return out, nil
}

// figures names the compared figures in order.
var figures = []string{"rpm p50", "rpm p95", "rpm p99", "tpm p50", "tpm p95", "tpm p99", "tokens/day"}

func values(s Stats) []float64 {
	return []float64{s.RPM[0], s.RPM[1], s.RPM[2], s.TPM[0], s.TPM[1], s.TPM[2], s.TokensPerDay}
}

// off lists the figures of twin more than Tolerance from src.
func off(src, twin Stats) []string {
	var names []string
	a, b := values(src), values(twin)
	for i, n := range figures {
		if !within(a[i], b[i]) {
			names = append(names, n)
		}
	}
	return names
}

// within reports whether b is within Tolerance of a (both 0 counts).
func within(a, b float64) bool {
	if a == 0 {
		return b == 0
	}
	return math.Abs(b-a) <= Tolerance*math.Abs(a)
}

// WriteCheck prints a comparison table: per consumer and figure, the
// source's value, the twin's, the difference and a flag beyond Tolerance.
// It returns the number of consumers with a figure off.
func WriteCheck(w io.Writer, cs []Comparison) (int, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%-28s %-10s %14s %14s %8s\n", "consumer", "figure", "source", "twin", "diff")
	bad := 0
	for _, c := range cs {
		a, t := values(c.Source), values(c.Twin)
		for i, n := range figures {
			flag := ""
			if !within(a[i], t[i]) {
				flag = "  off by more than 10%"
			}
			fmt.Fprintf(&b, "%-28s %-10s %14.1f %14.1f %7s%s\n", clip(c.Consumer, 28), n, a[i], t[i], pct(a[i], t[i]), flag)
		}
		if len(c.Off) > 0 {
			bad++
		}
	}
	if bad == 0 {
		fmt.Fprintf(&b, "every figure of %d consumers within 10%% of the source\n", len(cs))
	} else {
		fmt.Fprintf(&b, "%d of %d consumers have a figure more than 10%% off the source\n", bad, len(cs))
	}
	_, err := w.Write(b.Bytes())
	return bad, err
}

func pct(a, b float64) string {
	if a == 0 {
		if b == 0 {
			return "0%"
		}
		return "n/a"
	}
	return fmt.Sprintf("%+.1f%%", 100*(b-a)/a)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
