package gateway

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
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
	src, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read gateway config: %w", err)
	}
	if err := yaml.UnmarshalWithOptions(src, &cfg, yaml.Strict()); err != nil {
		return cfg, &ConfigError{File: path, Line: 1, Column: 1, Msg: yaml.FormatError(err, false, true)}
	}
	cfg.Defaults()
	verr := cfg.Validate()
	if verr == nil {
		return cfg, nil
	}
	tree, _ := parser.ParseBytes(src, 0)
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
