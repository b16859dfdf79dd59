package scenario

import (
	"errors"
	"strings"
	"testing"
)

// TestBoundsRefuseRunawayScenarios: values that validated before and then
// hung a run or exhausted its memory are refused, each at its
// file:line:column with the bound in the message.
func TestBoundsRefuseRunawayScenarios(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		from, to string // text replaced in validSrc
		wantLoc  string
		wantMsg  string
	}{
		// A billion conversations a second per user.
		{"rate 1e9/s", "rate: 30/min", "rate: 1e9/s", "t.yaml:18:11", "personas[0].rate: at most 10000/s"},
		{"rate 1e300/s", "rate: 30/min", "rate: 1e300/s", "t.yaml:18:11", "personas[0].rate: at most 10000/s"},
		// NaN compares false with every bound.
		{"rate NaN", "rate: 30/min", "rate: NaN", "t.yaml:18:11", "personas[0].rate: must be a finite number"},
		{"rate Inf", "rate: 30/min", "rate: +Inf/min", "t.yaml:18:11", "personas[0].rate: must be a finite number"},
		// Ten million users.
		{"count 1e7", "count: 2", "count: 10000000", "t.yaml:17:12", "personas[0].count: at most 10000"},
		// Within each persona's bounds, but not together.
		{"arrivals in all", "count: 2\n    rate: 30/min", "count: 10000\n    rate: 2/s", "t.yaml:13:3", "personas: at most 10000 arrivals/s in all"},
		// Zero means "unset" for these; written, it must not become the default.
		{"duration 0s", "duration: 30s", "duration: 0s", "t.yaml:2:11", "duration: must be > 0 (leave it out for the default, 60s)"},
		{"count 0", "count: 2", "count: 0", "t.yaml:17:12", "personas[0].count: must be >= 1"},
		{"context_tokens 0", "duration: 30s", "duration: 30s\ncontext_tokens: 0", "t.yaml:3:17", "context_tokens: must be >= 1"},
		{"duration a year", "duration: 30s", "duration: 8760h", "t.yaml:2:11", "duration: must be within [0s, 168h0m0s]"},
		// Token and think-time distributions: finite and bounded.
		{"prompt NaN", "prompt_tokens: 100", "prompt_tokens: .nan", "t.yaml:19:20", "personas[0].prompt_tokens.value: must be a finite number"},
		{"lognormal p95 Inf", "prompt_tokens: 100", "prompt_tokens: {dist: lognormal, median: 500, p95: .inf}", "t.yaml:19:56", "prompt_tokens.p95: must be a finite number"},
		{"think time a year", "    count: 2\n", "    count: 2\n    think_time: 31536000\n", "t.yaml:18:17", "personas[0].think_time.value: at most 86400"},
		{"gamma burstiness", "rate: 30/min", "rate: 30/min\n    arrival: gamma\n    burstiness: 1e-300", "t.yaml:20:17", "burstiness: must be within [0.01, 100]"},
		{"shape multiplier", "rate: 30/min", "rate: 30/min\n    shape: {kind: ramp, from: 1, to: .nan}", "t.yaml:19:38", "shape.to: must be a finite number"},
		{"mock delay", "duration: 30s", "duration: 30s\nmock: {per_token_delay: 1h}", "t.yaml:3:25", "mock.per_token_delay: must be within [0s, 1s]"},
		{"timeout 0s", "duration: 30s", "duration: 30s\ntarget: {timeout: 0s}", "t.yaml:3:19", "target.timeout: must be > 0 (leave it out for the default, 120s)"},
		{"timeout a day", "duration: 30s", "duration: 30s\ntarget: {timeout: 24h}", "t.yaml:3:19", "target.timeout: must be within [0s, 1h0m0s]"},
		// A backend's own mock: its delays and its rates.
		{"backend mock delay", "gateway:\n", "gateway:\n  backends: [{name: b, mock: {per_token_delay: 1h, error_rate: .nan}}]\n", "t.yaml:4:48", "gateway.backends[0].mock.per_token_delay: must be within [0s, 1s]"},
		{"backend mock NaN", "gateway:\n", "gateway:\n  backends: [{name: b, mock: {error_rate: .nan}}]\n", "t.yaml:4:43", "gateway.backends[0].mock.error_rate: must be a finite number"},
		{"retries", "rate: 30/min", "rate: 30/min\n    max_retries: 1000000", "t.yaml:19:18", "max_retries: at most 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := strings.Replace(validSrc, tc.from, tc.to, 1)
			if src == validSrc {
				t.Fatalf("%q not found in the base scenario", tc.from)
			}
			_, err := Parse("t.yaml", []byte(src))
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("Parse: got %v, want scenario.Errors", err)
			}
			msg := es.Error()
			if !strings.Contains(msg, tc.wantLoc+": ") || !strings.Contains(msg, tc.wantMsg) {
				t.Fatalf("error %q: want %s and %q", msg, tc.wantLoc, tc.wantMsg)
			}
		})
	}
}

// TestBoundsBatch: a batch job's size, workers and repeat interval.
func TestBoundsBatch(t *testing.T) {
	t.Parallel()
	const batch = `personas:
  - name: b
    kind: batch
    key: k
    requests: 100
    concurrency: 10
    prompt_tokens: 10
    completion_tokens: 10
target: {url: "http://127.0.0.1:1"}
`
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"requests", "requests: 100", "requests: 100000000", "t.yaml:5:15: personas[0].requests: at most 10000000"},
		{"workers", "concurrency: 10", "concurrency: 10000\n    count: 2", "t.yaml:2:3: personas: at most 10000 batch workers in all"},
		// 5,000 s jobs at 200/s started every second: 60 overlap in the
		// default minute, 12,000/s.
		{"overlapping jobs", "requests: 100\n    concurrency: 10", "requests: 1000000\n    rate: 200/s\n    every: 1s", "t.yaml:2:3: personas: at most 10000 arrivals/s in all (Σ count × rate × shape peak), got 12000/s"},
		{"every 1ns", "requests: 100", "requests: 100\n    every: 1ns", "t.yaml:6:12: personas[0].every: must be within [1s, 168h0m0s]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("t.yaml", []byte(strings.Replace(batch, tc.from, tc.to, 1)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse: got %v, want %q", err, tc.want)
			}
		})
	}
}
