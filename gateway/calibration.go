package gateway

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/aiload/aiload/gateway/mockllm"
)

// loadCalibrations reads the calibration files the backends' mocks name
// (`mock: {calibration: …}`, relative to dir). A file's problems come at
// its own file:line:column; an unreadable one at the field naming it.
func (c *Config) loadCalibrations(file string, position func(path string) (int, int)) error {
	var errs []error
	for i, b := range c.Backends {
		m := b.Mock
		if m == nil || m.Calibration == "" {
			continue
		}
		path := m.Calibration
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(file), path)
		}
		cal, err := mockllm.LoadCalibration(path)
		if err == nil {
			m.Calibrated = cal
			continue
		}
		var ce *mockllm.CalibrationError
		if errors.As(err, &ce) && ce.Line == 0 {
			field := fmt.Sprintf("backends[%d].mock.calibration", i)
			l, col := position(field)
			err = &ConfigError{File: file, Line: l, Column: col, Path: field, Msg: fmt.Sprintf("%s: %s", path, ce.Msg)}
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
