package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// execute runs aiload with args in-process and returns the exit status and output.
func execute(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCmd(&out, &errb)
	root.SetArgs(args)
	code := exitCode(root.ExecuteContext(context.Background()), &errb)
	return code, out.String(), errb.String()
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file     string
		wantCode int
		wantErr  string // file:line:column and what is wrong
	}{
		{"../../scenarios/quickstart.yaml", 0, ""},
		// An unknown field is named at its line and column.
		{"testdata/unknown_field.yaml", 2, "testdata/unknown_field.yaml:8:5"},
		// A string where a count belongs.
		{"testdata/wrong_type.yaml", 2, "testdata/wrong_type.yaml:7:12"},
		// A negative rate.
		{"testdata/negative_rate.yaml", 2, "testdata/negative_rate.yaml:7:11: personas[0].rate: must be > 0"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := execute(t, "validate", tc.file)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Fatalf("aiload validate %s: exit %d, stderr %q; want exit %d and %q", tc.file, code, stderr, tc.wantCode, tc.wantErr)
			}
		})
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"validate"},                   // missing argument
		{"run", "--no-such-flag", "x"}, // unknown flag
		{"run", "--shard", "5/4", "../../scenarios/quickstart.yaml"}, // no such shard
		// a duration of zero or less is refused, not taken as "not given"
		{"run", "--duration", "-5s", "../../scenarios/quickstart.yaml"},
		{"run", "--duration", "0s", "../../scenarios/quickstart.yaml"},
		{"run", "--progress", "-1s", "../../scenarios/quickstart.yaml"},
		{"sweep", "--duration", "-1m", "--set", "seed=1,2", "../../scenarios/quickstart.yaml"},
		{"gateway", "serve", "extra"}, // an argument where none is taken
		{"dash", "extra"},
		{"bogus"},            // an unknown command
		{"gateway", "bogus"}, // an unknown subcommand
		{"gateway", "serve", "--config", "../../docs/gateway.example.yaml", "--on-record-error", "drop"},
	} {
		if code, _, stderr := execute(t, args...); code != 2 {
			t.Errorf("aiload %v: exit %d (stderr %q), want 2", args, code, stderr)
		}
	}
}

func TestMissingScenarioExits2(t *testing.T) {
	t.Parallel()
	code, _, stderr := execute(t, "validate", "testdata/does-not-exist.yaml")
	if code != 2 || !strings.Contains(stderr, "does-not-exist.yaml") {
		t.Fatalf("exit %d stderr %q; want 2 naming the file", code, stderr)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	code, out, _ := execute(t, "version")
	if code != 0 || !strings.HasPrefix(out, "aiload ") {
		t.Fatalf("aiload version: exit %d, output %q", code, out)
	}
}

// TestValidateReportsAllProblems checks that validate lists every problem,
// not only the first.
func TestValidateReportsAllProblems(t *testing.T) {
	t.Parallel()
	code, _, stderr := execute(t, "validate", "testdata/many_errors.yaml")
	for _, want := range []string{
		"testdata/many_errors.yaml:7:12: personas[0].count: want an integer, got a string (many)",
		"testdata/many_errors.yaml:8:5: personas[0].colour: unknown field \"colour\"",
		"testdata/many_errors.yaml:9:11: personas[0].rate: must be > 0",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	}
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
}

func TestSchemaPrintsJSON(t *testing.T) {
	t.Parallel()
	code, out, _ := execute(t, "schema")
	if code != 0 || !strings.Contains(out, `"$schema": "https://json-schema.org/draft/2020-12/schema"`) || !strings.Contains(out, `"on_throttle"`) {
		t.Fatalf("aiload schema: exit %d, output starts %.200q", code, out)
	}
}

// TestSimulatedTimeUsage: a bad --clock and a --set path the scenario does
// not have are usage errors (exit 2) that say what is wrong.
func TestSimulatedTimeUsage(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--clock", "sundial", "../../scenarios/quickstart.yaml"}, "want wall or virtual"},
		{[]string{"sweep", "../../scenarios/quickstart.yaml", "--set", "personas.nobody.count=2"}, `no list item named "nobody"`},
		{[]string{"sweep", "../../scenarios/quickstart.yaml", "--set", "duration"}, "want path=value"},
	} {
		if code, _, stderr := execute(t, c.args...); code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("aiload %v: exit %d, stderr %q; want exit 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

// TestSweepTable: aiload sweep prints one row per variant with the team
// columns.
func TestSweepTable(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := execute(t, "sweep", "../../scenarios/quickstart.yaml", "--duration", "10s",
		"--set", "gateway.products.developer.tokens_per_minute=5000,50000")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "429 research") || !strings.Contains(lines[1], "5000") || !strings.Contains(lines[2], "50000") {
		t.Fatalf("sweep table:\n%s", stdout)
	}
}

// TestValidateStopsOnInterrupt: validate returns at once when its context
// is cancelled (the first SIGTERM or Ctrl-C), even while a large scenario
// is still being parsed.
func TestValidateStopsOnInterrupt(t *testing.T) {
	t.Parallel()
	// a scenario within the input limits that takes the parser a while
	path := filepath.Join(t.TempDir(), "slow.yaml")
	src := "x-pad: [" + strings.Repeat("1,", 400_000) + "1]\n" + "personas: [{name: p, key: k, rate: 1, prompt_tokens: 1, completion_tokens: 1}]\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	root := newRootCmd(&out, &errb)
	root.SetArgs([]string{"validate", path})
	code := exitCode(root.ExecuteContext(ctx), &errb)
	if code != 1 || !strings.Contains(errb.String(), "slow.yaml: interrupted") || out.Len() > 0 {
		t.Fatalf("validate after an interrupt: exit %d, stdout %q, stderr %q; want exit 1 and \"interrupted\"", code, out.String(), errb.String())
	}
}
