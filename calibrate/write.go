package calibrate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/aiload/aiload/gateway/mockllm"
)

// Encode writes cal as a calibration file: the fits in block style, each
// data point on a line of its own.
func Encode(w io.Writer, cal *mockllm.Calibration) error {
	var b bytes.Buffer
	head, err := yaml.Marshal(struct {
		Version int                       `yaml:"version"`
		Source  mockllm.CalibrationSource `yaml:"source"`
	}{cal.Version, cal.Source})
	if err != nil {
		return fmt.Errorf("encode calibration: %w", err)
	}
	b.Write(head)
	b.WriteString("deployments:\n")
	for _, d := range cal.Deployments {
		bare := *d
		bare.Points = nil
		body, err := yaml.Marshal(&bare)
		if err != nil {
			return fmt.Errorf("encode calibration of %s: %w", d.Name, err)
		}
		for i, line := range strings.Split(strings.TrimRight(string(body), "\n"), "\n") {
			if i == 0 {
				b.WriteString("  - " + line + "\n")
			} else {
				b.WriteString("    " + line + "\n")
			}
		}
		if len(d.Points) == 0 {
			continue
		}
		b.WriteString("    points:\n")
		for _, p := range d.Points {
			line, err := yaml.MarshalWithOptions(p, yaml.Flow(true))
			if err != nil {
				return fmt.Errorf("encode calibration point: %w", err)
			}
			b.WriteString("      - " + strings.TrimSpace(string(line)) + "\n")
		}
	}
	_, err = w.Write(b.Bytes())
	return err
}

// readExisting returns the calibration already at path (nil when there is
// no file), so that writing a deployment keeps the others it holds.
func readExisting(path string) (*mockllm.Calibration, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	cal, err := mockllm.LoadCalibration(path)
	if err != nil {
		return nil, fmt.Errorf("%w (write elsewhere with --out, or move it away)", err)
	}
	return cal, nil
}

// WriteFile writes cal to path; the deployments of a calibration file
// already there that cal does not measure are kept. The file is replaced
// whole (written beside it, then renamed).
func WriteFile(path string, cal *mockllm.Calibration) error {
	old, err := readExisting(path)
	if err != nil {
		return err
	}
	if old != nil {
		merged := *cal
		merged.Deployments = nil
		for _, d := range old.Deployments {
			if !slices.ContainsFunc(cal.Deployments, func(n *mockllm.DeploymentCalibration) bool { return n.Name == d.Name }) {
				merged.Deployments = append(merged.Deployments, d)
			}
		}
		merged.Deployments = append(merged.Deployments, cal.Deployments...)
		cal = &merged
	}
	var b bytes.Buffer
	if err := Encode(&b, cal); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".calib-*.yaml")
	if err != nil {
		return fmt.Errorf("write calibration: %w", err)
	}
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write calibration: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write calibration: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write calibration: %w", err)
	}
	return nil
}
