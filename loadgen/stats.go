package loadgen

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latency histograms record microseconds from 1 µs to 10 minutes with 3
// significant digits.
const (
	histMin     = 1
	histMax     = int64(10 * time.Minute / time.Microsecond)
	histSigFigs = 3
)

// PersonaStats is what one persona's callers saw.
type PersonaStats struct {
	Persona string `json:"persona"`
	Team    string `json:"team"`
	// Sent counts HTTP attempts, retries included.
	Sent int64 `json:"sent"`
	// Responses counts attempts that got an HTTP answer.
	Responses int64 `json:"responses"`
	OK        int64 `json:"ok"`
	Throttled int64 `json:"throttled"` // 429s received
	Errors    int64 `json:"errors"`    // other statuses and transport errors
	Retries   int64 `json:"retries"`
	// GaveUp counts requests abandoned after their last 429 (no retries left
	// or the run ended before Retry-After).
	GaveUp int64 `json:"gave_up"`
	// ThrottledWithRetryAfter counts 429s that carried a Retry-After header.
	ThrottledWithRetryAfter int64 `json:"throttled_with_retry_after"`
	PromptTokens            int64 `json:"prompt_tokens"`
	CompletionTokens        int64 `json:"completion_tokens"`
	// LatencyP50MS and LatencyP99MS are end-to-end latencies of answered attempts.
	LatencyP50MS float64 `json:"latency_p50_ms"`
	LatencyP99MS float64 `json:"latency_p99_ms"`
}

// collector accumulates one persona's stats; safe for concurrent use.
type collector struct {
	mu   sync.Mutex
	s    PersonaStats
	hist *hdrhistogram.Histogram
}

func newCollector(p *Persona) *collector {
	return &collector{
		s:    PersonaStats{Persona: p.Name, Team: p.Team},
		hist: hdrhistogram.New(histMin, histMax, histSigFigs),
	}
}

// outcome is one attempt's result as the caller saw it.
type outcome struct {
	status           int // 0 on transport error
	latency          time.Duration
	retryAfter       bool
	promptTokens     int64
	completionTokens int64
}

func (c *collector) sent() {
	c.mu.Lock()
	c.s.Sent++
	c.mu.Unlock()
}

func (c *collector) record(o outcome) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o.status == 0 {
		c.s.Errors++
		return
	}
	c.s.Responses++
	_ = c.hist.RecordValue(max(o.latency.Microseconds(), histMin))
	switch {
	case o.status == 200:
		c.s.OK++
		c.s.PromptTokens += o.promptTokens
		c.s.CompletionTokens += o.completionTokens
	case o.status == 429:
		c.s.Throttled++
		if o.retryAfter {
			c.s.ThrottledWithRetryAfter++
		}
	default:
		c.s.Errors++
	}
}

func (c *collector) add(f func(s *PersonaStats)) {
	c.mu.Lock()
	f(&c.s)
	c.mu.Unlock()
}

// snapshot returns a copy of the stats with percentiles filled in.
func (c *collector) snapshot() PersonaStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.s
	s.LatencyP50MS = float64(c.hist.ValueAtQuantile(50)) / 1000
	s.LatencyP99MS = float64(c.hist.ValueAtQuantile(99)) / 1000
	return s
}
