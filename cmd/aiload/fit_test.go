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
	if got := strings.Join(names, " "); got != "interns marketing-prod support-bot" || sc.Duration.D().Hours() != 24 {
		t.Errorf("personas %q, duration %v; want interns marketing-prod support-bot over 24h", got, sc.Duration.D())
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
}
