package scenario

import (
	"encoding"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"

	"github.com/aiload/aiload/loadgen"
)

// checker walks a YAML tree beside the Go type it decodes into and collects
// every structural problem (unknown field, wrong type, unparsable value)
// instead of stopping at the first as a strict decoder does. Offending
// entries are cut from the tree so that what remains decodes, and the
// semantic validation can then report its own problems too.
type checker struct {
	file string
	errs Errors
	bad  []string // field paths with a structural error
	skip []string // field paths already checked
}

var (
	nodeUnmarshaler  = reflect.TypeFor[yaml.NodeUnmarshaler]()
	ifaceUnmarshaler = reflect.TypeFor[yaml.InterfaceUnmarshaler]()
	bytesUnmarshaler = reflect.TypeFor[yaml.BytesUnmarshaler]()
	textUnmarshaler  = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// custom reports whether t decodes itself.
func custom(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	for _, i := range []reflect.Type{nodeUnmarshaler, ifaceUnmarshaler, bytesUnmarshaler, textUnmarshaler} {
		if p.Implements(i) || t.Implements(i) {
			return true
		}
	}
	return false
}

// check verifies n against t at path and reports whether n may stay.
func (c *checker) check(n ast.Node, t reflect.Type, path string) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if slices.Contains(c.skip, path) {
		return true
	}
	if n == nil || n.Type() == ast.NullType || n.Type() == ast.AliasType || n.Type() == ast.AnchorType {
		return true
	}
	if t.Kind() == reflect.Interface || custom(t) {
		return c.leaf(n, t, path)
	}
	switch t.Kind() {
	case reflect.Struct:
		return c.mapping(n, path, func(key string) (reflect.Type, bool) { return fieldType(t, key) })
	case reflect.Map:
		return c.mapping(n, path, func(string) (reflect.Type, bool) { return t.Elem(), true })
	case reflect.Slice, reflect.Array:
		return c.sequence(n, t.Elem(), path)
	}
	return c.leaf(n, t, path)
}

// leaf decodes n alone into a fresh t, strictly, to see whether it fits.
func (c *checker) leaf(n ast.Node, t reflect.Type, path string) bool {
	// the decoder truncates 1.5 into an int field without complaint
	if f, ok := n.(*ast.FloatNode); ok && !custom(t) && wholeNumber(t) && f.Value != math.Trunc(f.Value) {
		c.add(n, path, fmt.Errorf("want %s, got %s", valueKind(t), strings.TrimSpace(n.String())))
		return false
	}
	err := yaml.NodeToValue(n, reflect.New(t).Interface(), yaml.Strict())
	if err == nil {
		return true
	}
	if want := valueKind(t); want != "" && !custom(t) {
		// the decoder's message names Go types ("cannot unmarshal string
		// into Go value of type int"); say it in the file's terms
		got := kindName(n)
		if n.Type() != ast.MappingType && n.Type() != ast.SequenceType {
			got += fmt.Sprintf(" (%s)", strings.TrimSpace(n.String()))
		}
		err = fmt.Errorf("want %s, got %s", want, got)
	}
	c.add(n, path, err)
	return false
}

// wholeNumber reports whether t holds integers only.
func wholeNumber(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// valueKind names what a scalar field of type t holds ("" for other types).
func valueKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number of 0 or more"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	}
	return ""
}

func (c *checker) mapping(n ast.Node, path string, field func(string) (reflect.Type, bool)) bool {
	m, ok := n.(*ast.MappingNode)
	if !ok {
		c.add(n, path, fmt.Errorf("want a mapping, got %s", kindName(n)))
		return false
	}
	m.Values = slices.DeleteFunc(m.Values, func(kv *ast.MappingValueNode) bool {
		key := kv.Key.String()
		if key == "<<" || (path == "" && strings.HasPrefix(key, "x-")) {
			return false // merge keys; top-level x- keys hold anchors for reuse
		}
		sub := join(path, key)
		ft, known := field(key)
		if !known {
			c.add(kv.Key, sub, fmt.Errorf("unknown field %q", key))
			return true
		}
		return !c.check(kv.Value, ft, sub)
	})
	return true
}

func (c *checker) sequence(n ast.Node, elem reflect.Type, path string) bool {
	s, ok := n.(*ast.SequenceNode)
	if !ok {
		c.add(n, path, fmt.Errorf("want a list, got %s", kindName(n)))
		return false
	}
	for i, v := range s.Values {
		if !c.check(v, elem, fmt.Sprintf("%s[%d]", path, i)) {
			// keep indices stable: the element decodes as its zero value
			s.Values[i] = ast.Null(token.New("null", "null", v.GetToken().Position))
		}
	}
	return true
}

// add records a structural error at n's position (or the one err carries).
func (c *checker) add(n ast.Node, path string, err error) {
	e := &Error{File: c.file, Path: path, Msg: cleanMessage(err)}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		e.Line, e.Column = tk.Position.Line, tk.Position.Column
	}
	var ye yaml.Error
	if errors.As(err, &ye) {
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Column = tk.Position.Line, tk.Position.Column
		}
	}
	c.errs = append(c.errs, e)
	c.bad = append(c.bad, path)
}

// covered reports whether path lies under a path with a structural error
// (a semantic error there would only repeat it).
func (c *checker) covered(path string) bool {
	for _, b := range c.bad {
		if path == b || (strings.HasPrefix(path, b) && (path[len(b)] == '.' || path[len(b)] == '[')) {
			return true
		}
	}
	return false
}

// cleanMessage strips the position prefix and source excerpt goccy adds.
func cleanMessage(err error) string {
	var ye yaml.Error
	if errors.As(err, &ye) {
		return ye.GetMessage()
	}
	msg := err.Error()
	if i := strings.Index(msg, ": "); i > 0 && strings.Count(msg[:i], ":") == 1 && msg[0] >= '0' && msg[0] <= '9' {
		return msg[i+2:]
	}
	return msg
}

// fieldType finds the struct field whose yaml name is key (through inline
// embedded structs).
func fieldType(t reflect.Type, key string) (ft reflect.Type, found bool) {
	yamlFields(t, func(name string, f reflect.StructField) bool {
		if name == key {
			ft, found = f.Type, true
		}
		return !found
	})
	return ft, found
}

// yamlFields calls fn with each field of struct t that YAML decodes and its
// key (the yaml tag's name, or the lower-cased field name), descending into
// inline and embedded structs, until fn returns false. It reports whether
// the walk ran to the end.
func yamlFields(t reflect.Type, fn func(name string, f reflect.StructField) bool) bool {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") || (f.Anonymous && name == "") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && !yamlFields(ft, fn) {
				return false
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if !fn(name, f) {
			return false
		}
	}
	return true
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n ast.Node) string {
	switch n.Type() {
	case ast.MappingType:
		return "a mapping"
	case ast.SequenceType:
		return "a list"
	case ast.StringType:
		return "a string"
	case ast.IntegerType, ast.FloatType:
		return "a number"
	case ast.BoolType:
		return "a boolean"
	}
	return strings.ToLower(n.Type().String())
}

// decodeError positions a parse or decode error.
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
