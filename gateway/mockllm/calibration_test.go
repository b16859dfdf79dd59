package mockllm_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway/chat"
	"github.com/aiload/aiload/gateway/mockllm"
)

// flat is a percentile table of one value.
func flat(v float64) []float64 {
	t := make([]float64, mockllm.QuantileCount)
	for i := range t {
		t[i] = v
	}
	return t
}

// calibrated is a mock answering like a deployment that takes 2 ms to the
// first token and 0.5 ms between chunks of 4 tokens, and uses half of
// max_tokens.
func calibrated() mockllm.Config {
	return mockllm.Config{Seed: 1, Calibrated: &mockllm.Calibration{Version: 1, Deployments: []*mockllm.DeploymentCalibration{{
		Name: "gpt-4o-mini", TokensPerChunk: 4,
		TTFT:       mockllm.LatencyModel{Intercept: 2, Residuals: flat(0)},
		ITL:        mockllm.LatencyModel{Intercept: 0.5, Residuals: flat(0)},
		Completion: mockllm.CompletionModel{Ratios: flat(0.5)},
	}}}}
}

// TestCalibratedHTTP: over HTTP a calibrated mock streams the deployment's
// chunks (4 tokens each: 100 tokens of max_tokens 200 in 25 content
// chunks after the role chunk) and answers whole requests with its
// completion lengths.
func TestCalibratedHTTP(t *testing.T) {
	t.Parallel()
	url := serve(t, calibrated())
	stream := strings.Replace(body, `"max_tokens":200`, `"max_tokens":200,"stream":true,"stream_options":{"include_usage":true}`, 1)
	_, out, err := call(t, url, stream)
	if err != nil || !strings.HasSuffix(out, "data: [DONE]\n\n") {
		t.Fatalf("stream: %v %q", err, out)
	}
	if n := strings.Count(out, `"content":"`); n != 26 {
		t.Fatalf("%d content chunks, want the role chunk and 25:\n%s", n, out)
	}
	if !strings.Contains(out, `"completion_tokens":100`) {
		t.Fatalf("usage chunk without the 100 completion tokens:\n%s", out)
	}
	_, out, err = call(t, url, body)
	if err != nil || !strings.Contains(out, `"completion_tokens":100`) {
		t.Fatalf("whole answer: %v %s", err, out)
	}
}

// TestCalibratedInProcess: in process, a calibrated stream's answer says
// when its first content came (the time to first token) and the gaps
// between its chunks, as drawn from the calibration, on a clock that only
// the mock's sleeps move.
func TestCalibratedInProcess(t *testing.T) {
	t.Parallel()
	c := calibrated()
	now := time.Unix(0, 0)
	c.Clock = fakeClock{&now}
	c.Sleep = func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil }
	m := mockllm.New(c)
	a := m.Call(context.Background(), &chat.Call{Body: chat.Body{Model: "gpt-4o-mini", MaxTokens: 80, Stream: true, IncludeUsage: true,
		Messages: []chat.Msg{{Role: "user", Text: "hello there", Tokens: -1}}}})
	if a.Status != 200 || a.Usage == nil || a.Usage.CompletionTokens != 40 {
		t.Fatalf("answer %+v", a)
	}
	if a.FirstContent != 2*time.Millisecond || len(a.ContentGaps) != 9 {
		t.Fatalf("first content %s, %d gaps: want 2ms and 9 (10 chunks of 4 tokens)", a.FirstContent, len(a.ContentGaps))
	}
	for _, g := range a.ContentGaps {
		if math.Abs(float64(g-500*time.Microsecond)) > 1 {
			t.Fatalf("gap %s, want 0.5ms", g)
		}
	}
	if got := now.Sub(time.Unix(0, 0)); got != 2*time.Millisecond+9*500*time.Microsecond {
		t.Fatalf("the answer took %s of the clock, want 6.5ms", got)
	}
}

type fakeClock struct{ t *time.Time }

func (c fakeClock) Now() time.Time { return *c.t }

// TestCalibratedCapacity: a calibration that measured a capacity makes the
// mock a provisioned deployment of that size (utilization header, 429 with
// retry-after-ms past it) unless the mock sets its own ptu_tpm.
func TestCalibratedCapacity(t *testing.T) {
	t.Parallel()
	c := calibrated()
	c.Calibrated.Deployments[0].Utilization = &mockllm.UtilizationFit{Points: 20, PctPerKTPM: 10, CapacityTPM: 400}
	url := serve(t, c)
	big := strings.Replace(body, `"max_tokens":200`, `"max_tokens":300`, 1)
	resp, _, err := call(t, url, big) // prompt + 300 charged of 400, settled to prompt + 150
	if err != nil || resp.StatusCode != 200 || resp.Header.Get(mockllm.UtilizationHeader) == "" {
		t.Fatalf("first request: %v %v, utilization %q", err, resp, resp.Header.Get(mockllm.UtilizationHeader))
	}
	resp, _, err = call(t, url, big)
	if err != nil || resp.StatusCode != 429 || resp.Header.Get("retry-after-ms") == "" {
		t.Fatalf("second request past the measured 400 TPM: %v %v", err, resp)
	}
	c.PTUTPM = 100000
	url = serve(t, c)
	for range 2 {
		if resp, _, err := call(t, url, big); err != nil || resp.StatusCode != 200 {
			t.Fatalf("with ptu_tpm set: %v %v", err, resp)
		}
	}
}

// TestCalibrationWithoutLatency: a calibration of answers that were not
// streamed holds no latency fits; the mock keeps its configured delays and
// takes only the completion lengths from it.
func TestCalibrationWithoutLatency(t *testing.T) {
	t.Parallel()
	c := calibrated()
	d := c.Calibrated.Deployments[0]
	d.TTFT, d.ITL = mockllm.LatencyModel{Residuals: flat(0)}, mockllm.LatencyModel{Residuals: flat(0)}
	c.FirstTokenDelay = 7 * time.Millisecond
	now := time.Unix(0, 0)
	c.Clock = fakeClock{&now}
	c.Sleep = func(_ context.Context, d time.Duration) error { now = now.Add(d); return nil }
	a := mockllm.New(c).Call(context.Background(), &chat.Call{Body: chat.Body{Model: "gpt-4o-mini", MaxTokens: 80, Stream: true, IncludeUsage: true,
		Messages: []chat.Msg{{Role: "user", Text: "hello there", Tokens: -1}}}})
	if a.Status != 200 || a.Usage.CompletionTokens != 40 || a.FirstChunk != 7*time.Millisecond {
		t.Fatalf("answer of %d completion tokens, first chunk at %s; want 40 and the configured 7ms", a.Usage.CompletionTokens, a.FirstChunk)
	}
}
