package record

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// AppendJSON appends r as json.Marshal encodes it, byte for byte, without
// reflection: a simulation writes hundreds of thousands of records a
// second. Strings that need escaping, dimensions, non-finite numbers and
// times outside years 0-9999 take encoding/json's own path.
func (r *Record) AppendJSON(b []byte) ([]byte, error) {
	if y := r.TS.Year(); y < 0 || y > 9999 || !finite(r.LatencyMS, r.BackendLatencyMS, r.TTFTMS) ||
		r.UtilizationPct != nil && !finite(*r.UtilizationPct) || !attemptsFinite(r.BackendAttempts) {
		return appendMarshal(b, r)
	}
	b = append(b, `{"schema":`...)
	b = strconv.AppendInt(b, int64(r.Schema), 10)
	b = append(b, `,"ts":"`...)
	b = r.TS.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	for _, f := range [...]struct{ key, v string }{
		{`,"request_id":`, r.RequestID}, {`,"run_id":`, r.RunID}, {`,"gateway_id":`, r.GatewayID},
		{`,"subscription_id":`, r.SubscriptionID}, {`,"product":`, r.Product}, {`,"team":`, r.Team},
		{`,"user_id":`, r.UserID}, {`,"client_ip":`, r.ClientIP}, {`,"counter_key":`, r.CounterKey},
		{`,"api":`, r.API}, {`,"model":`, r.Model}, {`,"backend":`, r.Backend}, {`,"backend_tier":`, r.BackendTier},
	} {
		b = appendString(append(b, f.key...), f.v)
	}
	for _, f := range [...]struct {
		key string
		v   int64
	}{{`,"prompt_tokens":`, r.PromptTokens}, {`,"completion_tokens":`, r.CompletionTokens},
		{`,"total_tokens":`, r.TotalTokens}, {`,"cached_tokens":`, r.CachedTokens}} {
		b = strconv.AppendInt(append(b, f.key...), f.v, 10)
	}
	b = strconv.AppendBool(append(b, `,"tokens_estimated":`...), r.TokensEstimated)
	b = strconv.AppendInt(append(b, `,"status":`...), int64(r.Status), 10)
	b = appendString(append(b, `,"outcome":`...), string(r.Outcome))
	for _, f := range [...]struct {
		key string
		v   int64
	}{{`,"limit_tpm":`, r.LimitTPM}, {`,"remaining_tokens":`, r.RemainingTokens},
		{`,"remaining_quota_tokens":`, r.RemainingQuotaTokens}, {`,"retry_after_ms":`, r.RetryAfterMS}} {
		b = strconv.AppendInt(append(b, f.key...), f.v, 10)
	}
	b = appendFloat(append(b, `,"latency_ms":`...), r.LatencyMS)
	b = appendFloat(append(b, `,"backend_latency_ms":`...), r.BackendLatencyMS)
	b = appendFloat(append(b, `,"ttft_ms":`...), r.TTFTMS)
	b = strconv.AppendBool(append(b, `,"stream":`...), r.Stream)
	b = appendString(append(b, `,"scenario":`...), r.Scenario)
	b = appendString(append(b, `,"persona":`...), r.Persona)
	b = strconv.AppendInt(append(b, `,"attempt":`...), int64(r.Attempt), 10)
	if len(r.Dims) > 0 {
		dims, err := json.Marshal(r.Dims)
		if err != nil {
			return b, err
		}
		b = append(append(b, `,"dims":`...), dims...)
	}
	if r.UtilizationPct != nil {
		b = appendFloat(append(b, `,"utilization_pct":`...), *r.UtilizationPct)
	}
	if r.BackendAuth != "" {
		b = appendString(append(b, `,"backend_auth":`...), r.BackendAuth)
	}
	if r.Operation != "" {
		b = appendString(append(b, `,"operation":`...), r.Operation)
	}
	if len(r.BackendAttempts) > 0 {
		b = append(b, `,"backend_attempts":[`...)
		for i, a := range r.BackendAttempts {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(append(b, `{"backend":`...), a.Backend)
			b = strconv.AppendInt(append(b, `,"status":`...), int64(a.Status), 10)
			b = append(appendFloat(append(b, `,"latency_ms":`...), a.LatencyMS), '}')
		}
		b = append(b, ']')
	}
	if r.CachePromptTokens != 0 {
		b = strconv.AppendInt(append(b, `,"cache_prompt_tokens":`...), r.CachePromptTokens, 10)
	}
	if r.CacheCompletionTokens != 0 {
		b = strconv.AppendInt(append(b, `,"cache_completion_tokens":`...), r.CacheCompletionTokens, 10)
	}
	if r.EmbeddingTokens != 0 {
		b = strconv.AppendInt(append(b, `,"embedding_tokens":`...), r.EmbeddingTokens, 10)
	}
	if r.EmbeddingModel != "" {
		b = appendString(append(b, `,"embedding_model":`...), r.EmbeddingModel)
	}
	return append(b, '}'), nil
}

func attemptsFinite(as []Attempt) bool {
	for _, a := range as {
		if !finite(a.LatencyMS) {
			return false
		}
	}
	return true
}

func appendMarshal(b []byte, v any) ([]byte, error) {
	out, err := json.Marshal(v)
	return append(b, out...), err
}

func finite(fs ...float64) bool {
	for _, f := range fs {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
	}
	return true
}

// appendString appends s as a JSON string: as it is between quotes when
// encoding/json would not escape any of it (printable ASCII but for " \ <
// > &), else as encoding/json encodes it.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			out, _ := json.Marshal(s)
			return append(b, out...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendFloat appends a finite f as encoding/json does: the shortest
// decimal that reads back as f, in exponent form below 1e-6 and from 1e21
// on, with a one-digit exponent where it fits (1e-07 is written 1e-7).
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
