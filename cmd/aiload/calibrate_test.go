package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway/mockllm"
)

// TestCalibrateCommand: bad flags are usage errors (exit status 2) named
// by flag; against a deployment (a mock on loopback) calibrate writes the
// file and prints what it measured.
func TestCalibrateCommand(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"calibrate", "--deployment", "d"}, "--target: must be the deployment's absolute http(s) base URL"},
		{[]string{"calibrate", "--target", "http://127.0.0.1:1", "--deployment", "d", "--profile", "huge"}, "--profile: must be balanced, context, generation"},
		{[]string{"calibrate", "--target", "http://127.0.0.1:1", "--deployment", "d", "--rate", "50"}, "--rate: must be within (0, 10]"},
		{[]string{"calibrate", "--target", "http://127.0.0.1:1", "--deployment", "d", "--key-env", "AILOAD_TEST_UNSET_KEY"}, "--key-env: environment variable AILOAD_TEST_UNSET_KEY is not set"},
	} {
		code, _, stderr := execute(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
	srv := httptest.NewServer(mockllm.New(mockllm.Config{Seed: 1, FirstTokenDelay: 2 * time.Millisecond, MinFraction: 1}))
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "calib.yaml")
	code, stdout, stderr := execute(t, "calibrate", "--target", srv.URL, "--deployment", "gpt-4o", "--profile", "context",
		"--rate", "10", "--max-requests", "5", "--duration", "2s", "--out", out)
	if code != 0 || !strings.Contains(stdout, "calibration of gpt-4o (complete): 5 requests answered, 5 ok, 0 throttled -> "+out) {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	cal, err := mockllm.LoadCalibration(out)
	if err != nil || len(cal.Deployments) != 1 || cal.Deployments[0].Completion.Observed.P50 != 200 {
		b, _ := os.ReadFile(out)
		t.Fatalf("calibration file (%v):\n%s", err, b)
	}
}
