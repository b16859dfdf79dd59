// Package record defines the token-metric record: the one contract shared by
// the gateway (which writes records), the load generator (which tags them)
// and analytics (which reads them). One record is written per request, as one
// JSON object per line (JSONL), with snake_case names that are also the column
// names in DuckDB.
package record

import "time"

// SchemaVersion is the version written in every record's Schema field.
// Readers must keep accepting every older version.
const SchemaVersion = 1

// Outcome is the closed set of results a request can have.
type Outcome string

// Outcomes, as written in the record's outcome field.
const (
	OutcomeOK               Outcome = "ok"
	OutcomeThrottled        Outcome = "throttled"      // 429: tokens-per-minute exceeded
	OutcomeQuotaExceeded    Outcome = "quota_exceeded" // 403: token quota for the period exhausted
	OutcomeUnauthorized     Outcome = "unauthorized"   // 401: missing or invalid key / token
	OutcomeForbidden        Outcome = "forbidden"      // 403: authenticated but not allowed
	OutcomeBadRequest       Outcome = "bad_request"    // 4xx: malformed request, never sent to a backend
	OutcomeBackendError     Outcome = "backend_error"  // 5xx or transport error from the backend
	OutcomeBackendThrottled Outcome = "backend_throttled"
	OutcomeCircuitOpen      Outcome = "circuit_open" // 503: every backend's breaker is open
	OutcomeTimeout          Outcome = "timeout"
	OutcomeClientCancelled  Outcome = "client_cancelled"
	// OutcomeStoreUnavailable is a 503 given because the shared counter
	// store (Redis) could not be reached, so the token limits could not be
	// checked; no backend was called.
	OutcomeStoreUnavailable Outcome = "store_unavailable"
	// OutcomeCacheHit is a 200 answered from the semantic cache
	// (llm-semantic-cache-lookup): no model backend was called.
	OutcomeCacheHit Outcome = "cache_hit"
	// OutcomeReturnResponse is an answer a policy's return-response gave
	// (its status is the record's): no limit counted it, no backend was
	// called.
	OutcomeReturnResponse Outcome = "return_response"
)

// Outcomes lists every valid Outcome, in a stable order.
func Outcomes() []Outcome {
	return []Outcome{
		OutcomeOK, OutcomeThrottled, OutcomeQuotaExceeded, OutcomeUnauthorized,
		OutcomeForbidden, OutcomeBadRequest, OutcomeBackendError, OutcomeBackendThrottled,
		OutcomeCircuitOpen, OutcomeTimeout, OutcomeClientCancelled, OutcomeStoreUnavailable,
		OutcomeCacheHit, OutcomeReturnResponse,
	}
}

// Valid reports whether o is one of the closed set of outcomes.
func (o Outcome) Valid() bool {
	for _, v := range Outcomes() {
		if o == v {
			return true
		}
	}
	return false
}

// Record is one token-metric record. Field names follow the JSON tags, which
// are the contract; docs/architecture.md describes every field.
type Record struct {
	Schema int `json:"schema"`

	// TS is when the gateway received the request, UTC, nanosecond precision.
	TS time.Time `json:"ts"`

	RequestID string `json:"request_id"`
	RunID     string `json:"run_id"`
	GatewayID string `json:"gateway_id"`

	SubscriptionID string `json:"subscription_id"`
	Product        string `json:"product"`
	Team           string `json:"team"` // cost centre used for chargeback
	UserID         string `json:"user_id"`
	ClientIP       string `json:"client_ip"`

	// CounterKey is the resolved key of the token limit that applied.
	CounterKey string `json:"counter_key"`

	API         string `json:"api"`
	Model       string `json:"model"`
	Backend     string `json:"backend"`
	BackendTier string `json:"backend_tier"` // "ptu" or "payg"; empty when no backend was called

	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
	CachedTokens     int64 `json:"cached_tokens"`
	// TokensEstimated is true where the counts were estimated rather than
	// reported by the backend. A throttled record carries the tokens that
	// were asked for (estimated prompt + max_tokens) with this set.
	TokensEstimated bool `json:"tokens_estimated"`

	Status  int     `json:"status"`
	Outcome Outcome `json:"outcome"`

	// LimitTPM is the tokens-per-minute limit that applied; 0 means none.
	LimitTPM int64 `json:"limit_tpm"`
	// RemainingTokens is what was left in the TPM window after this request.
	RemainingTokens int64 `json:"remaining_tokens"`
	// RemainingQuotaTokens is what was left of the period quota; -1 when no quota applied.
	RemainingQuotaTokens int64 `json:"remaining_quota_tokens"`
	// RetryAfterMS is the retry interval advertised with a 429/403, in milliseconds.
	RetryAfterMS int64 `json:"retry_after_ms"`

	LatencyMS        float64 `json:"latency_ms"`
	BackendLatencyMS float64 `json:"backend_latency_ms"`
	TTFTMS           float64 `json:"ttft_ms"`
	Stream           bool    `json:"stream"`

	// Scenario, Persona and Attempt come from the load generator's
	// x-aiload-scenario, x-aiload-persona and x-aiload-attempt headers.
	Scenario string `json:"scenario"`
	Persona  string `json:"persona"`
	Attempt  int    `json:"attempt"`

	// Dims holds custom dimensions (name → value), as llm-emit-token-metric allows.
	Dims map[string]string `json:"dims,omitempty"`

	// UtilizationPct is the load a provisioned (PTU) backend reported in
	// its azure-openai-deployment-utilization header with this answer, in
	// percent (42.5 for "42.5%"); absent (nil) when it sent none, as
	// pay-as-you-go deployments do.
	UtilizationPct *float64 `json:"utilization_pct,omitempty"`

	// BackendAuth is how the gateway authenticated to Backend: api_key,
	// bearer, managed_identity or client_credentials; empty when no backend
	// was called (and in records written before it existed).
	BackendAuth string `json:"backend_auth,omitempty"`

	// Operation is the API operation called: chat (chat completions),
	// responses (the Responses API), completions (legacy completions) or
	// embeddings; empty in records written before it existed, which are
	// chat completions.
	Operation string `json:"operation,omitempty"`

	// BackendAttempts lists every backend attempt of the request in order,
	// the last one being the answer relayed: a PTU's 429 before a
	// pay-as-you-go answer shows here. Absent when no backend was called.
	BackendAttempts []Attempt `json:"backend_attempts,omitempty"`

	// CachePromptTokens and CacheCompletionTokens are, on a cache_hit, the
	// usage of the cached answer the caller got: tokens no model processed
	// for this request (prompt_tokens and completion_tokens are then 0).
	CachePromptTokens     int64 `json:"cache_prompt_tokens,omitempty"`
	CacheCompletionTokens int64 `json:"cache_completion_tokens,omitempty"`
	// EmbeddingTokens are the tokens of the semantic cache's embeddings call
	// for this request's lookup (hit or miss), EmbeddingModel the model it
	// called; absent when no lookup was made.
	EmbeddingTokens int64  `json:"embedding_tokens,omitempty"`
	EmbeddingModel  string `json:"embedding_model,omitempty"`
}

// Attempt is one backend attempt of a request.
type Attempt struct {
	// Backend is the backend's name.
	Backend string `json:"backend"`
	// Status is the backend's HTTP status; 0 when it gave none (the
	// connection failed or the attempt timed out).
	Status int `json:"status"`
	// LatencyMS is the time from sending the attempt to its answer's end
	// (for an attempt that was not relayed, to its response headers).
	LatencyMS float64 `json:"latency_ms"`
}
