// Package dashboard is aiload's live terminal dashboard: a bubbletea program
// that shows a run (or a running gateway) as it happens, and the plain
// progress lines printed instead when stdout is not a terminal.
//
// The dashboard knows nothing of the load generator or the gateway: it
// renders Snapshot values, plain data that arrive through a channel about
// once a second. Tally builds the gateway-side part of a Snapshot from
// token-metric records; callers add what only the load generator knows.
package dashboard

import "time"

// Phase is where a run is in its life.
type Phase string

// Phases, in order. PhaseDone is the last snapshot's phase; after it the
// snapshot channel is closed.
const (
	PhaseStarting Phase = "starting"
	PhaseRunning  Phase = "running"
	PhaseDraining Phase = "draining" // scheduling stopped, in-flight requests finishing
	PhaseWriting  Phase = "writing"  // log flushed, database and report being written
	PhaseDone     Phase = "done"     // everything written
	PhaseAttached Phase = "attached" // watching a gateway that runs on its own
	PhaseFailed   Phase = "failed"   // the run ended with an error (see Snapshot.Note)
)

// Snapshot is everything the dashboard shows at one moment. Zero values
// mean "not known" unless a field says otherwise.
type Snapshot struct {
	// At is when the snapshot was taken (wall clock of the producer).
	At time.Time `json:"at"`
	// Scenario names the run (or the gateway, when attached).
	Scenario string `json:"scenario"`
	// Source says where the numbers come from, e.g. "gateway http://127.0.0.1:8080".
	Source string `json:"source,omitempty"`
	Phase  Phase  `json:"phase"`
	// Interrupted is true once the load was stopped before its duration
	// (q, Ctrl-C, a signal).
	Interrupted bool `json:"interrupted,omitempty"`
	// Note is a line of status text shown under the header (e.g. what is
	// being written while the run stops).
	Note string `json:"note,omitempty"`
	// External is true when the load goes to an external target: the run
	// writes no database or report (the records are that gateway's), only
	// summary.json.
	External bool `json:"external,omitempty"`
	// Elapsed is the time since the load started; Total is the scenario's
	// duration, 0 when open-ended (an attached gateway).
	Elapsed time.Duration `json:"elapsed_ns"`
	Total   time.Duration `json:"total_ns"`

	// RequestRate is requests per second and TokenRate tokens per second
	// (prompt + completion of answered requests), both over the last few
	// seconds. The dashboard draws their history as sparklines.
	RequestRate float64 `json:"request_rate"`
	TokenRate   float64 `json:"token_rate"`

	// Totals is the run so far, summed over every subscription.
	Totals Totals `json:"totals"`
	// Client is what the callers saw, when a load generator is attached:
	// retries and abandoned requests are invisible to the gateway.
	Client *ClientTotals `json:"client,omitempty"`

	Teams    []TeamRow    `json:"teams"`
	Backends []BackendRow `json:"backends"`
	Personas []PersonaRow `json:"personas"`
	// Events are the latest noteworthy events, newest first.
	Events []Event `json:"events"`
}

// Totals are gateway-side counts over the whole run.
type Totals struct {
	Requests  int64 `json:"requests"`
	OK        int64 `json:"ok"`
	Throttled int64 `json:"throttled"` // 429s for TPM
	Errors    int64 `json:"errors"`    // every other non-ok outcome
	Tokens    int64 `json:"tokens"`    // prompt + completion of ok requests
	// CostUSD is the pay-as-you-go list-price equivalent of Tokens; 0 with
	// CostKnown false when no price was known for a model.
	CostUSD   float64 `json:"cost_usd"`
	CostKnown bool    `json:"cost_known"`
	// RecordsDropped counts token-metric records lost because the record
	// log could not take them (a full disk): requests served unmetered.
	RecordsDropped int64 `json:"records_dropped,omitempty"`
	// CacheLookups and CacheHits count the semantic cache's lookups and
	// the requests it answered (counted in OK too); CachedTokens are the
	// tokens the hits were served from the cache and CacheSavedUSD their
	// list-price equivalent.
	CacheLookups  int64   `json:"cache_lookups,omitempty"`
	CacheHits     int64   `json:"cache_hits,omitempty"`
	CachedTokens  int64   `json:"cached_tokens,omitempty"`
	CacheSavedUSD float64 `json:"cache_saved_usd,omitempty"`
}

// ClientTotals are what the load generator's callers saw.
type ClientTotals struct {
	Sent      int64 `json:"sent"` // attempts, retries included
	OK        int64 `json:"ok"`
	Throttled int64 `json:"throttled"`
	Errors    int64 `json:"errors"`
	Retries   int64 `json:"retries"`
	GaveUp    int64 `json:"gave_up"` // requests abandoned after their last 429
	InFlight  int64 `json:"in_flight"`
}

// TeamRow is one subscription (with its team and product) in the overview.
type TeamRow struct {
	Team         string `json:"team"`
	Subscription string `json:"subscription"`
	Product      string `json:"product"`
	// TPMUsed is the tokens charged in the last 60 s to the subscription's
	// counter closest to its limit, TPMLimit that counter's limit (0 =
	// none), CounterKey its key value. Keys counts the subscription's
	// counters: 1 for a subscription-keyed limit, more when the limit is
	// per client IP, user or header value.
	TPMUsed    int64  `json:"tpm_used"`
	TPMLimit   int64  `json:"tpm_limit"`
	CounterKey string `json:"counter_key,omitempty"`
	Keys       int    `json:"keys,omitempty"`
	Requests   int64  `json:"requests"`
	// Throttled1m counts 429s in the last 60 s, ThrottledTotal since the start.
	Throttled1m    int64   `json:"throttled_1m"`
	ThrottledTotal int64   `json:"throttled_total"`
	Errors         int64   `json:"errors"`
	P50MS          float64 `json:"p50_ms"`
	P99MS          float64 `json:"p99_ms"`
	Tokens         int64   `json:"tokens"`
	CostUSD        float64 `json:"cost_usd"`
	CostKnown      bool    `json:"cost_known"`
}

// Breaker states of a backend's circuit breaker.
const (
	BreakerClosed   = "closed"
	BreakerOpen     = "open"
	BreakerHalfOpen = "half-open"
)

// BackendRow is one backend of the gateway's pool.
type BackendRow struct {
	Name string `json:"name"`
	Tier string `json:"tier"` // "ptu" or "payg"
	// Priority is the pool's priority group (1 = highest); 0 when unknown.
	Priority int   `json:"priority,omitempty"`
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
	// TPM is tokens served in the last 60 s; CapacityTPM the backend's
	// ceiling (a PTU deployment's), 0 when unknown.
	TPM         int64 `json:"tpm"`
	CapacityTPM int64 `json:"capacity_tpm,omitempty"`
	Tokens      int64 `json:"tokens"`
	// Share is this backend's share of all tokens served (0..1). For a PAYG
	// backend in a pool with PTU backends it is the spill-over share.
	Share float64 `json:"share"`
	// Breaker is BreakerClosed, BreakerOpen or BreakerHalfOpen; empty
	// when the gateway has no breaker for it or did not say.
	Breaker string `json:"breaker,omitempty"`
	Trips   int64  `json:"trips,omitempty"`
	// UtilizationCount counts the answers that carried the backend's
	// azure-openai-deployment-utilization (a provisioned deployment's own
	// load report); UtilizationAvg and UtilizationP95 are their average and
	// 95th percentile in percent. All 0 when it reported none.
	UtilizationCount int64   `json:"utilization_count,omitempty"`
	UtilizationAvg   float64 `json:"utilization_avg_pct,omitempty"`
	UtilizationP95   float64 `json:"utilization_p95_pct,omitempty"`
}

// Utilisation is TPM against CapacityTPM (0..1+), or -1 when the capacity
// is unknown.
func (b BackendRow) Utilisation() float64 {
	if b.CapacityTPM <= 0 {
		return -1
	}
	return float64(b.TPM) / float64(b.CapacityTPM)
}

// PersonaRow is one persona of the scenario.
type PersonaRow struct {
	Persona   string  `json:"persona"`
	Team      string  `json:"team"`
	Kind      string  `json:"kind"` // the load generator's persona kind, shown as it is; empty when unknown
	Requests  int64   `json:"requests"`
	OK        int64   `json:"ok"`
	Throttled int64   `json:"throttled"`
	Errors    int64   `json:"errors"`
	Retries   int64   `json:"retries"`
	P50MS     float64 `json:"p50_ms"`
	P99MS     float64 `json:"p99_ms"`
	// ITLP50MS and ITLP99MS are the inter-token latency of the persona's
	// streamed answers (time between content chunks), as its callers
	// measured it; 0 when it streamed nothing.
	ITLP50MS float64 `json:"itl_p50_ms,omitempty"`
	ITLP99MS float64 `json:"itl_p99_ms,omitempty"`
	// RunsPipelines is set for personas that run multi-step pipelines
	// (agents): their pipeline counts show even while 0.
	RunsPipelines bool `json:"runs_pipelines,omitempty"`
	// BehindNAT is set for personas whose users share egress addresses:
	// the addresses throttled show even for one address.
	BehindNAT bool `json:"behind_nat,omitempty"`
	// Agents: pipelines completed and broken (a step gave up).
	PipelinesDone   int64 `json:"pipelines_done,omitempty"`
	PipelinesBroken int64 `json:"pipelines_broken,omitempty"`
	// Batch jobs: jobs finished (BatchFailed of them with requests given
	// up) of the jobs started so far; BatchTotal 0 = no batch job yet.
	BatchDone   int64 `json:"batch_done,omitempty"`
	BatchTotal  int64 `json:"batch_total,omitempty"`
	BatchFailed int64 `json:"batch_failed,omitempty"`
	// ItemsDone counts a batch persona's requests that ended (answered or
	// given up) of ItemsTotal, the requests of the jobs started so far.
	ItemsDone  int64 `json:"items_done,omitempty"`
	ItemsTotal int64 `json:"items_total,omitempty"`
	// NAT'd users: egress IPs in use, and how many of them got a 429 in the
	// last 60 s.
	NATIPs          int `json:"nat_ips,omitempty"`
	NATIPsThrottled int `json:"nat_ips_throttled,omitempty"`
}

// EventKind classifies an Event.
type EventKind string

// Event kinds.
const (
	EventThrottled EventKind = "429"
	EventBreaker   EventKind = "breaker"
	EventError     EventKind = "error"
	EventInfo      EventKind = "info"
)

// Event is one line of the events view. Consecutive equal events within a
// second are merged into one with a Count.
type Event struct {
	At   time.Time `json:"at"`
	Kind EventKind `json:"kind"`
	// Who is the subscription, backend or persona concerned.
	Who   string `json:"who"`
	Text  string `json:"text"`
	Count int    `json:"count"`
}
