package scenario

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const validSrc = `name: t
duration: 30s
gateway:
  products:
    - name: std
      tokens_per_minute: 1000
  subscriptions:
    - id: s1
      key: k1
      product: std
      team: a
personas:
  - name: p
    kind: chat
    team: a
    subscription: s1
    count: 2
    rate: 30/min
    prompt_tokens: 100
    completion_tokens: {dist: uniform, min: 10, max: 20}
`

func TestParseValid(t *testing.T) {
	t.Parallel()
	s, err := Parse("t.yaml", []byte(validSrc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if s.Duration.D() != 30*time.Second || s.Personas[0].Rate.PerSecond() != 0.5 {
		t.Fatalf("got duration %v rate %v/s, want 30s and 0.5/s", s.Duration.D(), s.Personas[0].Rate)
	}
	if s.Personas[0].PromptTokens.Kind != "fixed" || s.Personas[0].PromptTokens.Value != 100 {
		t.Fatalf("prompt_tokens: got %+v, want fixed 100", s.Personas[0].PromptTokens)
	}
}

func TestParseErrorsNameLineAndColumn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		from    string // text replaced in validSrc
		to      string
		wantLoc string // file:line:column in the message
		wantMsg string
	}{
		// An unknown field is rejected where it is written.
		{"unknown field", "    count: 2\n", "    count: 2\n    colour: red\n", "t.yaml:18:5", "colour"},
		// A string where a number belongs.
		{"wrong type", "count: 2", "count: two", "t.yaml:17:12", "cannot unmarshal string"},
		// A negative rate is impossible.
		{"negative rate", "rate: 30/min", "rate: -3/min", "t.yaml:18:11", "personas[0].rate: must be > 0"},
		// p95 below the median.
		{"p95 below median", "prompt_tokens: 100", "prompt_tokens: {dist: lognormal, median: 500, p95: 100}", "t.yaml:19:20", "p95"},
		// A persona naming a subscription the gateway does not have.
		{"unknown subscription", "subscription: s1", "subscription: nope", "t.yaml:16:19", "unknown subscription"},
		// A rate with a unit nobody knows.
		{"bad rate unit", "rate: 30/min", "rate: 30/fortnight", "t.yaml:18:11", "rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := strings.Replace(validSrc, tc.from, tc.to, 1)
			_, err := Parse("t.yaml", []byte(src))
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("Parse: got %v, want scenario.Errors", err)
			}
			msg := es.Error()
			if !strings.Contains(msg, tc.wantLoc) || !strings.Contains(msg, tc.wantMsg) {
				t.Fatalf("error %q: want location %s and %q", msg, tc.wantLoc, tc.wantMsg)
			}
		})
	}
}

func TestQuickstartIsValid(t *testing.T) {
	t.Parallel()
	if _, err := Load("../scenarios/quickstart.yaml"); err != nil {
		t.Fatalf("quickstart.yaml: %v", err)
	}
}
