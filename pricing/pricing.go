// Package pricing reads aiload pricing files: PAYG token prices per model,
// each model's provisioned-throughput (PTU) parameters and prices, and the
// PTU deployments a bill is made of. The defaults (default.yaml, embedded)
// cite their source and the date they were read.
//
// A pricing file has the same shape as default.yaml:
//
//	currency: USD
//	models:
//	  gpt-4o:
//	    input: 2.50          # per 1M uncached input tokens
//	    cached_input: 1.25   # per 1M cached input tokens (default: input)
//	    output: 10.00        # per 1M output tokens
//	    ptu: {input_tpm_per_ptu: 2500, output_ratio: 4, min_ptu: 15, increment: 5,
//	          hourly: 1.00, monthly_reservation: 260, yearly_reservation: 221}
//	ptu_deployments:
//	  - name: gpt-4o-ptu
//	    model: gpt-4o
//	    ptu: 100
//	    billing: monthly_reservation   # hourly | monthly_reservation | yearly_reservation
//	    backends: [aoai-ptu-eastus]    # optional: backend ids served by it
//	    shares: {alpha: 60, beta: 40}  # optional: fixed split weights
//
// Models in a file replace the default entry of the same name; the others
// keep their defaults.
package pricing

import (
	_ "embed"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/aiload/aiload/internal/inputfile"
)

//go:embed default.yaml
var defaultYAML []byte

// Billing is how a PTU deployment is paid for.
type Billing string

// Billing schemes.
const (
	Hourly             Billing = "hourly"              // PTU-hours at Model.PTU.Hourly
	MonthlyReservation Billing = "monthly_reservation" // PTU-months at Model.PTU.MonthlyReservation
	YearlyReservation  Billing = "yearly_reservation"  // PTU-months at Model.PTU.YearlyReservation
)

// ParseBilling reads a billing scheme's name; "" stays "" (the caller's
// default).
func ParseBilling(s string) (Billing, error) {
	switch b := Billing(s); b {
	case "", Hourly, MonthlyReservation, YearlyReservation:
		return b, nil
	}
	return "", fmt.Errorf("unknown billing %q (want hourly, monthly_reservation or yearly_reservation)", s)
}

// Pricing is a parsed pricing file.
type Pricing struct {
	// Currency of every price (ISO 4217), default USD.
	Currency string `yaml:"currency"`
	// Models maps a model name to its prices.
	Models map[string]Model `yaml:"models"`
	// Deployments are the PTU deployments whose cost a chargeback splits.
	Deployments []Deployment `yaml:"ptu_deployments"`
}

// Model holds one model's prices. PAYG prices are per 1,000,000 tokens.
type Model struct {
	Input float64 `yaml:"input"`
	// CachedInput is the price of cached input tokens; nil means Input.
	CachedInput *float64 `yaml:"cached_input"`
	Output      float64  `yaml:"output"`
	// PTU is nil for models that cannot be provisioned.
	PTU *PTU `yaml:"ptu"`
	// Source names where the figures come from and when they were read.
	Source string `yaml:"source"`
}

// CachedPrice returns the cached-input price (the input price when unset).
func (m Model) CachedPrice() float64 {
	if m.CachedInput == nil {
		return m.Input
	}
	return *m.CachedInput
}

// PTU holds a model's provisioned-throughput parameters and prices.
type PTU struct {
	// InputTPMPerPTU is the input tokens per minute one PTU serves.
	InputTPMPerPTU float64 `yaml:"input_tpm_per_ptu"`
	// OutputRatio is how many input tokens one output token counts as.
	OutputRatio float64 `yaml:"output_ratio"`
	// MinPTU and Increment bound a deployment's size (Global/Data Zone: 15 and 5).
	MinPTU    int `yaml:"min_ptu"`
	Increment int `yaml:"increment"`
	// Hourly is the price per PTU-hour; the reservations are per PTU-month.
	Hourly             float64 `yaml:"hourly"`
	MonthlyReservation float64 `yaml:"monthly_reservation"`
	YearlyReservation  float64 `yaml:"yearly_reservation"`
}

// MonthlyPrice returns the price of one PTU for one month (730 hours for
// hourly billing, Azure's monthly convention).
func (p PTU) MonthlyPrice(b Billing) float64 {
	switch b {
	case MonthlyReservation:
		return p.MonthlyReservation
	case YearlyReservation:
		return p.YearlyReservation
	}
	return p.Hourly * HoursPerMonth
}

// HoursPerMonth is the hours Azure bills a month of hourly usage as.
const HoursPerMonth = 730

// Deployment is one PTU deployment in the bill.
type Deployment struct {
	Name    string  `yaml:"name"`
	Model   string  `yaml:"model"`
	PTU     int     `yaml:"ptu"`
	Billing Billing `yaml:"billing"` // default monthly_reservation
	// Backends are the backend ids (record.backend) it serves; empty means
	// every record of the model with backend_tier "ptu".
	Backends []string `yaml:"backends"`
	// Shares are fixed split weights per team for the "fixed" method.
	Shares map[string]float64 `yaml:"shares"`
}

// Default returns the embedded default prices (no PTU deployments).
func Default() *Pricing {
	p, err := parse("default.yaml", defaultYAML, nil)
	if err != nil {
		panic("pricing: embedded default.yaml: " + err.Error()) // a build defect
	}
	return p
}

// Load reads a pricing file and lays it over the defaults. A scenario file
// is accepted too: its pricing: section is read (a scenario without one
// gives the defaults, as a run of it is priced).
func Load(path string) (*Pricing, error) {
	src, err := inputfile.ReadConfig(path)
	if err != nil {
		return nil, fmt.Errorf("read pricing: %w", err)
	}
	return Parse(path, src)
}

// Parse decodes a pricing file read from file and lays it over the defaults.
// A scenario file's pricing: section is read the same way (see Load).
func Parse(file string, src []byte) (*Pricing, error) {
	return parse(file, src, Default())
}

func parse(file string, src []byte, base *Pricing) (*Pricing, error) {
	var p Pricing
	if err := decode(src, &p); err != nil {
		return nil, fmt.Errorf("%s: %s", file, yaml.FormatError(err, false, true))
	}
	if base != nil {
		if p.Currency == "" {
			p.Currency = base.Currency
		}
		merged := make(map[string]Model, len(base.Models)+len(p.Models))
		for k, v := range base.Models {
			merged[k] = v
		}
		for k, v := range p.Models {
			merged[k] = v
		}
		p.Models = merged
	}
	if p.Currency == "" {
		p.Currency = "USD"
	}
	for i := range p.Deployments {
		if p.Deployments[i].Billing == "" {
			p.Deployments[i].Billing = MonthlyReservation
		}
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &p, nil
}

// decode reads src into p strictly. A document whose top level names
// personas or pricing is a scenario: only its pricing: section is decoded,
// so errors keep the scenario file's lines and columns.
func decode(src []byte, p *Pricing) error {
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		return err
	}
	if len(f.Docs) == 1 {
		if m, ok := f.Docs[0].Body.(*ast.MappingNode); ok {
			var section ast.Node
			scenario := false
			for _, kv := range m.Values {
				switch kv.Key.String() {
				case "pricing":
					section, scenario = kv.Value, true
				case "personas":
					scenario = true
				}
			}
			if scenario {
				if section == nil {
					return nil // a scenario without prices: the defaults
				}
				return yaml.NodeToValue(section, p, yaml.Strict())
			}
		}
	}
	return yaml.UnmarshalWithOptions(src, p, yaml.Strict())
}

// Validate reports every impossible value, naming its field path.
func (p *Pricing) Validate() error {
	var errs []error
	bad := func(path, msg string) { errs = append(errs, fmt.Errorf("%s: %s", path, msg)) }
	for _, name := range p.ModelNames() {
		m := p.Models[name]
		path := "models." + name
		if m.Input < 0 || m.Output < 0 || m.CachedPrice() < 0 {
			bad(path, "prices must be >= 0")
		}
		if t := m.PTU; t != nil {
			if t.InputTPMPerPTU <= 0 {
				bad(path+".ptu.input_tpm_per_ptu", "must be > 0")
			}
			if t.OutputRatio < 0 {
				bad(path+".ptu.output_ratio", "must be >= 0")
			}
			if t.MinPTU < 0 || t.Increment < 0 {
				bad(path+".ptu", "min_ptu and increment must be >= 0")
			}
		}
	}
	for i, d := range p.Deployments {
		path := fmt.Sprintf("ptu_deployments[%d]", i)
		m, ok := p.Lookup(d.Model)
		switch {
		case d.Name == "":
			bad(path+".name", "is required")
		case !ok:
			bad(path+".model", fmt.Sprintf("unknown model %q (add it under models)", d.Model))
		case m.PTU == nil:
			bad(path+".model", fmt.Sprintf("model %q has no ptu parameters", d.Model))
		}
		if d.PTU <= 0 {
			bad(path+".ptu", "must be > 0")
		}
		switch d.Billing {
		case Hourly, MonthlyReservation, YearlyReservation:
		default:
			bad(path+".billing", fmt.Sprintf("unknown billing %q (want hourly, monthly_reservation or yearly_reservation)", d.Billing))
		}
		for team, w := range d.Shares {
			if w < 0 {
				bad(path+".shares."+team, "must be >= 0")
			}
		}
	}
	return errors.Join(errs...)
}

// ModelNames returns the priced model names, sorted.
func (p *Pricing) ModelNames() []string {
	names := make([]string, 0, len(p.Models))
	for n := range p.Models {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Resolve maps a model name as logged to the name of its price entry: an
// exact match, else the name without a provider prefix ("azure/gpt-4o"),
// else the longest priced name it starts with ("gpt-4o-2024-11-20" →
// gpt-4o, "gpt-4o-mini-2024-07-18" → gpt-4o-mini). It returns "" when no
// entry fits.
func (p *Pricing) Resolve(model string) string {
	m := strings.ToLower(strings.TrimSpace(model))
	if _, ok := p.Models[m]; ok {
		return m
	}
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
		if _, ok := p.Models[m]; ok {
			return m
		}
	}
	best := ""
	for name := range p.Models {
		if strings.HasPrefix(m, name) && len(name) > len(best) &&
			(len(m) == len(name) || m[len(name)] == '-' || m[len(name)] == '_') {
			best = name
		}
	}
	return best
}

// Lookup returns the prices of a model as logged (see Resolve).
func (p *Pricing) Lookup(model string) (Model, bool) {
	name := p.Resolve(model)
	if name == "" {
		return Model{}, false
	}
	return p.Models[name], true
}
