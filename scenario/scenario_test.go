package scenario

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
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
		// A string where a number belongs: said in the file's terms, not Go's.
		{"wrong type", "count: 2", "count: two", "t.yaml:17:12", "personas[0].count: want an integer, got a string (two)"},
		{"list for a string", "    team: a\n    sub", "    team: [a, b]\n    sub", "t.yaml:15:11", "personas[0].team: want a string, got a list"},
		// A negative rate is impossible.
		{"negative rate", "rate: 30/min", "rate: -3/min", "t.yaml:18:11", "personas[0].rate: must be > 0"},
		// p95 below the median.
		{"p95 below median", "prompt_tokens: 100", "prompt_tokens: {dist: lognormal, median: 500, p95: 100}", "t.yaml:19:20", "p95"},
		// A persona naming a subscription the gateway does not have.
		{"unknown subscription", "subscription: s1", "subscription: nope", "t.yaml:16:19", "unknown subscription"},
		// A field the persona's kind ignores.
		{"field of another kind", "    count: 2\n", "    count: 2\n    proactive: true\n", "t.yaml:18:16", "personas[0].proactive: only for kind agent"},
		// A token count left out is required, not a distribution missing its kind.
		{"missing prompt tokens", "    prompt_tokens: 100\n", "", "t.yaml:13:9", "personas[0].prompt_tokens: required: a number of tokens"},
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

// TestParseReportsEveryProblem checks that one pass reports the structural
// problems (unknown field, wrong type, not a mapping) and the impossible
// values together, each at its own line and column.
func TestParseReportsEveryProblem(t *testing.T) {
	t.Parallel()
	src := `name: t
duration: 5x
target: {url: "ftp://x"}
gateway:
  products: [{name: std, tokens_per_minute: -5}]
  subscriptions: [{id: s1, key: k1, product: std, team: a}]
personas:
  - name: p
    subscription: s1
    count: many
    colour: red
    rate: -2/s
    prompt_tokens: {dist: lognormal, median: 500, p95: 100}
    completion_tokens: 10
    api: chat-completions
  - 42
`
	_, err := Parse("t.yaml", []byte(src))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("Parse: got %v, want scenario.Errors", err)
	}
	want := []string{
		"t.yaml:2:11: duration: invalid duration",
		"t.yaml:3:15: target.url: must be an absolute http(s) URL",
		"t.yaml:5:45: gateway.products[0].tokens_per_minute: must be >= 0",
		"t.yaml:10:12: personas[0].count: want an integer, got a string (many)",
		"t.yaml:11:5: personas[0].colour: unknown field",
		"t.yaml:12:11: personas[0].rate: must be > 0",
		"t.yaml:13:20: personas[0].prompt_tokens: p95 (100) must not be below the median (500)",
		"t.yaml:15:10: personas[0].api: unknown api \"chat-completions\" (want chat, responses, completions, embeddings)",
		"t.yaml:16:5: personas[1]: want a mapping",
	}
	if len(es) != len(want) {
		t.Errorf("got %d errors, want %d:\n%v", len(es), len(want), es)
	}
	for i, w := range want {
		if i >= len(es) || !strings.HasPrefix(es[i].Error(), w) {
			t.Errorf("error %d: got %v, want prefix %q", i, es, w)
		}
	}
}

// TestGatewayFromFile reads `gateway: path` relative to the scenario and
// names the gateway file in its errors.
func TestGatewayFromFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, s string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("gw.yaml", "products: [{name: std, tokens_per_minute: 1000}]\nsubscriptions: [{id: s1, key: k1, product: std, team: a}]\n")
	sc := write("ok.yaml", "gateway: gw.yaml\npersonas: [{name: p, subscription: s1, rate: 1/s, prompt_tokens: 10, completion_tokens: 10}]\n")
	s, err := Load(sc)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(s.Gateway.Subscriptions) != 1 || s.Gateway.Products[0].TokensPerMinute != 1000 {
		t.Fatalf("gateway from file: got %+v", s.Gateway)
	}
	write("bad-gw.yaml", "products: [{name: std, tokens_per_minute: 1000, burst: 3}]\nsubscriptions: [{id: s1, key: k1, product: nope}]\n")
	sc = write("bad.yaml", "gateway: bad-gw.yaml\npersonas: [{name: p, subscription: s1, rate: 1/s, prompt_tokens: 10, completion_tokens: 10}]\n")
	_, err = Load(sc)
	msg := fmt.Sprint(err)
	for _, w := range []string{"bad-gw.yaml:1:49: gateway.products[0].burst: unknown field", "bad-gw.yaml:2:44: gateway.subscriptions[0].product: unknown product"} {
		if !strings.Contains(msg, w) {
			t.Errorf("errors %q: want %q", msg, w)
		}
	}
}

// TestEmpiricalLengthsFromCSV loads observed lengths relative to the scenario.
func TestEmpiricalLengthsFromCSV(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "lengths.csv"), []byte("prompt_tokens,completion_tokens\n100,10\n300,30\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(validSrc, "prompt_tokens: 100", "prompt_tokens: {dist: empirical, file: lengths.csv, column: completion_tokens}", 1)
	path := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := s.Personas[0].PromptTokens.Values; len(got) != 2 || got[0] != 10 || got[1] != 30 {
		t.Fatalf("empirical values: got %v, want [10 30]", got)
	}
	src = strings.Replace(src, "column: completion_tokens", "column: nope", 1)
	if _, err := Parse(path, []byte(src)); err == nil || !strings.Contains(err.Error(), `no column "nope"`) {
		t.Fatalf("missing column: got %v", err)
	}
}

// TestSchemaCoversScenarioFields checks the JSON Schema lists every
// top-level and persona field and forbids unknown ones.
func TestSchemaCoversScenarioFields(t *testing.T) {
	t.Parallel()
	b, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Additional bool                       `json:"additionalProperties"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	for _, k := range []string{"name", "duration", "seed", "target", "gateway", "personas", "pricing"} {
		if _, ok := s.Properties[k]; !ok {
			t.Errorf("schema lacks %q", k)
		}
	}
	for _, k := range []string{"on_throttle", "egress_ips", "user_header", "steps", "think_time", "shape", "every", "api"} {
		if !strings.Contains(string(s.Properties["personas"]), `"`+k+`"`) {
			t.Errorf("persona schema lacks %q", k)
		}
	}
	if s.Additional {
		t.Errorf("schema allows unknown top-level fields")
	}
}

// TestPricingIsCheckedAndPassedThrough accepts a pricing section of the
// pricing file's shape, keeps it as written, and rejects unknown fields.
func TestPricingIsCheckedAndPassedThrough(t *testing.T) {
	t.Parallel()
	src := validSrc + "pricing:\n  currency: EUR\n  models:\n    gpt-4o-mini: {input: 0.15, output: 0.6}\n"
	s, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if s.Pricing["currency"] != "EUR" {
		t.Fatalf("pricing passed through as %v", s.Pricing)
	}
	_, err = Parse("t.yaml", []byte(strings.Replace(src, "output: 0.6", "output: 0.6, outptu: 1", 1)))
	if err == nil || !strings.Contains(err.Error(), "t.yaml:24:45: pricing.models.gpt-4o-mini.outptu: unknown field") {
		t.Fatalf("misspelt price: got %v", err)
	}
}

// TestSchemaKnowsExampleKeys walks every example scenario beside the JSON
// Schema: each key written in an example is a property the schema lists,
// so an editor using the schema accepts the examples.
func TestSchemaKnowsExampleKeys(t *testing.T) {
	t.Parallel()
	b, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../scenarios/*.yaml")
	if len(files) < 6 {
		t.Fatalf("examples %v", files)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(src, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range unknownKeys(schema, doc, "") {
			t.Errorf("%s: %s is not in the schema", f, p)
		}
	}
}

// unknownKeys returns the paths of keys of v that schema s does not list.
func unknownKeys(s map[string]any, v any, path string) []string {
	for _, alt := range []string{"oneOf", "anyOf"} {
		if alts, ok := s[alt].([]any); ok {
			for _, a := range alts {
				am := a.(map[string]any)
				if _, isObj := v.(map[string]any); isObj == (am["type"] == "object") {
					return unknownKeys(am, v, path)
				}
			}
		}
	}
	var out []string
	switch v := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for k, sub := range v {
			if path == "" && strings.HasPrefix(k, "x-") {
				continue
			}
			if ps, ok := props[k].(map[string]any); ok {
				out = append(out, unknownKeys(ps, sub, path+"."+k)...)
			} else if ap, ok := s["additionalProperties"].(map[string]any); ok {
				out = append(out, unknownKeys(ap, sub, path+"."+k)...)
			} else {
				out = append(out, path+"."+k)
			}
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, e := range v {
				out = append(out, unknownKeys(items, e, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return out
}

// TestFractionalCount: a whole-number field given a fraction is an error
// at its place, not truncated.
func TestFractionalCount(t *testing.T) {
	src := `name: frac
duration: 10s
gateway:
  products: [{name: std, tokens_per_minute: 1000}]
  subscriptions: [{id: s1, key: k1, product: std, team: a}]
personas:
  - name: p
    subscription: s1
    count: 1.5
    rate: 1/s
    prompt_tokens: 10
    completion_tokens: 10
`
	_, err := Parse("f.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "f.yaml:9:12: personas[0].count: want an integer, got 1.5") {
		t.Errorf("Parse: %v; want f.yaml:9:12: personas[0].count: want an integer, got 1.5", err)
	}
	if _, err := Parse("f.yaml", []byte(strings.Replace(src, "count: 1.5", "count: 2.0", 1))); err != nil {
		t.Errorf("count: 2.0: %v; want it accepted as 2", err)
	}
}
