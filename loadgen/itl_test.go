package loadgen

import (
	"strings"
	"testing"
	"time"
)

// TestReadStreamGaps: the stream reader times each content chunk: the
// first is the TTFT, and every later one gives the gap since the one
// before; role, finish and usage chunks are not content and give none.
func TestReadStreamGaps(t *testing.T) {
	t.Parallel()
	body := strings.Join([]string{
		`data: {"choices":[{"delta":{"role":"assistant","content":""}}]}`,
		`data: {"choices":[{"delta":{"content":"the model"}}]}`,
		`data: {"choices":[{"delta":{"content":" answers"}}]}`,
		`data: {"choices":[{"delta":{"content":" with"}}]}`,
		`data: {"choices":[{"delta":{},"finish_reason":"stop"}]}`,
		`data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":4}}`,
		`data: [DONE]`, ``}, "\n\n")
	// the reader asks the clock once per content chunk: at 100, 130 and 190 ms
	times := []time.Duration{100 * time.Millisecond, 130 * time.Millisecond, 190 * time.Millisecond}
	since := func(time.Time) time.Duration {
		d := times[0]
		times = times[1:]
		return d
	}
	a := &attempt{}
	if err := readStreamSince(strings.NewReader(body), a, &reply{}, since); err != nil {
		t.Fatal(err)
	}
	if a.ttft != 100*time.Millisecond || len(a.gaps) != 2 || a.gaps[0] != 30*time.Millisecond || a.gaps[1] != 60*time.Millisecond {
		t.Errorf("ttft %v gaps %v, want 100ms and [30ms 60ms]", a.ttft, a.gaps)
	}
}
