// Package calibrate measures how a deployment answers (time to first
// token and inter-token latency against prompt and completion length,
// completion lengths against max_tokens, utilization against load, 429s
// and their retry-after) and writes it as a calibration file that a mock
// backend answers by (`mock: {calibration: …}`). Run sends a modest,
// bounded, open-loop load for the purpose (aiload calibrate); a Recorder
// keeps the same measurements from any load generator run (aiload run
// --record).
package calibrate

import (
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/loadgen"
)

// Bounds of what a Recorder keeps.
const (
	// MaxSamples is how many attempts a Recorder keeps (a uniform sample,
	// reservoir-drawn, beyond that).
	MaxSamples = 20000
	// MaxGapsPerSample is how many inter-token gaps it keeps of one
	// attempt (evenly spaced through the stream beyond that).
	MaxGapsPerSample = 256
)

// sample is one observed attempt, reduced.
type sample struct {
	model            string
	sent, end        time.Time
	status           int
	prompt, maxTok   int64
	completion       int64
	streamed         bool
	ttft             float64   // ms
	gaps             []float32 // ms
	chunks           int
	utilization      float64
	retryAfter       float64 // ms, 429s
	retryAfterStated bool
}

// Recorder keeps observed attempts for a calibration. Its Observe is
// safe for concurrent use; pass it as loadgen.Options.Observe.
type Recorder struct {
	mu      sync.Mutex
	rng     *rand.Rand
	seen    int64
	samples []sample
	start   time.Time
}

// NewRecorder returns an empty Recorder; seed draws its reservoir sample.
func NewRecorder(seed uint64) *Recorder {
	return &Recorder{rng: rand.New(rand.NewPCG(seed, 0x63616c))}
}

// Observe keeps one attempt. Attempts without an answer (status 0) are
// not measurements of the deployment and are left out.
func (r *Recorder) Observe(o loadgen.Observation) {
	if o.Status == 0 {
		return
	}
	s := sample{model: o.Model, sent: o.Sent, end: o.Sent.Add(o.Latency), status: o.Status, prompt: o.PromptTokens,
		maxTok: o.MaxTokens, completion: o.CompletionTokens, streamed: o.Streamed,
		ttft: ms(o.TTFT), utilization: o.Utilization, chunks: len(o.Gaps) + 1}
	if o.Status == 429 {
		s.retryAfter, s.retryAfterStated = ms(o.RetryAfter), o.HasRetryAfter
	}
	s.gaps = strided(o.Gaps, MaxGapsPerSample)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.start.IsZero() || o.Sent.Before(r.start) {
		r.start = o.Sent
	}
	r.seen++
	if len(r.samples) < MaxSamples {
		r.samples = append(r.samples, s)
		return
	}
	if j := r.rng.Int64N(r.seen); j < MaxSamples {
		r.samples[j] = s
	}
}

// Count returns how many attempts were observed.
func (r *Recorder) Count() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// strided keeps at most n of gaps, evenly spaced, in milliseconds.
func strided(gaps []time.Duration, n int) []float32 {
	k := len(gaps)
	step := 1.0
	if k > n {
		step = float64(k) / float64(n)
		k = n
	}
	out := make([]float32, k)
	for i := range out {
		out[i] = float32(ms(gaps[int(float64(i)*step)]))
	}
	return out
}

// Calibration fits what was observed, one deployment per model asked
// for; profile labels them (may be empty).
func (r *Recorder) Calibration(src mockllm.CalibrationSource, profile string) *mockllm.Calibration {
	r.mu.Lock()
	samples := slices.Clone(r.samples)
	start := r.start
	r.mu.Unlock()
	sort.Slice(samples, func(i, j int) bool { return samples[i].end.Before(samples[j].end) })
	if src.Started == "" && !start.IsZero() {
		src.Started = start.UTC().Format(time.RFC3339)
	}
	cal := &mockllm.Calibration{Version: mockllm.CalibrationVersion, Source: src}
	byModel := map[string][]sample{}
	var models []string
	for _, s := range samples {
		if _, ok := byModel[s.model]; !ok {
			models = append(models, s.model)
		}
		byModel[s.model] = append(byModel[s.model], s)
	}
	slices.Sort(models)
	for _, m := range models {
		d := deployment(m, byModel[m], start)
		d.Profile = profile
		cal.Deployments = append(cal.Deployments, d)
	}
	return cal
}
