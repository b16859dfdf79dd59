package gateway

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/aiload/aiload/internal/inputfile"
)

// ConfigError is one problem in a gateway config file, at file:line:column
// with its field path.
type ConfigError struct {
	File         string
	Line, Column int
	Path         string
	Msg          string
}

func (e *ConfigError) Error() string {
	loc := fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Column)
	if e.Path == "" {
		return loc + ": " + e.Msg
	}
	return loc + ": " + e.Path + ": " + e.Msg
}

// LoadConfig reads a gateway config file: the fields of Config at the top
// level (the same file a scenario can include with `gateway: file.yaml`).
// Unknown fields, wrong types and invalid values are errors; every
// validation problem comes back as a *ConfigError, joined.
func LoadConfig(path string) (Config, error) {
	var cfg Config
	src, err := inputfile.ReadConfig(path)
	if err != nil {
		return cfg, fmt.Errorf("read gateway config: %w", err)
	}
	if err := yaml.UnmarshalWithOptions(src, &cfg, yaml.Strict()); err != nil {
		return cfg, decodeError(path, src, err)
	}
	cfg.Defaults()
	verr := cfg.Validate()
	tree, _ := parser.ParseBytes(src, 0)
	if verr == nil {
		return cfg, cfg.loadCalibrations(path, func(p string) (int, int) {
			if tree == nil {
				return 1, 1
			}
			return position(tree, p)
		})
	}
	var located []*ConfigError
	for _, e := range verr.(interface{ Unwrap() []error }).Unwrap() {
		ce := &ConfigError{File: path, Line: 1, Column: 1, Msg: e.Error()}
		var fe *FieldError
		if errors.As(e, &fe) {
			ce.Path, ce.Msg = strings.TrimPrefix(fe.Path, "gateway."), fe.Msg
			if tree != nil {
				ce.Line, ce.Column = position(tree, ce.Path)
			}
		}
		located = append(located, ce)
	}
	slices.SortStableFunc(located, func(a, b *ConfigError) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	out := make([]error, len(located))
	for i, e := range located {
		out[i] = e
	}
	return cfg, errors.Join(out...)
}

// decodeError places a YAML syntax or decoding error at its line and
// column with the field path, and words a wrong type in the file's terms
// rather than the decoder's Go types.
func decodeError(path string, src []byte, err error) *ConfigError {
	ce := &ConfigError{File: path, Line: 1, Column: 1, Msg: err.Error()}
	var ye yaml.Error
	if !errors.As(err, &ye) {
		return ce
	}
	ce.Msg = ye.GetMessage()
	tk := ye.GetToken()
	if tk == nil || tk.Position == nil {
		return ce
	}
	ce.Line, ce.Column = tk.Position.Line, tk.Position.Column
	if tree, perr := parser.ParseBytes(src, 0); perr == nil {
		for _, d := range tree.Docs {
			if p, ok := pathAt(d.Body, "", ce.Line, ce.Column); ok {
				ce.Path = p
				break
			}
		}
	}
	if m := wrongType.FindStringSubmatch(ce.Msg); m != nil {
		ce.Msg = fmt.Sprintf("want %s, got %s %q", goKind(m[2]), article(m[1]), tk.Value)
	}
	return ce
}

// wrongType matches goccy/go-yaml's type mismatch message.
var wrongType = regexp.MustCompile(`^cannot unmarshal (\S+) into Go (?:struct field \S+|value) of type (\S+)$`)

// goKind names what a Go type holds, in YAML terms.
func goKind(t string) string {
	switch {
	case strings.HasPrefix(t, "int"):
		return "an integer"
	case strings.HasPrefix(t, "uint"):
		return "a whole number of 0 or more"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	}
	return "a mapping"
}

// pathAt is the field path (products[0].tokens_per_minute) of the key or
// value at line:col under n.
func pathAt(n ast.Node, path string, line, col int) (string, bool) {
	at := func(n ast.Node) bool {
		tk := n.GetToken()
		return tk != nil && tk.Position != nil && tk.Position.Line == line && tk.Position.Column == col
	}
	join := func(key string) string {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	switch v := n.(type) {
	case nil:
		return "", false
	case *ast.MappingNode:
		for _, kv := range v.Values {
			if p, ok := pathAt(kv, path, line, col); ok {
				return p, true
			}
		}
	case *ast.MappingValueNode:
		sub := join(v.Key.String())
		if at(v.Key) {
			return sub, true
		}
		return pathAt(v.Value, sub, line, col)
	case *ast.SequenceNode:
		for i, e := range v.Values {
			if p, ok := pathAt(e, fmt.Sprintf("%s[%d]", path, i), line, col); ok {
				return p, true
			}
		}
	}
	if at(n) {
		return path, true
	}
	return "", false
}

// position finds the line and column of the deepest existing node on path.
func position(f *ast.File, path string) (int, int) {
	for p := path; p != ""; {
		if yp, err := yaml.PathString("$." + p); err == nil {
			if n, err := yp.FilterFile(f); err == nil && n != nil && n.GetToken() != nil && n.GetToken().Position != nil {
				return n.GetToken().Position.Line, n.GetToken().Position.Column
			}
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	return 1, 1
}
