package loadgen

import "time"

// Observation is one attempt as the caller saw it, handed to
// Options.Observe when its answer (or failure) is complete.
type Observation struct {
	// Persona and Model name the caller and the deployment (or model) asked for.
	Persona, Model string
	// Sent is when the attempt was sent.
	Sent time.Time
	// Status is the HTTP status, 0 when no answer came.
	Status int
	// MaxTokens is the max_tokens asked for.
	MaxTokens int64
	// PromptTokens and CompletionTokens are the answer's usage (200s).
	PromptTokens, CompletionTokens int64
	// Streamed is set when the answer was a stream: TTFT is then the time
	// to the first content chunk and Gaps the times between content chunks.
	Streamed bool
	TTFT     time.Duration
	Gaps     []time.Duration
	// Latency is from the send to the end of the answer.
	Latency time.Duration
	// Utilization is the azure-openai-deployment-utilization the answer
	// carried, in percent; -1 when none.
	Utilization float64
	// RetryAfter is what a 429 asked to wait; HasRetryAfter whether it said.
	RetryAfter    time.Duration
	HasRetryAfter bool
}

// observe hands attempt a of c to Options.Observe, when set.
func (e *engine) observe(c *call, a *attempt, maxTokens int64, r reply) {
	if e.opts.Observe == nil {
		return
	}
	o := Observation{Persona: c.p.Name, Model: c.model, Sent: a.sent, Status: a.status, MaxTokens: maxTokens,
		PromptTokens: a.usage.PromptTokens, CompletionTokens: a.usage.CompletionTokens, Streamed: a.streamed,
		TTFT: a.ttft, Gaps: a.gaps, Latency: a.latency, Utilization: a.utilization}
	if a.status == 429 {
		o.RetryAfter, o.HasRetryAfter = r.retryAfter, a.retryAfter
	}
	e.opts.Observe(o)
}
