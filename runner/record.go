package runner

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/aiload/aiload/calibrate"
	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/loadgen"
	"github.com/aiload/aiload/scenario"
)

// ErrRecordEmbedded refuses --record for a run on the embedded gateway
// and mocks (or on the virtual clock): there is no real deployment to
// measure.
var ErrRecordEmbedded = errors.New("--record measures a real deployment: it needs a scenario whose target has a url, on the wall clock")

// recordCalibration writes what rec observed of the run's deployments to
// path (aiload run --record).
func recordCalibration(path string, sc *scenario.Scenario, rec *calibrate.Recorder, load *loadgen.Result) error {
	if rec.Count() == 0 {
		return fmt.Errorf("record calibration to %s: no request was answered", path)
	}
	src := mockllm.CalibrationSource{Target: sc.Target.URL, Started: load.Started.UTC().Format(time.RFC3339),
		Seconds: math.Round(load.Elapsed.Seconds()*1000) / 1000, Command: "run"}
	if err := calibrate.WriteFile(path, rec.Calibration(src, sharedProfile(sc))); err != nil {
		return fmt.Errorf("record calibration: %w", err)
	}
	return nil
}

// sharedProfile is the request-shape profile every persona has, or "".
func sharedProfile(sc *scenario.Scenario) string {
	p := ""
	for i, ps := range sc.Personas {
		if i > 0 && ps.Profile != p {
			return ""
		}
		p = ps.Profile
	}
	return p
}
