package loadgen

import (
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histograms record nanoseconds from 1 µs to 10 minutes with 3 significant
// digits (≤ 0.1 % quantisation), the unit HdrHistogram log tools expect.
const (
	histMin     = int64(time.Microsecond)
	histMax     = int64(10 * time.Minute)
	histSigFigs = 3
)

func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(histMin, histMax, histSigFigs) }

func recordDur(h *hdrhistogram.Histogram, d time.Duration) {
	_ = h.RecordValue(min(max(int64(d), histMin), histMax))
}

// Percentiles summarise one histogram, in milliseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p99_9"`
	Max   float64 `json:"max"`
}

// PercentilesOf summarises a histogram of nanoseconds in milliseconds.
func PercentilesOf(h *hdrhistogram.Histogram) Percentiles {
	if h.TotalCount() == 0 {
		return Percentiles{}
	}
	ms := func(v int64) float64 { return float64(v) / 1e6 }
	return Percentiles{
		Count: h.TotalCount(), Mean: h.Mean() / 1e6,
		P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)), P95: ms(h.ValueAtQuantile(95)),
		P99: ms(h.ValueAtQuantile(99)), P999: ms(h.ValueAtQuantile(99.9)), Max: ms(h.Max()),
	}
}

// Stats is what the callers of one persona (or one subscription) saw.
// Counts are cumulative; latencies are in milliseconds.
type Stats struct {
	// Name is the persona name or the subscription id.
	Name string `json:"name"`
	// Kind is the persona kind (empty for subscriptions).
	Kind string `json:"kind,omitempty"`
	Team string `json:"team,omitempty"`
	// Requests counts logical requests started (a request's retries are
	// attempts of the same request).
	Requests int64 `json:"requests"`
	// Sent counts HTTP attempts, retries included.
	Sent int64 `json:"sent"`
	// InFlight is attempts sent and not yet answered.
	InFlight int64 `json:"in_flight"`
	// Responses counts attempts that got an HTTP answer.
	Responses int64 `json:"responses"`
	OK        int64 `json:"ok"`
	Throttled int64 `json:"throttled"` // 429s received
	// ThrottledWithRetryAfter counts 429s that carried a Retry-After header.
	ThrottledWithRetryAfter int64 `json:"throttled_with_retry_after"`
	Errors                  int64 `json:"errors"` // other statuses and transport errors
	// Statuses counts attempts by HTTP status ("0" for transport errors).
	Statuses map[string]int64 `json:"statuses"`
	Retries  int64            `json:"retries"`
	// GaveUp counts requests that ended without a success: the policy said
	// fail, retries ran out, or the run ended before the retry was due.
	GaveUp int64 `json:"gave_up"`
	// Degraded counts requests answered after a cheaper retry (on_throttle: degrade).
	Degraded int64 `json:"degraded"`
	// LateStarts counts attempts sent more than Options.LateThreshold after
	// their intended time (the generator could not keep up).
	LateStarts int64 `json:"late_starts"`
	// RetryWaitSeconds is the time callers spent waiting before retries
	// (Retry-After or backoff).
	RetryWaitSeconds float64 `json:"retry_wait_seconds"`
	// Goodput counts requests that succeeded within the persona's SLO.
	Goodput          int64 `json:"goodput"`
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	// OutputTokensPerSec is the mean over successful attempts of completion
	// tokens per second of generation: after the first token when streamed,
	// over the whole attempt otherwise.
	OutputTokensPerSec float64 `json:"output_tokens_per_sec"`
	// Latency is per attempt, from the actual send to the end of the body.
	Latency Percentiles `json:"latency_ms"`
	// LatencyCorrected is per attempt, from its intended send time to the
	// end of the body (corrected for coordinated omission, as wrk2 does).
	LatencyCorrected Percentiles `json:"latency_corrected_ms"`
	// TTFT is per successful attempt, from the actual send to the first
	// content token when streamed, to the response headers otherwise (for a
	// non-streamed answer that is the whole generation).
	TTFT Percentiles `json:"ttft_ms"`
	// ITL is the inter-token latency of streamed answers: the time
	// between consecutive content chunks of successful streamed attempts
	// (one value per gap), from the load generator's reading of the stream.
	ITL Percentiles `json:"itl_ms"`
	// EndToEnd is per request, from the intended start of the first attempt
	// to the last answer, retries and waits included.
	EndToEnd Percentiles `json:"end_to_end_ms"`
	// ScheduleLag is per attempt, actual send minus intended send.
	ScheduleLag Percentiles `json:"schedule_lag_ms"`
	// Utilization is per answered attempt that carried a provisioned
	// deployment's azure-openai-deployment-utilization header (200s and
	// 429s alike), in percent: Mean is the average, P95 the 95th
	// percentile. Absent when no answer carried one (pay-as-you-go).
	Utilization Percentiles `json:"utilization_pct,omitzero"`
	// Pipelines is set for agents.
	Pipelines *PipelineStats `json:"pipelines,omitempty"`
	// Jobs is set for batch personas.
	Jobs *JobStats `json:"jobs,omitempty"`
}

// PipelineStats is what an agent persona's pipelines did.
type PipelineStats struct {
	Started int64 `json:"started"`
	// Completed pipelines ran every step (Degraded of them with a cheaper step).
	Completed int64 `json:"completed"`
	Degraded  int64 `json:"degraded"`
	// Broken pipelines stopped at a step that did not succeed; BrokenAt
	// counts them by the step's name.
	Broken   int64            `json:"broken"`
	BrokenAt map[string]int64 `json:"broken_at,omitempty"`
	// Unfinished pipelines were still running when the run ended.
	Unfinished int64 `json:"unfinished"`
	// ThrottleDelaySeconds is the extra wall time throttling caused: waiting
	// for retries, throttled attempts and proactive pauses.
	ThrottleDelaySeconds float64 `json:"throttle_delay_seconds"`
	// ProactivePauses counts pauses taken because remaining tokens were low.
	ProactivePauses int64 `json:"proactive_pauses"`
	// Duration is the wall time of completed pipelines.
	Duration Percentiles `json:"duration_ms"`
}

// JobStats is what a batch persona's jobs did.
type JobStats struct {
	Started int64 `json:"started"`
	// Completed jobs had every request succeed; Failed jobs finished with
	// some requests given up; Unfinished were cut by the end of the run.
	Completed  int64 `json:"completed"`
	Failed     int64 `json:"failed"`
	Unfinished int64 `json:"unfinished"`
	// Duration is the wall time of finished jobs.
	Duration Percentiles `json:"duration_ms"`
}

// collector accumulates one persona's or subscription's stats; safe for
// concurrent use.
type collector struct {
	mu    sync.Mutex
	s     Stats
	tps   float64 // sum of output tokens/s over OK attempts
	lat   *hdrhistogram.Histogram
	corr  *hdrhistogram.Histogram
	ttft  *hdrhistogram.Histogram
	itl   *hdrhistogram.Histogram // time between content chunks
	e2e   *hdrhistogram.Histogram
	lag   *hdrhistogram.Histogram
	util  *hdrhistogram.Histogram // utilization, percent × 10⁶ (TagUtilization)
	pdur  *hdrhistogram.Histogram
	ivl   *hdrhistogram.Histogram // corrected latency in the current interval
	spare *hdrhistogram.Histogram // the previous interval's, to record the next one
	prev  Stats                   // counts at the last interval
	since time.Time
}

func newCollector(name, kind, team string) *collector {
	c := &collector{
		s:   Stats{Name: name, Kind: kind, Team: team, Statuses: map[string]int64{}},
		lat: newHist(), corr: newHist(), ttft: newHist(), e2e: newHist(), lag: newHist(), ivl: newHist(), util: newHist(), itl: newHist(),
	}
	switch kind {
	case KindAgent:
		c.s.Pipelines = &PipelineStats{}
		c.pdur = newHist()
	case KindBatch:
		c.s.Jobs = &JobStats{}
		c.pdur = newHist()
	}
	return c
}

// attempt is one HTTP attempt as the caller saw it.
type attempt struct {
	intended, sent time.Time
	status         int // 0 on transport error
	ttft, latency  time.Duration
	retryAfter     bool
	streamed       bool // TTFT is the first content token, not the headers
	usage          usage
	// gaps are a streamed answer's times between consecutive content chunks.
	gaps []time.Duration
	// utilization is the deployment's azure-openai-deployment-utilization
	// in percent, -1 when the answer carried none.
	utilization float64
}

// utilizationUnit is how a percent of utilization is recorded in a histogram.
const utilizationUnit = 1e6

func (c *collector) send(a *attempt, lateAfter time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Sent++
	c.s.InFlight++
	lag := a.sent.Sub(a.intended)
	recordDur(c.lag, lag)
	if lag > lateAfter {
		c.s.LateStarts++
	}
}

func (c *collector) done(a *attempt) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.InFlight--
	c.s.Statuses[strconv.Itoa(a.status)]++
	if a.status == 0 {
		c.s.Errors++
		return
	}
	c.s.Responses++
	if a.utilization >= 0 {
		recordDur(c.util, time.Duration(a.utilization*utilizationUnit))
	}
	recordDur(c.lat, a.latency)
	corrected := a.sent.Add(a.latency).Sub(a.intended)
	recordDur(c.corr, corrected)
	recordDur(c.ivl, corrected)
	switch {
	case a.status == 200:
		c.s.OK++
		c.s.PromptTokens += a.usage.PromptTokens
		c.s.CompletionTokens += a.usage.CompletionTokens
		recordDur(c.ttft, a.ttft)
		for _, g := range a.gaps {
			recordDur(c.itl, g)
		}
		gen := a.latency
		if a.streamed && a.ttft < a.latency {
			gen = a.latency - a.ttft // tokens after the first, as streamed
		}
		if gen > 0 {
			c.tps += float64(a.usage.CompletionTokens) / gen.Seconds()
		}
	case a.status == 429:
		c.s.Throttled++
		if a.retryAfter {
			c.s.ThrottledWithRetryAfter++
		}
	default:
		c.s.Errors++
	}
}

func (c *collector) add(f func(s *Stats)) {
	c.mu.Lock()
	f(&c.s)
	c.mu.Unlock()
}

// runHistograms returns copies of the whole-run histograms that the .hlog's
// interval lines do not carry, by tag suffix (see RunHistogramTags).
func (c *collector) runHistograms() map[string]*hdrhistogram.Histogram {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]*hdrhistogram.Histogram{}
	for suffix, h := range map[string]*hdrhistogram.Histogram{
		TagLatency: c.lat, TagTTFT: c.ttft, TagEndToEnd: c.e2e, TagScheduleLag: c.lag, TagUtilization: c.util, TagITL: c.itl,
	} {
		if h.TotalCount() > 0 {
			out[suffix] = hdrhistogram.Import(h.Export())
		}
	}
	return out
}

// totalOf sums the collectors' counts and merges their histograms into t
// (a collector named "total", emptied first: a snapshot each second reuses
// its histograms rather than allocating eight new ones), so the total's
// percentiles are over every attempt of every persona.
func totalOf(t *collector, cs []*collector) Stats {
	t.s = Stats{Name: t.s.Name, Statuses: map[string]int64{}}
	t.tps = 0
	for _, h := range []*hdrhistogram.Histogram{t.lat, t.corr, t.ttft, t.e2e, t.lag, t.util, t.itl} {
		h.Reset()
	}
	for _, c := range cs {
		c.mu.Lock()
		t.s = Sum("total", []Stats{t.s, c.s})
		t.tps += c.tps
		t.lat.Merge(c.lat)
		t.corr.Merge(c.corr)
		t.ttft.Merge(c.ttft)
		t.e2e.Merge(c.e2e)
		t.lag.Merge(c.lag)
		t.util.Merge(c.util)
		t.itl.Merge(c.itl)
		c.mu.Unlock()
	}
	return t.snapshotLocked()
}

// request records a finished logical request.
func (c *collector) request(r *callResult, slo SLO) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !r.ok {
		c.s.GaveUp++
		return
	}
	e2e := r.end.Sub(r.intended)
	recordDur(c.e2e, e2e)
	if r.degraded {
		c.s.Degraded++
	}
	if (slo.Latency == 0 || e2e <= slo.Latency.D()) && (slo.TTFT == 0 || r.ttft <= slo.TTFT.D()) {
		c.s.Goodput++
	}
}

// duration records a finished pipeline's or job's wall time.
func (c *collector) duration(d time.Duration) {
	c.mu.Lock()
	recordDur(c.pdur, d)
	c.mu.Unlock()
}

// snapshot returns a copy of the stats with percentiles filled in.
func (c *collector) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snapshotLocked()
}

func (c *collector) snapshotLocked() Stats {
	s := c.s
	s.Statuses = maps.Clone(c.s.Statuses)
	s.Latency, s.LatencyCorrected = PercentilesOf(c.lat), PercentilesOf(c.corr)
	s.TTFT, s.EndToEnd, s.ScheduleLag = PercentilesOf(c.ttft), PercentilesOf(c.e2e), PercentilesOf(c.lag)
	s.Utilization, s.ITL = PercentilesOf(c.util), PercentilesOf(c.itl)
	if s.OK > 0 {
		s.OutputTokensPerSec = c.tps / float64(s.OK)
	}
	if c.s.Pipelines != nil {
		p := *c.s.Pipelines
		p.BrokenAt = maps.Clone(p.BrokenAt)
		p.Duration = PercentilesOf(c.pdur)
		s.Pipelines = &p
	}
	if c.s.Jobs != nil {
		j := *c.s.Jobs
		j.Duration = PercentilesOf(c.pdur)
		s.Jobs = &j
	}
	return s
}

// Interval is one persona's activity during the last snapshot interval.
type Interval struct {
	Name string `json:"name"`
	// Seconds is the interval's length.
	Seconds float64 `json:"seconds"`
	// SentPerSec, OKPerSec and ThrottledPerSec are attempt rates.
	SentPerSec      float64 `json:"sent_per_sec"`
	OKPerSec        float64 `json:"ok_per_sec"`
	ThrottledPerSec float64 `json:"throttled_per_sec"`
	// TokensPerMin is prompt + completion tokens of successful attempts,
	// scaled to a minute.
	TokensPerMin float64 `json:"tokens_per_min"`
	// LatencyCorrected is the interval's corrected latency percentiles.
	LatencyCorrected Percentiles `json:"latency_corrected_ms"`
}

// interval returns the stats and the activity since the last call, and
// the interval's corrected-latency histogram (for the .hlog; it is only
// valid until the next call, which records into it again), starting a new
// interval.
func (c *collector) interval(now time.Time) (Stats, Interval, *hdrhistogram.Histogram) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.snapshotLocked()
	secs := now.Sub(c.since).Seconds()
	iv := Interval{Name: s.Name, Seconds: secs, LatencyCorrected: PercentilesOf(c.ivl)}
	if secs > 0 {
		iv.SentPerSec = float64(s.Sent-c.prev.Sent) / secs
		iv.OKPerSec = float64(s.OK-c.prev.OK) / secs
		iv.ThrottledPerSec = float64(s.Throttled-c.prev.Throttled) / secs
		tok := s.PromptTokens + s.CompletionTokens - c.prev.PromptTokens - c.prev.CompletionTokens
		iv.TokensPerMin = float64(tok) * 60 / secs
	}
	// the interval's histogram is handed over and the spare one, emptied,
	// records the next interval
	h := c.ivl
	h.SetStartTimeMs(c.since.UnixMilli())
	h.SetEndTimeMs(now.UnixMilli())
	h.SetTag(HistogramTag(s.Name))
	if c.spare == nil {
		c.spare = newHist()
	}
	c.ivl, c.spare = c.spare, h
	c.ivl.Reset()
	c.prev, c.since = s, now
	return s, iv, h
}

// Sum adds the counts of several stats (percentiles are not summed).
func Sum(name string, all []Stats) Stats {
	t := Stats{Name: name, Statuses: map[string]int64{}}
	for _, s := range all {
		t.Requests += s.Requests
		t.Sent += s.Sent
		t.InFlight += s.InFlight
		t.Responses += s.Responses
		t.OK += s.OK
		t.Throttled += s.Throttled
		t.ThrottledWithRetryAfter += s.ThrottledWithRetryAfter
		t.Errors += s.Errors
		t.Retries += s.Retries
		t.GaveUp += s.GaveUp
		t.Degraded += s.Degraded
		t.LateStarts += s.LateStarts
		t.RetryWaitSeconds += s.RetryWaitSeconds
		t.Goodput += s.Goodput
		t.PromptTokens += s.PromptTokens
		t.CompletionTokens += s.CompletionTokens
		for k, v := range s.Statuses {
			t.Statuses[k] += v
		}
	}
	return t
}

// HistogramTag makes a persona name a valid .hlog tag: the format forbids
// commas and whitespace, which become underscores, as does a slash (it
// separates the persona from a whole-run histogram's suffix).
func HistogramTag(name string) string {
	return strings.Map(func(r rune) rune {
		if r == ',' || r == '/' || unicode.IsSpace(r) {
			return '_'
		}
		return r
	}, name)
}
