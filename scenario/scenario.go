// Package scenario reads aiload scenario files: what to start (the mock
// backend and the embedded gateway's config) and who calls it (personas).
// Decoding is strict, and every error names file:line:column and the field.
package scenario

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/apimxml"
	"github.com/aiload/aiload/internal/inputfile"
	"github.com/aiload/aiload/loadgen"
	"github.com/aiload/aiload/pricing"
)

// Scenario is one scenario file. Top-level keys starting with "x-" are
// ignored; they hold YAML anchors for reuse (x-office-hours: &office […]).
type Scenario struct {
	// Name names the run folder and tags every request (default: the file name).
	Name string `yaml:"name" json:"name"`
	// Duration is how long load is generated (default 60s).
	Duration loadgen.Duration `yaml:"duration" json:"duration"`
	// Seed makes token lengths and arrivals reproducible (default 1).
	Seed uint64 `yaml:"seed" json:"seed"`
	// Clock is "wall" (default: real sockets and sleeps) or "virtual": the
	// same personas, gateway and mock run as a discrete-event simulation on
	// simulated time, so a day of traffic takes seconds.
	Clock string `yaml:"clock" json:"clock,omitempty"`
	// Model is the default model/deployment of personas (default gpt-4o-mini).
	Model string `yaml:"model" json:"model"`
	// ContextTokens is the model's context window; every token draw is
	// clamped to it (default 128000).
	ContextTokens int64 `yaml:"context_tokens" json:"context_tokens"`
	// Target is where the load goes (default: the embedded gateway).
	Target loadgen.Target `yaml:"target" json:"target"`
	// Mock shapes the built-in mock backend.
	Mock Mock `yaml:"mock" json:"mock"`
	// Gateway configures the embedded gateway. In the file it is either the
	// configuration itself or the path of a YAML file holding it (relative
	// to the scenario).
	Gateway gateway.Config `yaml:"gateway" json:"gateway"`
	// Personas are the callers.
	Personas []loadgen.Persona `yaml:"personas" json:"personas"`
	// Pricing has the shape of a pricing file (see package pricing: prices
	// per model and token kind, PTU deployments); it is checked, then
	// passed through untouched to summary.json for reports.
	Pricing map[string]any `yaml:"pricing" json:"pricing,omitempty"`
}

// Clock values.
const (
	ClockWall    = "wall"
	ClockVirtual = "virtual"
)

// Mock shapes the built-in mock backend's latency and completion lengths.
type Mock struct {
	// FirstTokenDelay is the time to first token (default 50ms).
	FirstTokenDelay *loadgen.Duration `yaml:"first_token_delay" json:"first_token_delay,omitempty"`
	// PerTokenDelay is added per completion token (default 1ms).
	PerTokenDelay *loadgen.Duration `yaml:"per_token_delay" json:"per_token_delay,omitempty"`
	// PerTokenDelayP95 makes the per-token delay vary: lognormal, median
	// PerTokenDelay, this 95th percentile, drawn per streamed chunk
	// (default none: every token takes PerTokenDelay).
	PerTokenDelayP95 *loadgen.Duration `yaml:"per_token_delay_p95" json:"per_token_delay_p95,omitempty"`
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
	src, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, src)
}

// ReadFile reads a scenario file's bytes under the input limits: a regular
// file (not a device, pipe or directory) of at most MaxFileBytes. Its error
// is Errors.
func ReadFile(path string) ([]byte, error) {
	src, err := inputfile.Read(path, MaxFileBytes)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("read scenario: %v", unwrapPath(err))}}
	}
	return src, nil
}

// LoadContext is Load that returns when ctx ends (an interrupt) without
// waiting for the parse to finish.
func LoadContext(ctx context.Context, path string) (*Scenario, error) {
	type result struct {
		sc  *Scenario
		err error
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("read scenario %s: interrupted: %w", path, ctx.Err())
	}
	done := make(chan result, 1)
	go func() {
		sc, err := Load(path)
		done <- result{sc, err}
	}()
	select {
	case r := <-done:
		return r.sc, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("read scenario %s: interrupted: %w", path, ctx.Err())
	}
}

// unwrapPath drops the path an *os.PathError repeats.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Parse decodes and validates a scenario read from file. It reports every
// problem it finds, not only the first: unknown fields, wrong types and
// unparsable values, then impossible values, each at file:line:column with
// its field path.
func Parse(file string, src []byte) (*Scenario, error) {
	if e := checkInput(file, src); e != nil {
		return nil, Errors{e}
	}
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		return nil, Errors{decodeError(file, err)}
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		return nil, Errors{{File: file, Line: 1, Column: 1, Msg: "empty scenario: personas are required"}}
	}
	body := f.Docs[0].Body
	srcs := []source{{file: file, tree: f}}
	c := &checker{file: file}
	if gw, ok := gatewayPath(body); ok {
		srcs = append(srcs, c.includeGateway(file, gw)...)
	}
	if n, ok := topLevel(body, "pricing"); ok {
		c.check(n, reflect.TypeFor[pricing.Pricing](), "pricing")
		c.skip = append(c.skip, "pricing")
	}
	c.check(body, reflect.TypeFor[Scenario](), "")
	var s Scenario
	if err := yaml.NodeToValue(body, &s); err != nil {
		c.errs = append(c.errs, decodeError(file, err))
		return nil, c.errs
	}
	zeros := explicitZeros(body, &s)
	s.defaults(file)
	c.errs = append(c.errs, resolveAPIM(&s.Gateway, srcs)...)
	c.errs = append(c.errs, resolveCalibrations(&s.Gateway, srcs)...)
	var checked []string
	for _, err := range append(zeros, s.validate(filepath.Dir(file))...) {
		if e := locate(srcs, err); !c.covered(e.Path) {
			c.errs = append(c.errs, e)
			checked = append(checked, e.Path)
		}
	}
	c.bad = append(c.bad, checked...) // a bound would only repeat these
	for _, err := range s.bounds() {
		if e := locate(srcs, err); !c.covered(e.Path) {
			c.errs = append(c.errs, e)
		}
	}
	if len(c.errs) > 0 {
		slices.SortStableFunc(c.errs, func(a, b *Error) int {
			return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
		})
		return nil, c.errs
	}
	return &s, nil
}

// resolveAPIM translates the API Management documents the gateway section
// names (paths relative to the file holding the section).
func resolveAPIM(cfg *gateway.Config, srcs []source) []*Error {
	if cfg.APIM == nil {
		return nil
	}
	cfg.APIM.Dir = filepath.Dir(srcs[len(srcs)-1].file)
	_, err := apimxml.Resolve(cfg)
	cfg.Defaults()
	if err == nil {
		return nil
	}
	var out []*Error
	for _, e := range unjoin(err) {
		var pe *apimxml.Error
		if errors.As(e, &pe) {
			out = append(out, &Error{File: pe.File, Line: pe.Line, Column: pe.Column, Msg: pe.Msg})
			continue
		}
		out = append(out, locate(srcs, &gateway.FieldError{Path: "gateway.apim", Msg: e.Error()}))
	}
	return out
}

func (s *Scenario) defaults(file string) {
	if s.Name == "" {
		base := filepath.Base(file)
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
	if s.ContextTokens == 0 {
		s.ContextTokens = loadgen.DefaultContextTokens
	}
	s.Target.Defaults()
	s.Gateway.Defaults()
	for i := range s.Personas {
		s.Personas[i].Defaults()
	}
}

// validate returns every field problem with its path; dir is the scenario's
// folder, against which empirical length files are read.
func (s *Scenario) validate(dir string) []error {
	var errs []error
	bad := func(path, format string, a ...any) {
		errs = append(errs, &loadgen.FieldError{Path: path, Msg: fmt.Sprintf(format, a...)})
	}
	if s.Duration < 0 {
		bad("duration", "must be > 0")
	}
	if strings.ContainsFunc(s.Name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		bad("name", "must not contain control characters (it is sent in the %s header)", loadgen.HeaderScenario)
	}
	if s.Clock != "" && s.Clock != ClockWall && s.Clock != ClockVirtual {
		bad("clock", "must be wall or virtual, got %q", s.Clock)
	}
	if s.ContextTokens < 1 {
		bad("context_tokens", "must be >= 1, got %d", s.ContextTokens)
	}
	if s.Mock.MinFraction < 0 || s.Mock.MinFraction > 1 {
		bad("mock.min_fraction", "must be within [0, 1]")
	}
	if p95 := s.Mock.PerTokenDelayP95; p95 != nil && *p95 > 0 {
		if d := s.Mock.PerTokenDelay; d == nil || *p95 < *d {
			bad("mock.per_token_delay_p95", "must be at least mock.per_token_delay (the median), got %s", p95.D())
		}
	}
	errs = append(errs, s.Target.Validate("target")...)
	if err := s.Gateway.Validate(); err != nil {
		errs = append(errs, unjoin(err)...)
	}
	if len(s.Personas) == 0 {
		bad("personas", "at least one persona is required")
	}
	if len(s.Pricing) > 0 {
		src, err := yaml.Marshal(s.Pricing)
		if err == nil {
			_, err = pricing.Parse("pricing", src)
		}
		if err != nil {
			bad("pricing", "%v", err)
		}
	}
	subs := map[string]bool{}
	for _, sub := range s.Gateway.Subscriptions {
		subs[sub.ID] = true
	}
	names := map[string]bool{}
	for i := range s.Personas {
		p := &s.Personas[i]
		prefix := fmt.Sprintf("personas[%d]", i)
		for _, err := range p.Validate(prefix) {
			var fe *loadgen.FieldError
			if !s.Target.Embedded() && errors.As(err, &fe) && fe.Msg == loadgen.ErrNoSubscription.Error() {
				continue // an external target may need no key (a bearer token, or none)
			}
			errs = append(errs, err)
		}
		if names[p.Name] && p.Name != "" {
			bad(prefix+".name", "duplicate persona %q", p.Name)
		}
		names[p.Name] = true
		if p.Key == "" {
			for _, id := range p.SubscriptionIDs() {
				if !subs[id] {
					bad(prefix+".subscription", "unknown subscription %q (not in gateway.subscriptions)", id)
				}
			}
		}
		for _, d := range []struct {
			field string
			dist  *loadgen.Dist
		}{{"prompt_tokens", &p.PromptTokens}, {"completion_tokens", &p.CompletionTokens}, {"turns", &p.Turns}, {"think_time", &p.ThinkTime}} {
			if err := d.dist.Load(dir); err != nil {
				bad(prefix+"."+d.field, "%v", err)
			}
		}
		for j := range p.Steps {
			for field, d := range map[string]*loadgen.Dist{"prompt_tokens": &p.Steps[j].PromptTokens, "completion_tokens": &p.Steps[j].CompletionTokens} {
				if err := d.Load(dir); err != nil {
					bad(fmt.Sprintf("%s.steps[%d].%s", prefix, j, field), "%v", err)
				}
			}
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

// source is a parsed YAML file whose nodes answer field paths starting with
// prefix (the scenario itself: "", an included gateway file: "gateway").
type source struct {
	prefix string
	file   string
	tree   *ast.File
}

// topLevel returns the value of a top-level key.
func topLevel(body ast.Node, key string) (ast.Node, bool) {
	m, ok := body.(*ast.MappingNode)
	if !ok {
		return nil, false
	}
	for _, kv := range m.Values {
		if kv.Key.String() == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// gatewayPath returns the value of a top-level `gateway: path.yaml`.
func gatewayPath(body ast.Node) (*ast.MappingValueNode, bool) {
	m, ok := body.(*ast.MappingNode)
	if !ok {
		return nil, false
	}
	for _, kv := range m.Values {
		if kv.Key.String() == "gateway" && kv.Value.Type() == ast.StringType {
			return kv, true
		}
	}
	return nil, false
}

// includeGateway replaces `gateway: path` by the parsed file's content, and
// checks it against gateway.Config with errors naming that file.
func (c *checker) includeGateway(file string, kv *ast.MappingValueNode) []source {
	rel := strings.TrimSpace(kv.Value.(*ast.StringNode).Value)
	path := rel
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(file), rel)
	}
	src, err := inputfile.Read(path, MaxFileBytes)
	if err != nil {
		c.add(kv.Value, "gateway", fmt.Errorf("read gateway config: %w", unwrapPath(err)))
		kv.Value = ast.Null(token.New("null", "null", kv.Value.GetToken().Position))
		return nil
	}
	if e := checkInput(path, src); e != nil {
		c.errs = append(c.errs, e)
		c.bad = append(c.bad, "gateway")
		kv.Value = ast.Null(token.New("null", "null", kv.Value.GetToken().Position))
		return nil
	}
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		c.errs = append(c.errs, decodeError(path, err))
		c.bad = append(c.bad, "gateway")
		kv.Value = ast.Null(token.New("null", "null", kv.Value.GetToken().Position))
		return nil
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		kv.Value = ast.Null(token.New("null", "null", kv.Value.GetToken().Position))
		return nil
	}
	inner := &checker{file: path}
	inner.check(f.Docs[0].Body, reflect.TypeFor[gateway.Config](), "gateway")
	c.errs = append(c.errs, inner.errs...)
	c.bad = append(c.bad, inner.bad...)
	kv.Value = f.Docs[0].Body
	// the value is now checked: make the outer walk skip it
	c.skip = append(c.skip, "gateway")
	return []source{{prefix: "gateway", file: path, tree: f}}
}

// locate turns a field error into an Error positioned at the field's node
// in the file that holds it.
func locate(srcs []source, err error) *Error {
	e := &Error{File: srcs[0].file, Msg: err.Error()}
	var fe1 *gateway.FieldError
	var fe2 *loadgen.FieldError
	switch {
	case errors.As(err, &fe1):
		e.Path, e.Msg = fe1.Path, fe1.Msg
	case errors.As(err, &fe2):
		e.Path, e.Msg = fe2.Path, fe2.Msg
	}
	if e.Path == "" {
		return e
	}
	src := srcs[0]
	for _, s := range srcs[1:] {
		if e.Path == s.prefix || strings.HasPrefix(e.Path, s.prefix+".") {
			src = s
		}
	}
	e.File = src.file
	rel := strings.TrimPrefix(strings.TrimPrefix(e.Path, src.prefix), ".")
	if src.prefix == "" {
		rel = e.Path
	}
	e.Line, e.Column = position(src.tree, rel)
	return e
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
