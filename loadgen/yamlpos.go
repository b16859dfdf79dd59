package loadgen

import (
	"fmt"

	"github.com/goccy/go-yaml/ast"
)

// PositionError is a bad value at a line and column of a YAML source.
type PositionError struct {
	Line, Column int
	Err          error
}

func (e *PositionError) Error() string { return fmt.Sprintf("%d:%d: %v", e.Line, e.Column, e.Err) }

// Unwrap returns the cause.
func (e *PositionError) Unwrap() error { return e.Err }

// decodeScalar hands the text of a scalar node to parse and positions its error.
func decodeScalar(n ast.Node, parse func([]byte) error) error {
	tk := n.GetToken()
	if tk == nil {
		return parse([]byte(n.String()))
	}
	err := parse([]byte(tk.Value))
	if err == nil || tk.Position == nil {
		return err
	}
	return &PositionError{Line: tk.Position.Line, Column: tk.Position.Column, Err: err}
}

// UnmarshalYAML decodes a duration scalar, reporting where a bad one is.
func (d *Duration) UnmarshalYAML(n ast.Node) error { return decodeScalar(n, d.UnmarshalText) }

// UnmarshalYAML decodes a rate scalar, reporting where a bad one is.
func (r *Rate) UnmarshalYAML(n ast.Node) error { return decodeScalar(n, r.UnmarshalText) }
