package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiload/aiload/scenario"
)

// fit turns an API Management export into a scenario that validates, and
// --check runs it and compares it with the source.
func TestFitCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "prod.duckdb")
	if code, _, stderr := execute(t, "ingest", "../../analytics/testdata/apim_joined.jsonl", "--db", db); code != 0 {
		t.Fatalf("ingest: exit %d, %s", code, stderr)
	}
	code, out, stderr := execute(t, "fit", "--db", db, "--period", "2026-11-03..2026-11-03")
	if code != 0 {
		t.Fatalf("fit: exit %d, %s", code, stderr)
	}
	sc, err := scenario.Parse("twin.yaml", []byte(out))
	if err != nil {
		t.Fatalf("the twin does not parse: %v\n%s", err, out)
	}
	var names []string
	for _, p := range sc.Personas {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, " "); got != "interns marketing-prod support-bot support-bot (streamed)" || sc.Duration.D().Hours() != 24 {
		t.Errorf("personas %q, duration %v; want interns marketing-prod support-bot and its streamed half over 24h", got, sc.Duration.D())
	}
	twin := filepath.Join(dir, "twin.yaml")
	code, out, stderr = execute(t, "fit", "--db", db, "--check", "-o", twin, "--duration", "10m")
	if code != 0 {
		t.Fatalf("fit --check: exit %d, %s", code, stderr)
	}
	for _, want := range []string{"twin of 3 consumers", "support-bot", "tokens/day", "rpm p95"} {
		if !strings.Contains(out, want) {
			t.Errorf("fit --check output lacks %q:\n%s", want, out)
		}
	}
	if b, err := os.ReadFile(twin); err != nil || !strings.Contains(string(b), "personas:") {
		t.Errorf("twin file: %v\n%s", err, b)
	}
	if code, _, stderr := execute(t, "fit", "--db", db, "--by", "colour"); code != 2 || !strings.Contains(stderr, "colour") {
		t.Errorf("--by colour: exit %d, %s", code, stderr)
	}
	// --gateway: the twin names the file relative to itself and runs on it.
	gw := filepath.Join(dir, "policy", "gateway.yaml")
	os.MkdirAll(filepath.Dir(gw), 0o755)
	if err := os.WriteFile(gw, []byte(`products:
  - {name: standard, tokens_per_minute: 1000}
subscriptions:
  - {id: marketing-prod, key: k1, product: standard}
  - {id: support-bot, key: k2, product: standard}
  - {id: interns, key: k3, product: standard}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	twin = filepath.Join(dir, "twins", "twin.yaml")
	os.MkdirAll(filepath.Dir(twin), 0o755)
	code, out, stderr = execute(t, "fit", "--db", db, "--gateway", gw, "-o", twin, "--duration", "10m", "--check")
	if code != 0 {
		t.Fatalf("fit --gateway: exit %d, %s", code, stderr)
	}
	b, _ := os.ReadFile(twin)
	sc, err = scenario.Load(twin)
	if err != nil || !strings.Contains(string(b), `gateway: "../policy/gateway.yaml"`) || sc.Gateway.Products[0].TokensPerMinute != 1000 {
		t.Errorf("twin with --gateway: %v\n%s", err, b)
	}
}

// A twin of a sparse log that sends nothing in its check run is compared as
// zeros and flagged, not an error.
func TestFitCheckOfASilentTwin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "apim.duckdb")
	if code, _, stderr := execute(t, "ingest", "../../examples/apim-llm-log.csv", "--db", db); code != 0 {
		t.Fatalf("ingest: exit %d, %s", code, stderr)
	}
	// 40 requests over five days: a minute of the twin sends none.
	code, out, stderr := execute(t, "fit", "--db", db, "--check", "--duration", "1m", "-o", filepath.Join(dir, "twin.yaml"))
	if code != 0 {
		t.Fatalf("fit --check: exit %d, %s", code, stderr)
	}
	if !strings.Contains(out, "3 of 3 consumers have a figure more than 10% off the source") {
		t.Errorf("fit --check of a silent twin:\n%s", out)
	}
}
