package apimxml

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/aiload/aiload/gateway"
)

// Scope kinds: where a policy document applies.
const (
	ScopeAll     = "all"     // every API: API Management's global (all APIs) scope
	ScopeProduct = "product" // the subscriptions of one product
	ScopeAPI     = "api"     // one API: openai or azure-openai
)

// PolicyFile is a policy document and the scope it applies at.
type PolicyFile struct {
	Scope string // ScopeAll, ScopeProduct or ScopeAPI
	Name  string // the product or API name; empty for ScopeAll
	Path  string
}

// ParsePolicyFlag reads `--policy` values: "FILE" (all APIs),
// "product:NAME=FILE" or "api:NAME=FILE".
func ParsePolicyFlag(s string) (PolicyFile, error) {
	scope, path, ok := strings.Cut(s, "=")
	if !ok {
		return PolicyFile{Scope: ScopeAll, Path: s}, nil
	}
	kind, name, _ := strings.Cut(scope, ":")
	if (kind != ScopeProduct && kind != ScopeAPI) || name == "" || path == "" {
		return PolicyFile{}, fmt.Errorf("--policy %q: want FILE, product:NAME=FILE or api:NAME=FILE", s)
	}
	return PolicyFile{Scope: kind, Name: name, Path: path}, nil
}

// Load reads the gateway config at configPath and applies the policy
// documents on top of it, in order. Warnings name what the documents ask
// that the gateway does not enforce.
func Load(configPath string, files []PolicyFile) (gateway.Config, []Warning, error) {
	cfg, err := gateway.LoadConfig(configPath)
	if err != nil {
		return cfg, nil, err
	}
	var warnings []Warning
	var errs []error
	if cfg.APIM != nil {
		cfg.APIM.Dir = filepath.Dir(configPath)
		w, err := Resolve(&cfg)
		warnings = append(warnings, w...)
		if err != nil {
			return cfg, warnings, err
		}
	}
	if len(files) > 0 && cfg.Wire == "" {
		cfg.Wire = gateway.WireAPIM // policy documents: answers as API Management sends them
	}
	for _, f := range files {
		pol, w, err := ReadFile(f.Path)
		warnings = append(warnings, w...)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		w, err = Apply(&cfg, f, pol)
		warnings = append(warnings, w...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return cfg, warnings, errors.Join(errs...)
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return cfg, warnings, fmt.Errorf("%s with its policies: %w", configPath, err)
	}
	return cfg, warnings, nil
}

// Apply adds a translated policy document to cfg at f's scope. Token limits
// apply at any scope; validate-jwt, emit-token-metric and
// set-backend-service apply to every request, so they are taken from a
// document for all APIs only.
func Apply(cfg *gateway.Config, f PolicyFile, pol Policy) ([]Warning, error) {
	var errs []error
	var warnings []Warning
	at := func(p Pos, format string, a ...any) {
		errs = append(errs, &Error{File: pol.File, Pos: p, Msg: fmt.Sprintf(format, a...)})
	}
	switch f.Scope {
	case ScopeProduct:
		i := productIndex(cfg, f.Name)
		if i < 0 {
			return nil, fmt.Errorf("%s: no product %q in the config (products: %s)", f.Path, f.Name, productNames(cfg))
		}
		cfg.Products[i].TokenLimits = append(cfg.Products[i].TokenLimits, pol.TokenLimits...)
	case ScopeAPI:
		if f.Name != "openai" && f.Name != "azure-openai" {
			return nil, fmt.Errorf("%s: API must be openai or azure-openai, got %q", f.Path, f.Name)
		}
		api := apiFor(cfg, f.Name)
		api.TokenLimits = append(api.TokenLimits, pol.TokenLimits...)
	default:
		for _, name := range []string{"openai", "azure-openai"} {
			api := apiFor(cfg, name)
			api.TokenLimits = append(api.TokenLimits, pol.TokenLimits...)
		}
	}
	global := f.Scope == ScopeAll
	if pol.ManagedIdentity != nil {
		if !global {
			errs = append(errs, fmt.Errorf("%s: authentication-managed-identity applies to every request in aiload: give it in a policy for all APIs (--policy FILE)", pol.File))
		} else {
			r := &resolver{cfg: cfg}
			r.useManagedIdentity(&Item{File: pol.File, MI: pol.ManagedIdentity})
			errs = append(errs, r.errs...)
		}
	}
	r := &resolver{cfg: cfg}
	sc := scope{kind: f.Scope}
	switch f.Scope {
	case ScopeProduct:
		sc.product = f.Name
	case ScopeAPI:
		sc.api = f.Name
	}
	r.placeCalls(&Item{File: pol.File, Name: "rate-limit", Rates: pol.RateLimits, Quotas: pol.Quotas}, sc)
	warnings = append(warnings, r.warnings...)
	if len(pol.CheckHeaders) > 0 {
		if !global {
			errs = append(errs, fmt.Errorf("%s: check-header applies to every request in aiload: give it in a policy for all APIs (--policy FILE)", pol.File))
		} else {
			cfg.CheckHeaders = append(cfg.CheckHeaders, pol.CheckHeaders...)
		}
	}
	if pol.JWT != nil {
		switch {
		case !global:
			at(pol.JWTAt, "validate-jwt applies to every request in aiload: give it in a policy for all APIs (--policy FILE)")
		case cfg.JWT != nil:
			at(pol.JWTAt, "validate-jwt here and jwt: in the config: keep one")
		default:
			cfg.JWT = pol.JWT
		}
	}
	if pol.EmitTokenMetric != nil {
		switch {
		case !global:
			at(pol.EmitAt, "emit-token-metric applies to every request in aiload: give it in a policy for all APIs (--policy FILE)")
		case cfg.EmitTokenMetric != nil:
			at(pol.EmitAt, "emit-token-metric here and emit_token_metric: in the config: keep one")
		default:
			cfg.EmitTokenMetric = pol.EmitTokenMetric
		}
	}
	if pol.Retry != nil {
		switch {
		case !global:
			at(pol.RetryAt, "<retry> applies to every request in aiload: give it in a policy for all APIs (--policy FILE)")
		case cfg.Retry != nil:
			at(pol.RetryAt, "<retry> here and retry: in the config: keep one")
		default:
			cfg.Retry = pol.Retry
		}
	}
	if pol.BackendID != "" {
		w, err := setBackend(cfg, pol, global)
		warnings = append(warnings, w...)
		errs = append(errs, err)
	}
	return warnings, errors.Join(errs...)
}

// setBackend routes every request to the backend named by backend-id, or
// to the config's pool when backend-id names none of its backends.
func setBackend(cfg *gateway.Config, pol Policy, global bool) ([]Warning, error) {
	if !global {
		return nil, &Error{File: pol.File, Pos: pol.BackendAt, Msg: "set-backend-service applies to every request in aiload: give it in a policy for all APIs (--policy FILE)"}
	}
	for _, b := range cfg.Backends {
		if b.Name == pol.BackendID {
			cfg.Backends = []gateway.Backend{b}
			return nil, nil
		}
	}
	names := make([]string, len(cfg.Backends))
	for i, b := range cfg.Backends {
		names[i] = b.Name
	}
	return []Warning{{File: pol.File, Pos: pol.BackendAt, Msg: fmt.Sprintf(
		"set-backend-service backend-id %q names no backend of the config: taken as the pool of all its backends (%s)",
		pol.BackendID, strings.Join(names, ", "))}}, nil
}

func productIndex(cfg *gateway.Config, name string) int {
	for i, p := range cfg.Products {
		if p.Name == name {
			return i
		}
	}
	return -1
}

func productNames(cfg *gateway.Config) string {
	names := make([]string, len(cfg.Products))
	for i, p := range cfg.Products {
		names[i] = p.Name
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// apiFor returns the config's API scope called name, adding it if absent.
func apiFor(cfg *gateway.Config, name string) *gateway.API {
	for i := range cfg.APIs {
		if cfg.APIs[i].Name == name {
			return &cfg.APIs[i]
		}
	}
	cfg.APIs = append(cfg.APIs, gateway.API{Name: name})
	return &cfg.APIs[len(cfg.APIs)-1]
}

// Describe summarises what a translated policy document enforces.
func Describe(pol Policy) string {
	parts := []string{fmt.Sprintf("%d token limits", len(pol.TokenLimits))}
	if pol.JWT != nil {
		parts = append(parts, "validate-jwt")
	}
	if pol.EmitTokenMetric != nil {
		parts = append(parts, fmt.Sprintf("emit-token-metric with %d dimensions", len(pol.EmitTokenMetric.Dimensions)))
	}
	if pol.BackendID != "" {
		parts = append(parts, "backend "+pol.BackendID)
	}
	if r := pol.Retry; r != nil {
		parts = append(parts, fmt.Sprintf("retry on %s up to %d times", strings.Join(r.StatusCodes, ", "), r.Count))
	}
	return strings.Join(parts, ", ")
}
