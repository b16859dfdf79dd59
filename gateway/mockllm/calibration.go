package mockllm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// CalibrationVersion is the version of the calibration file format.
const CalibrationVersion = 1

// QuantileCount is how many quantiles a calibration's tables hold: the
// 0th to the 100th percentile, one per percent.
const QuantileCount = 101

// Calibration is what `aiload calibrate` (or `aiload run --record`)
// measured of one or more deployments: a calibration file. A backend's
// `mock: {calibration: calib.yaml}` answers like the deployment it names.
type Calibration struct {
	// Version is the file format (CalibrationVersion).
	Version int `yaml:"version" json:"version"`
	// Source says how the measurements were made.
	Source CalibrationSource `yaml:"source" json:"source"`
	// Deployments are the measured deployments, by name.
	Deployments []*DeploymentCalibration `yaml:"deployments" json:"deployments"`
}

// CalibrationSource says where and when a calibration was measured.
type CalibrationSource struct {
	// Target is the base URL the load went to.
	Target string `yaml:"target" json:"target,omitempty"`
	// Started is when the load started (RFC 3339, UTC).
	Started string `yaml:"started" json:"started,omitempty"`
	// Seconds is how long the load ran.
	Seconds float64 `yaml:"seconds" json:"seconds,omitempty"`
	// Command is `calibrate` or `run`.
	Command string `yaml:"command" json:"command,omitempty"`
}

// DeploymentCalibration is one deployment's measured behaviour.
type DeploymentCalibration struct {
	// Name is the deployment (or model) the requests named.
	Name string `yaml:"name" json:"name"`
	// Profile is the request shape sent (balanced, context, generation),
	// empty when the load had its own shapes.
	Profile string `yaml:"profile,omitempty" json:"profile,omitempty"`
	// Requests counts attempts answered (any status); OK those answered 200.
	Requests int64 `yaml:"requests" json:"requests"`
	OK       int64 `yaml:"ok" json:"ok"`
	// TTFT is the time to the first content token of streamed answers, in
	// milliseconds, as a function of the prompt's length.
	TTFT LatencyModel `yaml:"ttft_ms" json:"ttft_ms"`
	// ITL is the time between consecutive content chunks of streamed
	// answers, in milliseconds, as a function of prompt and completion length.
	ITL LatencyModel `yaml:"itl_ms" json:"itl_ms"`
	// TokensPerChunk is the mean completion tokens per content chunk.
	TokensPerChunk float64 `yaml:"tokens_per_chunk" json:"tokens_per_chunk"`
	// Completion is the completion length against max_tokens.
	Completion CompletionModel `yaml:"completion" json:"completion"`
	// Utilization is the deployment's reported utilization against the
	// load; nil when no answer carried azure-openai-deployment-utilization.
	Utilization *UtilizationFit `yaml:"utilization,omitempty" json:"utilization,omitempty"`
	// Throttling is what the 429s said.
	Throttling Throttling `yaml:"throttling" json:"throttling"`
	// Points are the measured requests the fits were made from.
	Points []CalibrationPoint `yaml:"points,omitempty" json:"points"`
}

// LatencyModel is a latency fitted by linear least squares,
//
//	ms = intercept + per_prompt_token·prompt + per_completion_token·completion + residual
//
// with the residual drawn from the fit's residual quantiles (milliseconds,
// 0th to 100th percentile), so a draw has the spread that was measured.
type LatencyModel struct {
	Intercept          float64 `yaml:"intercept" json:"intercept"`
	PerPromptToken     float64 `yaml:"per_prompt_token" json:"per_prompt_token"`
	PerCompletionToken float64 `yaml:"per_completion_token" json:"per_completion_token"`
	// ResidualStdDev is the residuals' standard deviation (information).
	ResidualStdDev float64 `yaml:"residual_stddev" json:"residual_stddev"`
	// Residuals are the residuals' percentiles 0–100 (QuantileCount values).
	Residuals []float64 `yaml:"residual_quantiles,flow" json:"residual_quantiles"`
	// Observed summarises the measured values themselves.
	Observed Summary `yaml:"observed" json:"observed"`
}

// Summary is a measured distribution in brief.
type Summary struct {
	Count int64   `yaml:"count" json:"count"`
	Mean  float64 `yaml:"mean" json:"mean"`
	P50   float64 `yaml:"p50" json:"p50"`
	P95   float64 `yaml:"p95" json:"p95"`
	P99   float64 `yaml:"p99" json:"p99"`
	Max   float64 `yaml:"max" json:"max"`
}

// CompletionModel is the completion length as a share of max_tokens.
type CompletionModel struct {
	// Ratios are the percentiles 0–100 of completion_tokens / max_tokens.
	Ratios []float64 `yaml:"ratio_quantiles,flow" json:"ratio_quantiles"`
	// AtMaxShare is the share of answers that used all of max_tokens.
	AtMaxShare float64 `yaml:"at_max_share" json:"at_max_share"`
	// Observed summarises the completion lengths in tokens.
	Observed Summary `yaml:"observed" json:"observed"`
}

// UtilizationFit is utilization_pct = intercept_pct + pct_per_ktpm·(load in
// thousands of tokens per minute), load being the prompt + completion
// tokens answered in the minute before each answer.
type UtilizationFit struct {
	Points       int     `yaml:"points" json:"points"`
	InterceptPct float64 `yaml:"intercept_pct" json:"intercept_pct"`
	PctPerKTPM   float64 `yaml:"pct_per_ktpm" json:"pct_per_ktpm"`
	// CapacityTPM is the load at which the fit reaches 100 %; 0 when the
	// fit does not rise with the load.
	CapacityTPM int64 `yaml:"capacity_tpm" json:"capacity_tpm"`
	// Observed summarises the reported utilization in percent.
	Observed Summary `yaml:"observed" json:"observed"`
}

// Throttling is what the deployment's 429s said.
type Throttling struct {
	// Count is the 429s; Share their part of the answers.
	Count int64   `yaml:"count" json:"count"`
	Share float64 `yaml:"share" json:"share"`
	// RetryAfter is the retry-after-ms (or Retry-After) the 429s carried, in ms.
	RetryAfter Summary `yaml:"retry_after_ms" json:"retry_after_ms"`
	// LoadTPM is the median load (tokens per minute) when they came.
	LoadTPM float64 `yaml:"load_tpm" json:"load_tpm"`
}

// CalibrationPoint is one measured attempt.
type CalibrationPoint struct {
	// At is seconds since the load started.
	At               float64 `yaml:"t_s" json:"t_s"`
	Status           int     `yaml:"status" json:"status"`
	PromptTokens     int64   `yaml:"prompt" json:"prompt"`
	MaxTokens        int64   `yaml:"max_tokens" json:"max_tokens"`
	CompletionTokens int64   `yaml:"completion" json:"completion"`
	TTFT             float64 `yaml:"ttft_ms" json:"ttft_ms"`
	// ITL and ITLP95 are the mean and 95th percentile of the attempt's gaps.
	ITL    float64 `yaml:"itl_ms" json:"itl_ms"`
	ITLP95 float64 `yaml:"itl_p95_ms" json:"itl_p95_ms"`
	Chunks int     `yaml:"chunks" json:"chunks"`
	// Utilization is the reported utilization, -1 when none.
	Utilization float64 `yaml:"utilization_pct" json:"utilization_pct"`
	// LoadTPM is the tokens answered in the minute before this answer.
	LoadTPM    float64 `yaml:"load_tpm" json:"load_tpm"`
	RetryAfter float64 `yaml:"retry_after_ms" json:"retry_after_ms"`
}

// Deployment returns the calibration of the deployment named name, or the
// only one when the file holds one; nil when none fits.
func (c *Calibration) Deployment(name string) *DeploymentCalibration {
	if c == nil {
		return nil
	}
	for _, d := range c.Deployments {
		if d.Name == name {
			return d
		}
	}
	if len(c.Deployments) == 1 {
		return c.Deployments[0]
	}
	return nil
}

// quantile draws from a percentile table at uniform u in [0, 1),
// interpolating linearly between neighbouring percentiles.
func quantile(table []float64, u float64) float64 {
	if len(table) == 0 {
		return 0
	}
	if len(table) == 1 {
		return table[0]
	}
	x := u * float64(len(table)-1)
	i := int(x)
	if i >= len(table)-1 {
		return table[len(table)-1]
	}
	f := x - float64(i)
	return table[i] + f*(table[i+1]-table[i])
}

// Draw returns a latency in milliseconds for a request of prompt and
// completion tokens: the fit plus a residual drawn at u, never below 0.
func (m LatencyModel) Draw(prompt, completion int64, u float64) float64 {
	v := m.Intercept + m.PerPromptToken*float64(prompt) + m.PerCompletionToken*float64(completion) + quantile(m.Residuals, u)
	return max(v, 0)
}

// DrawCompletion returns a completion length for maxTokens, drawn at u
// from the ratio table, within [1, maxTokens].
func (c CompletionModel) DrawCompletion(maxTokens int64, u float64) int64 {
	r := quantile(c.Ratios, u)
	if len(c.Ratios) == 0 {
		r = 1
	}
	n := int64(math.Round(r * float64(maxTokens)))
	return min(max(n, 1), maxTokens)
}

// Validate checks a deployment's models, with field paths under prefix.
func (d *DeploymentCalibration) Validate(prefix string) []error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, &FieldError{Field: prefix + "." + field, Msg: fmt.Sprintf(format, a...)})
	}
	if d.Name == "" {
		bad("name", "must be set")
	}
	table := func(field string, t []float64, lo float64) {
		if len(t) != QuantileCount {
			bad(field, "must hold %d percentiles (0 to 100), got %d", QuantileCount, len(t))
			return
		}
		for i, v := range t {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < lo || (i > 0 && v < t[i-1]) {
				bad(field, "percentile %d (%g) must be a number >= %g and not below the one before", i, v, lo)
				return
			}
		}
	}
	table("ttft_ms.residual_quantiles", d.TTFT.Residuals, math.Inf(-1))
	table("itl_ms.residual_quantiles", d.ITL.Residuals, math.Inf(-1))
	table("completion.ratio_quantiles", d.Completion.Ratios, 0)
	if d.TokensPerChunk < 1 {
		bad("tokens_per_chunk", "must be >= 1, got %g", d.TokensPerChunk)
	}
	if u := d.Utilization; u != nil && u.CapacityTPM < 0 {
		bad("utilization.capacity_tpm", "must be >= 0, got %d", u.CapacityTPM)
	}
	return errs
}

// calPlan is a calibrated answer's pacing: the time to its first content
// chunk, the tokens of each content chunk, and the gap before each chunk
// after the first.
type calPlan struct {
	ttft  time.Duration
	sizes []int64
	gaps  []time.Duration
}

// total is the time from the request to the last chunk.
func (p *calPlan) total() time.Duration {
	t := p.ttft
	for _, g := range p.gaps {
		t += g
	}
	return t
}

// planFor draws a calibrated answer's pacing for prompt and completion
// tokens from rng.
func (d *DeploymentCalibration) planFor(prompt, completion int64, rng *rand.Rand) *calPlan {
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	p := &calPlan{ttft: ms(d.TTFT.Draw(prompt, 0, rng.Float64()))}
	chunks := max(int64(math.Round(float64(completion)/max(d.TokensPerChunk, 1))), 1)
	chunks = min(chunks, completion)
	for i := range chunks {
		// chunk i carries tokens [i·completion/chunks, (i+1)·completion/chunks)
		p.sizes = append(p.sizes, (i+1)*completion/chunks-i*completion/chunks)
		if i > 0 {
			p.gaps = append(p.gaps, ms(d.ITL.Draw(prompt, completion, rng.Float64())))
		}
	}
	return p
}
