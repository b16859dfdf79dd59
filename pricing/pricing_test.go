package pricing

import (
	"strings"
	"testing"
)

func TestDefaultsCiteSources(t *testing.T) {
	t.Parallel()
	p := Default()
	for _, name := range p.ModelNames() {
		if p.Models[name].Source == "" {
			t.Errorf("default model %s has no source", name)
		}
	}
	// The figures the PTU sizing example relies on (determine-ptu-requirements.md, 2026-05-21).
	if ptu := p.Models["gpt-5.2"].PTU; ptu == nil || ptu.InputTPMPerPTU != 3400 || ptu.OutputRatio != 8 {
		t.Errorf("gpt-5.2 ptu = %+v, want 3400 input TPM/PTU, ratio 8", ptu)
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	p := Default()
	tests := []struct{ in, want string }{
		{"gpt-4o", "gpt-4o"},                      // exact
		{"GPT-4o", "gpt-4o"},                      // case
		{"azure/gpt-4o-2024-11-20", "gpt-4o"},     // provider prefix and version suffix
		{"gpt-4o-mini-2024-07-18", "gpt-4o-mini"}, // longest prefix wins over gpt-4o
		{"gpt-4.1-nano", "gpt-4.1-nano"},          // not gpt-4.1
		{"gpt-4oo", ""},                           // a prefix must end at a separator
		{"llama-3", ""},                           // unknown
	}
	for _, tc := range tests {
		if got := p.Resolve(tc.in); got != tc.want {
			t.Errorf("Resolve(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseOverridesAndValidates(t *testing.T) {
	t.Parallel()
	src := `
models:
  gpt-4o:
    input: 3
    output: 12
    ptu: {input_tpm_per_ptu: 2500, output_ratio: 4, min_ptu: 50, increment: 50, monthly_reservation: 300}
ptu_deployments:
  - {name: main, model: gpt-4o-2024-11-20, ptu: 100}
`
	p, err := Parse("p.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := p.Lookup("gpt-4o")
	if m.Input != 3 || m.CachedPrice() != 3 || p.Deployments[0].Billing != MonthlyReservation {
		t.Errorf("override: %+v, billing %q", m, p.Deployments[0].Billing)
	}
	if _, ok := p.Lookup("gpt-4.1"); !ok {
		t.Error("defaults lost for models the file does not name")
	}
	tests := []struct{ src, want string }{
		{"ptu_deployments:\n  - {name: x, model: nope, ptu: 10}\n", `ptu_deployments[0].model: unknown model "nope"`},
		{"ptu_deployments:\n  - {name: x, model: gpt-4o, ptu: 0}\n", "ptu_deployments[0].ptu: must be > 0"},
		{"ptu_deployments:\n  - {name: x, model: gpt-4o, ptu: 5, billing: weekly}\n", `unknown billing "weekly"`},
		{"modles: {}\n", "unknown field"},
	}
	for _, tc := range tests {
		_, err := Parse("p.yaml", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error = %v, want it to contain %q", tc.src, err, tc.want)
		}
	}
}

func TestLoadScenarioFile(t *testing.T) {
	t.Parallel()
	// mixed-day.yaml prices its PTU deployment in its pricing: section.
	p, err := Load("../scenarios/mixed-day.yaml")
	if err != nil {
		t.Fatalf("Load(mixed-day.yaml): %v", err)
	}
	if len(p.Deployments) == 0 {
		t.Errorf("mixed-day.yaml: no PTU deployments read from its pricing section")
	}
	if _, ok := p.Models["gpt-4o"]; !ok {
		t.Errorf("mixed-day.yaml: defaults not laid under the section")
	}
	// A scenario without a pricing section is priced at the defaults.
	q, err := Load("../scenarios/quickstart.yaml")
	if err != nil || len(q.Deployments) != 0 || len(q.Models) != len(Default().Models) {
		t.Errorf("Load(quickstart.yaml) = %d deployments, %d models, %v; want the defaults", len(q.Deployments), len(q.Models), err)
	}
	// A wrong value in a scenario's pricing section is named at its line in the scenario.
	src := "name: x\npersonas: []\npricing:\n  models:\n    gpt-4o: {input: 2, outptu: 3}\n"
	_, err = Parse("s.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "s.yaml:") || !strings.Contains(err.Error(), "[5:") {
		t.Errorf("Parse(bad scenario pricing) error = %v, want s.yaml and line 5", err)
	}
}
