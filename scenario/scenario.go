// Package scenario reads aiload scenario files: what to start (the mock
// backend and the embedded gateway's config) and who calls it (personas).
// Decoding is strict, and every error names file:line:column and the field.
package scenario

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/loadgen"
)

// Scenario is one scenario file.
type Scenario struct {
	// Name names the run folder and tags every request (default: the file name).
	Name string `yaml:"name" json:"name"`
	// Duration is how long load is generated (default 60s).
	Duration loadgen.Duration `yaml:"duration" json:"duration"`
	// Seed makes token lengths and arrivals reproducible (default 1).
	Seed uint64 `yaml:"seed" json:"seed"`
	// Model is the default model/deployment of personas (default gpt-4o-mini).
	Model string `yaml:"model" json:"model"`
	// Mock shapes the built-in mock backend.
	Mock Mock `yaml:"mock" json:"mock"`
	// Gateway configures the embedded gateway.
	Gateway gateway.Config `yaml:"gateway" json:"gateway"`
	// Personas are the callers.
	Personas []loadgen.Persona `yaml:"personas" json:"personas"`
}

// Mock shapes the built-in mock backend's latency and completion lengths.
type Mock struct {
	// FirstTokenDelay is the time to first token (default 50ms).
	FirstTokenDelay *loadgen.Duration `yaml:"first_token_delay" json:"first_token_delay,omitempty"`
	// PerTokenDelay is added per completion token (default 1ms).
	PerTokenDelay *loadgen.Duration `yaml:"per_token_delay" json:"per_token_delay,omitempty"`
	// MinFraction is the smallest share of max_tokens a completion uses (default 0.6).
	MinFraction float64 `yaml:"min_fraction" json:"min_fraction,omitempty"`
}

// Error is one problem in a scenario file, located at file:line:column.
type Error struct {
	File   string
	Line   int
	Column int
	// Path is the field path, e.g. personas[1].rate (empty for syntax errors).
	Path string
	Msg  string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Column)
	}
	if e.Path != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Path, e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

// Errors is every problem found in a scenario file.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Load reads and validates the scenario file at path. Every problem,
// an unreadable file included, comes back as Errors.
func Load(path string) (*Scenario, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("read scenario: %v", errors.Unwrap(err))}}
	}
	return Parse(path, src)
}

// Parse decodes and validates a scenario read from file.
func Parse(file string, src []byte) (*Scenario, error) {
	var s Scenario
	if err := yaml.UnmarshalWithOptions(src, &s, yaml.Strict()); err != nil {
		return nil, Errors{decodeError(file, err)}
	}
	s.defaults(file)
	if errs := s.validate(); len(errs) > 0 {
		return nil, locate(file, src, errs)
	}
	return &s, nil
}

func decodeError(file string, err error) *Error {
	var pe *loadgen.PositionError
	if errors.As(err, &pe) {
		return &Error{File: file, Line: pe.Line, Column: pe.Column, Msg: pe.Err.Error()}
	}
	var ye yaml.Error
	if errors.As(err, &ye) {
		e := &Error{File: file, Msg: ye.GetMessage()}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Column = tk.Position.Line, tk.Position.Column
		}
		return e
	}
	return &Error{File: file, Msg: err.Error()}
}

func (s *Scenario) defaults(file string) {
	if s.Name == "" {
		base := file[strings.LastIndexAny(file, `/\`)+1:]
		s.Name = strings.TrimSuffix(strings.TrimSuffix(base, ".yaml"), ".yml")
	}
	if s.Duration == 0 {
		s.Duration = loadgen.Duration(60e9)
	}
	if s.Seed == 0 {
		s.Seed = 1
	}
	if s.Model == "" {
		s.Model = "gpt-4o-mini"
	}
	s.Gateway.Defaults()
	for i := range s.Personas {
		s.Personas[i].Defaults()
	}
}

// validate returns every field problem with its path.
func (s *Scenario) validate() []error {
	var errs []error
	if s.Duration < 0 {
		errs = append(errs, &loadgen.FieldError{Path: "duration", Msg: "must be > 0"})
	}
	if s.Mock.MinFraction < 0 || s.Mock.MinFraction > 1 {
		errs = append(errs, &loadgen.FieldError{Path: "mock.min_fraction", Msg: "must be within [0, 1]"})
	}
	if err := s.Gateway.Validate(); err != nil {
		errs = append(errs, unjoin(err)...)
	}
	if len(s.Personas) == 0 {
		errs = append(errs, &loadgen.FieldError{Path: "personas", Msg: "at least one persona is required"})
	}
	subs := map[string]bool{}
	for _, sub := range s.Gateway.Subscriptions {
		subs[sub.ID] = true
	}
	for i := range s.Personas {
		p := &s.Personas[i]
		prefix := fmt.Sprintf("personas[%d]", i)
		errs = append(errs, p.Validate(prefix)...)
		if p.Key == "" && p.Subscription != "" && !subs[p.Subscription] {
			errs = append(errs, &loadgen.FieldError{Path: prefix + ".subscription",
				Msg: fmt.Sprintf("unknown subscription %q (not in gateway.subscriptions)", p.Subscription)})
		}
	}
	return errs
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// locate turns field errors into Errors positioned at the field's node.
func locate(file string, src []byte, errs []error) Errors {
	f, perr := parser.ParseBytes(src, 0)
	out := make(Errors, 0, len(errs))
	for _, err := range errs {
		e := &Error{File: file, Msg: err.Error()}
		var path string
		var fe1 *gateway.FieldError
		var fe2 *loadgen.FieldError
		switch {
		case errors.As(err, &fe1):
			path, e.Msg = fe1.Path, fe1.Msg
		case errors.As(err, &fe2):
			path, e.Msg = fe2.Path, fe2.Msg
		}
		e.Path = path
		if perr == nil && path != "" {
			e.Line, e.Column = position(f, path)
		}
		out = append(out, e)
	}
	return out
}

// position finds the line and column of the deepest existing node on path.
func position(f *ast.File, path string) (int, int) {
	for p := path; p != ""; p = parent(p) {
		yp, err := yaml.PathString("$." + p)
		if err != nil {
			continue
		}
		n, err := yp.FilterFile(f)
		if err != nil || n == nil {
			continue
		}
		if tk := n.GetToken(); tk != nil && tk.Position != nil {
			return tk.Position.Line, tk.Position.Column
		}
	}
	return 1, 1
}

// parent drops the last element of a field path: a.b[2].c → a.b[2] → a.b → a.
func parent(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}
