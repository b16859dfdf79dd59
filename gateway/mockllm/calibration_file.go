package mockllm

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/aiload/aiload/internal/inputfile"
)

// MaxCalibrationBytes bounds a calibration file (its data points make it
// larger than a configuration file).
const MaxCalibrationBytes = 64 << 20

// CalibrationError is a problem in a calibration file, at file:line:column
// when it has a place.
type CalibrationError struct {
	File         string
	Line, Column int
	Msg          string
}

func (e *CalibrationError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// LoadCalibration reads and checks the calibration file at path. Its
// errors are *CalibrationError (joined when there are several).
func LoadCalibration(path string) (*Calibration, error) {
	src, err := inputfile.Read(path, MaxCalibrationBytes)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is said already
		}
		return nil, &CalibrationError{File: path, Msg: fmt.Sprintf("read calibration: %v", err)}
	}
	return ParseCalibration(path, src)
}

// ParseCalibration decodes and checks a calibration file read from file:
// unknown fields, wrong types and impossible values, each at
// file:line:column with its field path.
func ParseCalibration(file string, src []byte) (*Calibration, error) {
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		return nil, positioned(file, err)
	}
	var c Calibration
	if err := yaml.NewDecoder(bytes.NewReader(src), yaml.DisallowUnknownField()).Decode(&c); err != nil {
		return nil, positioned(file, err)
	}
	var errs []error
	if c.Version != CalibrationVersion {
		errs = append(errs, &FieldError{Field: "version", Msg: fmt.Sprintf("must be %d, got %d", CalibrationVersion, c.Version)})
	}
	if len(c.Deployments) == 0 {
		errs = append(errs, &FieldError{Field: "deployments", Msg: "must list at least one deployment"})
	}
	for i, d := range c.Deployments {
		if d == nil {
			errs = append(errs, &FieldError{Field: fmt.Sprintf("deployments[%d]", i), Msg: "must be a mapping"})
			continue
		}
		errs = append(errs, d.Validate(fmt.Sprintf("deployments[%d]", i))...)
	}
	if len(errs) == 0 {
		return &c, nil
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = placeField(file, f, e)
	}
	return nil, errors.Join(out...)
}

// positioned turns a parse or decode error into a *CalibrationError.
func positioned(file string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		e := &CalibrationError{File: file, Msg: ye.GetMessage()}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Column = tk.Position.Line, tk.Position.Column
		}
		return e
	}
	return &CalibrationError{File: file, Msg: err.Error()}
}

// placeField positions a field error at the deepest node of its path that
// the file has.
func placeField(file string, f *ast.File, err error) error {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return &CalibrationError{File: file, Msg: err.Error()}
	}
	e := &CalibrationError{File: file, Msg: fe.Error()}
	for p := fe.Field; p != ""; p = parentPath(p) {
		yp, err := yaml.PathString("$." + p)
		if err != nil {
			continue
		}
		if n, err := yp.FilterFile(f); err == nil && n != nil {
			if tk := n.GetToken(); tk != nil && tk.Position != nil {
				e.Line, e.Column = tk.Position.Line, tk.Position.Column
				return e
			}
		}
	}
	return e
}

// parentPath drops a field path's last step ("a.b[2]" → "a.b" → "a").
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndex(p, "["); i > 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndex(p, "."); i > 0 {
		return p[:i]
	}
	return ""
}
