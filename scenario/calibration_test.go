package scenario

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// quantiles101 is a flow list of 101 percentiles from lo rising by step.
func quantiles101(lo, step float64) string {
	var b strings.Builder
	b.WriteString("[")
	for i := range 101 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatFloat(lo+float64(i)*step, 'f', 3, 64))
	}
	b.WriteString("]")
	return b.String()
}

// TestBackendMockCalibration: a backend's mock names a calibration file
// relative to the scenario; it is read when the scenario is, and its
// problems come at the calibration file's own line and column.
func TestBackendMockCalibration(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	calib := func(tpc string) string {
		return `version: 1
source: {command: calibrate}
deployments:
  - name: gpt-4o
    requests: 1
    ok: 1
    ttft_ms: {intercept: 100, residual_quantiles: ` + quantiles101(-5, 0.1) + `}
    itl_ms: {intercept: 20, residual_quantiles: ` + quantiles101(-1, 0.02) + `}
    tokens_per_chunk: ` + tpc + `
    completion: {ratio_quantiles: ` + quantiles101(0, 0.01) + `}
`
	}
	write("good.yaml", calib("1.5"))
	write("bad.yaml", calib("0"))
	write("unknown.yaml", strings.Replace(calib("1"), "    requests: 1\n", "    requets: 1\n", 1))
	scen := func(file string) string {
		return `gateway:
  subscriptions: [{id: s1, key: k1}]
  backends:
    - {name: twin, mock: {calibration: ` + file + `}}
personas: [{name: p, subscription: s1, rate: 1/s, profile: balanced}]
`
	}
	for _, tc := range []struct {
		file, want string // want "" = no error
	}{
		{"good.yaml", ""},
		{"bad.yaml", "bad.yaml:9:23: deployments[0].tokens_per_chunk: must be >= 1, got 0"},
		{"unknown.yaml", "unknown.yaml:5:5: unknown field \"requets\""},
		{"missing.yaml", "s.yaml:4:40: gateway.backends[0].mock.calibration: " + filepath.Join(dir, "missing.yaml") + ": read calibration: no such file or directory"},
	} {
		src := scen(tc.file)
		s, err := Parse(write("s.yaml", src), []byte(src))
		if tc.want == "" {
			if err != nil {
				t.Fatalf("%s: %v", tc.file, err)
			}
			d := s.Gateway.Backends[0].Mock.Calibrated.Deployment("gpt-4o")
			if d == nil || d.TokensPerChunk != 1.5 || len(d.TTFT.Residuals) != 101 {
				t.Fatalf("%s: calibration read as %+v", tc.file, d)
			}
			if p := s.Personas[0]; p.PromptTokens.Min != 250 || p.PromptTokens.Max != 750 || p.CompletionTokens.Value != 500 {
				t.Errorf("profile balanced gave prompt_tokens %+v, completion_tokens %+v", p.PromptTokens, p.CompletionTokens)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v\nwant it to contain %q", tc.file, err, tc.want)
		}
	}
}
