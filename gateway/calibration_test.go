package gateway_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiload/aiload/calibrate"
	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/mockllm"
)

// TestConfigMockCalibration: a gateway config file (aiload gateway serve)
// reads its backend mocks' calibration files relative to itself; one
// that cannot be read is an error at the field naming it.
func TestConfigMockCalibration(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	flat := make([]float64, mockllm.QuantileCount)
	cal := &mockllm.Calibration{Version: 1, Deployments: []*mockllm.DeploymentCalibration{{Name: "gpt-4o", TokensPerChunk: 1,
		TTFT: mockllm.LatencyModel{Intercept: 300, Residuals: flat}, ITL: mockllm.LatencyModel{Intercept: 20, Residuals: flat},
		Completion: mockllm.CompletionModel{Ratios: flat}}}}
	f, err := os.Create(filepath.Join(dir, "calib.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := calibrate.Encode(f, cal); err != nil {
		t.Fatal(err)
	}
	f.Close()
	write := func(calib string) string {
		p := filepath.Join(dir, "gw.yaml")
		src := "subscriptions: [{id: s, key: k}]\nbackends:\n  - {name: twin, mock: {calibration: " + calib + "}}\n"
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg, err := gateway.LoadConfig(write("calib.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if d := cfg.Backends[0].Mock.Calibrated.Deployment("gpt-4o"); d == nil || d.TTFT.Intercept != 300 {
		t.Fatalf("calibration read as %+v", d)
	}
	_, err = gateway.LoadConfig(write("nowhere.yaml"))
	if err == nil || !strings.Contains(err.Error(), "gw.yaml:3:38: backends[0].mock.calibration: ") || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("missing calibration: %v", err)
	}
}
