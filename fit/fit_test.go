package fit

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/record"
	"github.com/aiload/aiload/runner"
	"github.com/aiload/aiload/scenario"
)

// source is a scenario with a persona of each kind: chat users with
// conversations of several turns on a daily curve, an open-loop batch job,
// agents whose pipelines send bursts of steps, and a storefront whose
// subscription streams half of its requests.
const source = `
name: source
duration: 6h
seed: 7
clock: virtual
gateway:
  products:
    - {name: standard, tokens_per_minute: 0}
  subscriptions:
    - {id: help-desk, key: k1, product: standard, team: support}
    - {id: nightly-batch, key: k2, product: standard, team: finance}
    - {id: research, key: k3, product: standard, team: research}
    - {id: storefront, key: k4, product: standard, team: web}
personas:
  - name: chat
    kind: chat
    subscription: help-desk
    count: 6
    rate: 5/min
    turns: {dist: uniform, min: 1, max: 3}
    think_time: {dist: exponential, mean: 5}
    shape: {kind: daily, hours: [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1, 1, 1, 1, 1, 1, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1, 1, 1, 1, 1, 1], day: 6h}
    prompt_tokens: {dist: lognormal, median: 300, p95: 1200}
    completion_tokens: {dist: normal, mean: 250, stddev: 60, min: 50}
  - name: batch
    kind: batch
    subscription: nightly-batch
    requests: 100000
    rate: 40/min
    prompt_tokens: {dist: uniform, min: 2000, max: 6000}
    completion_tokens: 300
  - name: agent
    kind: agent
    subscription: research
    count: 4
    rate: 3/min
    steps:
      - {name: plan, prompt_tokens: 400, completion_tokens: 200}
      - {name: search, repeat: 2, prompt_tokens: {dist: lognormal, median: 1500, p95: 4000}, completion_tokens: 150}
      - {name: answer, prompt_tokens: 100, completion_tokens: 600}
  - name: storefront-ui
    subscription: storefront
    count: 2
    rate: 5/min
    stream: true
    prompt_tokens: {dist: lognormal, median: 200, p95: 600}
    completion_tokens: 150
  - name: storefront-api
    subscription: storefront
    rate: 10/min
    prompt_tokens: {dist: lognormal, median: 200, p95: 600}
    completion_tokens: 150
`

// A twin fitted from a run's records, run with another seed, gives each
// consumer the requests and tokens per minute (p50, p95) and the daily
// tokens of the original run within 10 %.
func TestTwinRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sc, err := scenario.Parse("source.yaml", []byte(source))
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "source.jsonl")
	w, err := record.Create(log, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runner.Simulate(ctx, sc, w, "source", nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := analytics.Open(ctx, filepath.Join(dir, "source.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Ingest(ctx, log, analytics.FormatAiload); err != nil {
		t.Fatal(err)
	}
	tw, err := Fit(ctx, db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var yaml bytes.Buffer
	if err := tw.WriteYAML(&yaml, "source.duckdb"); err != nil {
		t.Fatal(err)
	}
	cs, err := Check(ctx, tw, "twin.yaml", yaml.Bytes(), 99, dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, yaml.String())
	}
	var table bytes.Buffer
	WriteCheck(&table, cs)
	if len(cs) != 4 {
		t.Fatalf("%d consumers, want 4\n%s", len(cs), table.String())
	}
	if !strings.Contains(yaml.String(), `name: "storefront (streamed)"`) {
		t.Errorf("the storefront's streamed half has no persona of its own")
	}
	for _, c := range cs {
		for _, f := range c.Off {
			if !strings.HasSuffix(f, "p99") {
				t.Errorf("%s: %s more than 10%% off", c.Consumer, f)
			}
		}
	}
	if t.Failed() {
		t.Logf("twin:\n%s\ncheck:\n%s", yaml.String(), table.String())
	}
}

// throttled has three callers over their limit that react to 429s in
// three ways.
const throttled = `
name: throttled
duration: 30m
seed: 3
clock: virtual
gateway:
  products:
    - {name: tight, tokens_per_minute: 20000}
  subscriptions:
    - {id: gives-up, key: k1, product: tight}
    - {id: waits, key: k2, product: tight}
    - {id: backs-off, key: k3, product: tight}
x-load: &load
  kind: chat
  count: 2
  rate: 6/min
  prompt_tokens: {dist: uniform, min: 1000, max: 3000}
  completion_tokens: 300
personas:
  - {<<: *load, name: gives-up, subscription: gives-up, on_throttle: fail}
  - {<<: *load, name: waits, subscription: waits, on_throttle: retry_after, max_retries: 4}
  - {<<: *load, name: backs-off, subscription: backs-off, on_throttle: backoff, max_retries: 5, backoff: {initial: 200ms, max: 800ms}}
`

// The reaction to 429s is read from the retries that followed them, and
// the product's limit from the records. max_retries is the longest run of
// retries the log shows: "waits" allows 4, but waiting the Retry-After
// always got through at the first retry.
func TestFitThrottleReaction(t *testing.T) {
	t.Parallel()
	db := simulate(t, throttled)
	tw, err := Fit(context.Background(), db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range tw.Personas {
		got = append(got, fmt.Sprintf("%s:%s:%d:%d", p.Consumer, p.OnThrottle, p.MaxRetries, p.LimitTPM))
	}
	want := "backs-off:backoff:5:20000 gives-up:fail:0:20000 waits:retry_after:1:20000"
	if strings.Join(got, " ") != want {
		t.Errorf("reactions:\n got %s\nwant %s", strings.Join(got, " "), want)
		for _, p := range tw.Personas {
			t.Logf("%s: %s", p.Consumer, p.ThrottleWhy)
		}
	}
	// Without attempt numbers (as in API Management's log) retries are
	// the requests that follow a 429 with the same prompt.
	if _, err := db.SQL().Exec(`UPDATE records SET attempt = NULL`); err != nil {
		t.Fatal(err)
	}
	if tw, err = Fit(context.Background(), db, Options{}); err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, p := range tw.Personas {
		got = append(got, fmt.Sprintf("%s:%s", p.Consumer, p.OnThrottle))
		t.Logf("%s: %s, %d retries", p.Consumer, p.ThrottleWhy, p.MaxRetries)
	}
	if want := "backs-off:backoff gives-up:fail waits:retry_after"; strings.Join(got, " ") != want {
		t.Errorf("reactions without attempt numbers:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

// simulate runs a scenario on the virtual clock and ingests its records
// into a database in t's temporary directory.
func simulate(t *testing.T, src string) *analytics.DB {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	sc, err := scenario.Parse("s.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "s.jsonl")
	w, err := record.Create(log, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runner.Simulate(ctx, sc, w, "s", nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := analytics.Open(ctx, filepath.Join(dir, "s.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Ingest(ctx, log, analytics.FormatAiload); err != nil {
		t.Fatal(err)
	}
	return db
}
