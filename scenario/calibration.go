package scenario

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/mockllm"
)

// resolveCalibrations reads the calibration files the gateway's backend
// mocks name (`mock: {calibration: …}`, relative to the file holding the
// gateway section); a file's problems come at its own file:line:column.
func resolveCalibrations(cfg *gateway.Config, srcs []source) []*Error {
	dir := filepath.Dir(srcs[len(srcs)-1].file)
	var out []*Error
	for i, b := range cfg.Backends {
		m := b.Mock
		if m == nil || m.Calibration == "" {
			continue
		}
		path := m.Calibration
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		cal, err := mockllm.LoadCalibration(path)
		if err == nil {
			m.Calibrated = cal
			continue
		}
		for _, e := range unjoin(err) {
			var ce *mockllm.CalibrationError
			if errors.As(e, &ce) && ce.Line > 0 {
				out = append(out, &Error{File: ce.File, Line: ce.Line, Column: ce.Column, Msg: ce.Msg})
				continue
			}
			msg := e.Error()
			if ce != nil {
				msg = ce.Msg
			}
			out = append(out, locate(srcs, &gateway.FieldError{Path: fmt.Sprintf("gateway.backends[%d].mock.calibration", i),
				Msg: fmt.Sprintf("%s: %s", path, msg)}))
		}
	}
	return out
}
