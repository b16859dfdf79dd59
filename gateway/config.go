// Package gateway is aiload's enforcement gateway: an HTTP server faithful
// to Azure API Management's AI policies. It authenticates callers by
// subscription key (and optionally a JWT), applies llm-token-limit policies
// per product and per API, forwards chat completions to a pool of backends
// with its own credentials, and writes one token-metric record per request.
package gateway

import (
	"strconv"
	"time"

	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/gateway/otelmetrics"
)

// Config is the gateway's configuration, as written under `gateway:` in a
// scenario or in a gateway.yaml file. See docs/gateway.md.
type Config struct {
	// ID names this gateway instance in records (default "gw-1").
	ID string `yaml:"id" json:"id,omitempty"`
	// MaxBodyBytes caps request bodies (default 1 MiB); larger bodies get 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes" json:"max_body_bytes,omitempty"`
	// TrustedProxyHops is how many X-Forwarded-For entries, counted from
	// the right, were added by proxies the gateway trusts; the client IP is
	// the entry just left of them (0: the connection's address).
	TrustedProxyHops int `yaml:"trusted_proxy_hops" json:"trusted_proxy_hops,omitempty"`
	// UserIDHeader is the request header that fills record.user_id; when
	// empty (or absent on a request) the JWT subject is used.
	UserIDHeader string `yaml:"user_id_header" json:"user_id_header,omitempty"`
	// Products are the tiers subscriptions belong to.
	Products []Product `yaml:"products" json:"products"`
	// APIs carry per-API token limits: "openai" (/v1/chat/completions) and
	// "azure-openai" (/openai/deployments/{d}/chat/completions).
	APIs []API `yaml:"apis" json:"apis,omitempty"`
	// Subscriptions are the callers' keys.
	Subscriptions []Subscription `yaml:"subscriptions" json:"subscriptions"`
	// JWT turns on validate-jwt for every request.
	JWT *JWTConfig `yaml:"jwt" json:"jwt,omitempty"`
	// RateLimits are rate-limit-by-key policies: calls per counter key in
	// a sliding window, checked before the token limits.
	RateLimits []RateLimitByKey `yaml:"rate_limits" json:"rate_limits,omitempty"`
	// Quotas are quota-by-key policies: calls and bandwidth per counter key
	// in fixed renewal periods, checked with the rate limits.
	Quotas []QuotaByKey `yaml:"quotas" json:"quotas,omitempty"`
	// CheckHeaders are check-header policies, applied in order after the
	// subscription key.
	CheckHeaders []CheckHeader `yaml:"check_headers" json:"check_headers,omitempty"`
	// EmitTokenMetric lists the llm-emit-token-metric dimensions written
	// into each record's dims.
	EmitTokenMetric *EmitTokenMetric `yaml:"emit_token_metric" json:"emit_token_metric,omitempty"`
	// Metrics shapes /metrics (see docs/metrics.md).
	Metrics *MetricsConfig `yaml:"metrics" json:"metrics,omitempty"`
	// OTLP exports token metrics (gen_ai.client.token.usage) to an
	// OpenTelemetry collector over OTLP/HTTP (see docs/metrics.md).
	OTLP *otelmetrics.Config `yaml:"otlp" json:"otlp,omitempty"`
	// SemanticCache is where the products', APIs' and operations'
	// semantic caches keep their answers (nil: in this gateway's memory).
	SemanticCache *CacheStore `yaml:"semantic_cache" json:"semantic_cache,omitempty"`
	// Backend is the single backend of older configs; used when Backends is empty.
	Backend Backend `yaml:"backend" json:"backend,omitempty"`
	// Backends is the backend pool.
	Backends []Backend `yaml:"backends" json:"backends,omitempty"`
	// APIM names API Management policy documents per scope and backends in
	// their ARM JSON shape, translated on load by package apimxml (see
	// docs/apim.md).
	APIM *APIMSources `yaml:"apim" json:"apim,omitempty"`
	// Identity is where Entra ID tokens for managed_identity and
	// client_credentials backends come from (nil: IMDS and Entra ID).
	Identity *Identity `yaml:"identity" json:"identity,omitempty"`
	// Inbound are set-header and return-response statements (each under a
	// condition) run in order after check-header and validate-jwt, before
	// the semantic cache and the limits; Outbound are set-headers run on
	// the answers of backends and of the semantic cache. See docs/gateway.md.
	Inbound  []Statement `yaml:"inbound" json:"inbound,omitempty"`
	Outbound []Statement `yaml:"outbound" json:"outbound,omitempty"`
	// Retry tries a backend's refusal again on the pool (<retry>); nil:
	// one attempt, whose answer the caller gets.
	Retry *Retry `yaml:"retry" json:"retry,omitempty"`
	// Wire is the shape of the gateway's own answers: openai answers
	// refusals as OpenAI does, apim as API Management does. Unset, it is
	// apim for a config with policy documents (apim:, --policy) and openai
	// otherwise. See docs/gateway.md.
	Wire string `yaml:"wire" json:"wire,omitempty"`
}

// APIMSources are API Management policy documents per scope. Paths are
// relative to the config file (or the scenario) that names them.
type APIMSources struct {
	// Global is the policy for all APIs.
	Global string `yaml:"global" json:"global,omitempty"`
	// Products maps a product name to its policy document.
	Products map[string]string `yaml:"products" json:"products,omitempty"`
	// APIs maps an API (openai, azure-openai) to its policy document.
	APIs map[string]string `yaml:"apis" json:"apis,omitempty"`
	// Operations maps "API/operation" (azure-openai/chat,
	// openai/embeddings) to its policy document.
	Operations map[string]string `yaml:"operations" json:"operations,omitempty"`
	// Backends is a JSON file of Microsoft.ApiManagement/service/backends
	// resources: backends and pools.
	Backends string `yaml:"backends" json:"backends,omitempty"`
	// NamedValues resolve {{name}} in the documents; a name not here is
	// read from the environment.
	NamedValues map[string]string `yaml:"named_values" json:"-"`
	// Dir is the folder relative paths are read from; loaders set it.
	Dir string `yaml:"-" json:"-"`
	// Translated is set once the documents are part of the config; a
	// gateway refuses a config whose documents were not translated.
	Translated bool `yaml:"-" json:"-"`
}

// Wire shapes of the gateway's own answers.
const (
	WireOpenAI = "openai"
	WireAPIM   = "apim"
)

// Identity points token requests at another identity endpoint.
type Identity struct {
	// Endpoint receives every identity request (IMDS's
	// /metadata/identity/oauth2/token, Entra ID's /{tenant}/oauth2/v2.0/token)
	// the gateway would send to Azure; for tests and offline runs.
	Endpoint string `yaml:"endpoint" json:"endpoint,omitempty"`
	// Mock starts aiload's built-in mock identity endpoint (aiload run,
	// gateway serve) and has the embedded mock backends of token-auth
	// backends require its tokens.
	Mock *IdentityMock `yaml:"mock" json:"mock,omitempty"`
}

// IdentityMock shapes the built-in mock identity endpoint.
type IdentityMock struct {
	// TokenLifetime is how long its tokens live (default 1h).
	TokenLifetime time.Duration `yaml:"token_lifetime" json:"token_lifetime,omitempty"`
}

// Product is a tier with its own token limits.
type Product struct {
	Name string `yaml:"name" json:"name"`
	// TokensPerMinute is shorthand for one apim-mode token limit keyed by
	// subscription, estimation off; 0 means none.
	TokensPerMinute int64 `yaml:"tokens_per_minute" json:"tokens_per_minute"`
	// TokenLimits are llm-token-limit policies applied to the product's
	// subscriptions, all of them to every request.
	TokenLimits []TokenLimit `yaml:"token_limits" json:"token_limits,omitempty"`
	// SemanticCache answers the product's requests from the semantic cache
	// when an API or operation has none of its own.
	SemanticCache *SemanticCache `yaml:"semantic_cache" json:"semantic_cache,omitempty"`
}

// API is a per-API policy scope.
type API struct {
	Name        string       `yaml:"name" json:"name"`
	TokenLimits []TokenLimit `yaml:"token_limits" json:"token_limits,omitempty"`
	// Operations carry token limits of single operations of the API, on
	// top of the API's own.
	Operations []APIOperation `yaml:"operations" json:"operations,omitempty"`
	// SemanticCache applies to the API's requests unless their operation
	// has one.
	SemanticCache *SemanticCache `yaml:"semantic_cache" json:"semantic_cache,omitempty"`
}

// APIOperation is an operation policy scope: chat, responses, completions
// or embeddings (record.operation's values).
type APIOperation struct {
	Name        string       `yaml:"name" json:"name"`
	TokenLimits []TokenLimit `yaml:"token_limits" json:"token_limits,omitempty"`
	// SemanticCache applies to the operation's requests.
	SemanticCache *SemanticCache `yaml:"semantic_cache" json:"semantic_cache,omitempty"`
}

// Operations are the operation names an APIOperation takes.
var Operations = []string{"chat", "responses", "completions", "embeddings"}

// TokenLimit is one llm-token-limit policy. At least one of TokensPerMinute
// and TokenQuota (with TokenQuotaPeriod) must be set.
type TokenLimit struct {
	// CounterKey selects the counter: subscription | ip | product | api |
	// header:<name> | jwt:<claim>, "+"-combinations, or an APIM @(...)
	// expression (default "subscription").
	CounterKey string `yaml:"counter_key" json:"counter_key,omitempty"`
	// TokensPerMinute limits prompt + completion tokens in any 60 s window (429).
	TokensPerMinute int64 `yaml:"tokens_per_minute" json:"tokens_per_minute,omitempty"`
	// TokenQuota limits tokens per TokenQuotaPeriod (403).
	TokenQuota int64 `yaml:"token_quota" json:"token_quota,omitempty"`
	// TokenQuotaPeriod is Hourly, Daily, Weekly, Monthly or Yearly.
	TokenQuotaPeriod string `yaml:"token_quota_period" json:"token_quota_period,omitempty"`
	// EstimatePromptTokens counts prompt tokens at admission (always on for
	// streaming requests).
	EstimatePromptTokens bool `yaml:"estimate_prompt_tokens" json:"estimate_prompt_tokens,omitempty"`
	// Mode is apim (default) or strict.
	Mode string `yaml:"mode" json:"mode,omitempty"`
	// DefaultMaxTokens is what strict mode reserves for the completion of a
	// request without max_tokens; the gateway then sets max_tokens to it on
	// the request it forwards (default 4096).
	DefaultMaxTokens int64 `yaml:"default_max_tokens" json:"default_max_tokens,omitempty"`
	// RetryAfterHeaderName replaces Retry-After on 429/403 (default Retry-After).
	RetryAfterHeaderName string `yaml:"retry_after_header_name" json:"retry_after_header_name,omitempty"`
	// RemainingTokensHeaderName, when set, carries the tokens left in the minute.
	RemainingTokensHeaderName string `yaml:"remaining_tokens_header_name" json:"remaining_tokens_header_name,omitempty"`
	// RemainingQuotaTokensHeaderName, when set, carries the quota left in the period.
	RemainingQuotaTokensHeaderName string `yaml:"remaining_quota_tokens_header_name" json:"remaining_quota_tokens_header_name,omitempty"`
	// TokensConsumedHeaderName, when set, carries the prompt + completion
	// tokens of the response (non-streaming responses only).
	TokensConsumedHeaderName string `yaml:"tokens_consumed_header_name" json:"tokens_consumed_header_name,omitempty"`
}

// Subscription is one caller identity.
type Subscription struct {
	ID string `yaml:"id" json:"id"`
	// Key and SecondaryKey are both accepted; never logged or recorded.
	Key          string `yaml:"key" json:"-"`
	SecondaryKey string `yaml:"secondary_key" json:"-"`
	Product      string `yaml:"product" json:"product"`
	// Team is the cost centre charged for this subscription's tokens.
	Team string `yaml:"team" json:"team"`
	// Metadata is free-form and copied into record dims as "sub.<name>".
	Metadata map[string]string `yaml:"metadata" json:"metadata,omitempty"`
	// Created is when the subscription was created (RFC 3339): the periods
	// of a quota with from_subscription_start count from it, as API
	// Management's quota policy counts them. Zero: 0001-01-01T00:00:00Z.
	Created time.Time `yaml:"created" json:"created,omitzero"`
}

// EmitTokenMetric is the llm-emit-token-metric policy.
type EmitTokenMetric struct {
	// Namespace is the policy's metric namespace: the instrumentation
	// scope of the OTLP export (default "API Management", as in API
	// Management).
	Namespace  string      `yaml:"namespace" json:"namespace,omitempty"`
	Dimensions []Dimension `yaml:"dimensions" json:"dimensions"`
}

// MetricsConfig shapes the gateway's Prometheus metrics.
type MetricsConfig struct {
	// MaxLabelValues caps the distinct values each team or dimension label
	// of /metrics takes (default 100): later values are folded into
	// "other" and counted in aiload_gateway_label_values_folded_total.
	MaxLabelValues int `yaml:"max_label_values" json:"max_label_values,omitempty"`
}

// Dimension is one metric dimension. Value is an @(...) expression or a
// short counter-key form; it may be omitted for the default dimensions
// Subscription ID, Product ID, User ID, API ID, Backend ID, Client IP,
// Gateway ID, Operation ID and Model.
type Dimension struct {
	Name  string `yaml:"name" json:"name"`
	Value string `yaml:"value" json:"value,omitempty"`
}

// Backend is one upstream chat completions endpoint in the pool.
type Backend struct {
	Name string `yaml:"name" json:"name,omitempty"`
	// URL is the base URL; requests keep their path and query. Empty with
	// Mock set: `aiload run` starts an embedded mock backend for it.
	URL string `yaml:"url" json:"url,omitempty"`
	// Auth is how the gateway authenticates to this backend: api_key
	// (default; "api-key" is accepted too) sends the key in the api-key
	// header, bearer sends it as Authorization: Bearer, managed_identity and
	// client_credentials send an Entra ID token (see docs/gateway.md).
	Auth string `yaml:"auth" json:"auth,omitempty"`
	// APIKey is a literal key (gateway check warns: prefer APIKeyEnv or
	// APIKeyFile); APIKeyEnv names an environment variable and APIKeyFile
	// a file holding the key.
	APIKey     string `yaml:"api_key" json:"-"`
	APIKeyEnv  string `yaml:"api_key_env" json:"api_key_env,omitempty"`
	APIKeyFile string `yaml:"api_key_file" json:"api_key_file,omitempty"`
	// ClientID is the user-assigned managed identity (empty: the
	// system-assigned one) or the app registration of client_credentials.
	ClientID string `yaml:"client_id" json:"client_id,omitempty"`
	// TenantID is the Entra ID tenant of client_credentials.
	TenantID string `yaml:"tenant_id" json:"tenant_id,omitempty"`
	// SecretEnv or SecretFile hold the client_credentials secret.
	SecretEnv  string `yaml:"secret_env" json:"secret_env,omitempty"`
	SecretFile string `yaml:"secret_file" json:"secret_file,omitempty"`
	// Tier is ptu or payg (default payg).
	Tier string `yaml:"tier" json:"tier,omitempty"`
	// Priority groups backends: 1 is the highest (default 1).
	Priority int `yaml:"priority" json:"priority,omitempty"`
	// Weight shares traffic within a priority group (default 1).
	Weight int `yaml:"weight" json:"weight,omitempty"`
	// Deployments this backend serves (empty: any). A request whose
	// deployment or model no backend serves gets 404.
	Deployments []string `yaml:"deployments" json:"deployments,omitempty"`
	// Timeout bounds one attempt until response headers (default 120s).
	Timeout time.Duration `yaml:"timeout" json:"timeout,omitempty"`
	// Mock shapes the embedded mock started for this backend.
	Mock *mockllm.Config `yaml:"mock" json:"mock,omitempty"`
	// CircuitBreaker trips the backend out of the pool on failures.
	CircuitBreaker *CircuitBreaker `yaml:"circuit_breaker" json:"circuit_breaker,omitempty"`
}

// CircuitBreaker is a backend's circuit breaker rule.
type CircuitBreaker struct {
	// FailureCount trips after this many failures within Interval.
	FailureCount int `yaml:"failure_count" json:"failure_count,omitempty"`
	// FailurePercentage trips when this share (0-100) of at least
	// MinRequests requests within Interval failed.
	FailurePercentage float64 `yaml:"failure_percentage" json:"failure_percentage,omitempty"`
	// MinRequests is the least number of requests for FailurePercentage (default 10).
	MinRequests int `yaml:"min_requests" json:"min_requests,omitempty"`
	// Interval is the failure-counting window (default 10s).
	Interval time.Duration `yaml:"interval" json:"interval,omitempty"`
	// StatusRanges are failing statuses: "429", "500-599" (default both).
	// Transport errors and timeouts always count as failures.
	StatusRanges []string `yaml:"status_ranges" json:"status_ranges,omitempty"`
	// TripDuration is how long a tripped backend stays out (default 30s).
	TripDuration time.Duration `yaml:"trip_duration" json:"trip_duration,omitempty"`
	// AcceptRetryAfter trips for the backend's Retry-After instead, when given.
	AcceptRetryAfter bool `yaml:"accept_retry_after" json:"accept_retry_after,omitempty"`
}

// JWTConfig is validate-jwt.
type JWTConfig struct {
	// HeaderName carries the token (default Authorization, scheme Bearer).
	HeaderName string `yaml:"header_name" json:"header_name,omitempty"`
	// QueryParameterName, when set, carries the token instead of a header;
	// the parameter is not forwarded to the backend.
	QueryParameterName string `yaml:"query_parameter_name" json:"query_parameter_name,omitempty"`
	// RequireScheme, when set, is the scheme the header's token must come
	// with ("Bearer" on Authorization when unset).
	RequireScheme string `yaml:"require_scheme" json:"require_scheme,omitempty"`
	// Issuer, when set, must equal the iss claim; Issuers lists more
	// accepted issuers (iss must equal one of all given).
	Issuer  string   `yaml:"issuer" json:"issuer,omitempty"`
	Issuers []string `yaml:"issuers" json:"issuers,omitempty"`
	// Audiences, when set, must include one of the aud values.
	Audiences []string `yaml:"audiences" json:"audiences,omitempty"`
	// Keys are the signing keys (HS256 secret, RS256/ES256 PEM).
	Keys []JWTKey `yaml:"keys" json:"keys,omitempty"`
	// JWKSFile and JWKSURL load keys from a JSON Web Key Set.
	JWKSFile string `yaml:"jwks_file" json:"jwks_file,omitempty"`
	JWKSURL  string `yaml:"jwks_url" json:"jwks_url,omitempty"`
	// RequiredClaims must be present with the value (a space-separated or
	// array claim must contain it; "" requires presence only).
	RequiredClaims map[string]string `yaml:"required_claims" json:"required_claims,omitempty"`
	// RequiredClaimValues are claims with several values (validate-jwt's
	// <claim match="all|any" separator="…">).
	RequiredClaimValues []ClaimRule `yaml:"required_claim_values" json:"required_claim_values,omitempty"`
	// ClientApplicationIDs, when set, must include the token's appid (v1
	// tokens) or azp (v2) claim: validate-azure-ad-token's
	// client-application-ids.
	ClientApplicationIDs []string `yaml:"client_application_ids" json:"client_application_ids,omitempty"`
	// ClockSkew is tolerated on exp and nbf (default 0).
	ClockSkew time.Duration `yaml:"clock_skew" json:"clock_skew,omitempty"`
	// RequireExpirationTime rejects tokens without exp (default true).
	RequireExpirationTime *bool `yaml:"require_expiration_time" json:"require_expiration_time,omitempty"`
	// FailedValidationHTTPCode is the status of a refusal (default 401).
	FailedValidationHTTPCode int `yaml:"failed_validation_httpcode" json:"failed_validation_httpcode,omitempty"`
	// FailedValidationErrorMessage replaces the refusal's message (the
	// reason is then not disclosed).
	FailedValidationErrorMessage string `yaml:"failed_validation_error_message" json:"failed_validation_error_message,omitempty"`
}

// ClaimRule requires a claim to hold all (Match "all", the default) or any
// ("any") of Values. A string claim is split at Separator when one is
// given, else at spaces; an array claim's members are its values.
type ClaimRule struct {
	Name      string   `yaml:"name" json:"name"`
	Match     string   `yaml:"match" json:"match,omitempty"`
	Separator string   `yaml:"separator" json:"separator,omitempty"`
	Values    []string `yaml:"values" json:"values"`
}

// JWTKey is one signing key.
type JWTKey struct {
	Kid string `yaml:"kid" json:"kid,omitempty"`
	// Alg is HS256, RS256 or ES256; a token signed with another algorithm
	// never verifies against this key.
	Alg    string `yaml:"alg" json:"alg"`
	Secret string `yaml:"secret" json:"-"`
	// PEM is a public key (RS256/ES256), inline or PEMFile.
	PEM     string `yaml:"pem" json:"-"`
	PEMFile string `yaml:"pem_file" json:"pem_file,omitempty"`
}

// Defaults fills unset fields with their defaults.
func (c *Config) Defaults() {
	if c.ID == "" {
		c.ID = "gw-1"
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if len(c.Backends) == 0 {
		b := c.Backend
		if b.Name == "" {
			b.Name = "mock"
		}
		c.Backends = []Backend{b}
	}
	for i := range c.Backends {
		c.Backends[i].defaults(i)
	}
}

func (b *Backend) defaults(i int) {
	if b.Name == "" {
		b.Name = "backend-" + strconv.Itoa(i+1)
	}
	if b.Tier == "" {
		b.Tier = "payg"
	}
	if b.Priority == 0 {
		b.Priority = 1
	}
	if b.Weight == 0 {
		b.Weight = 1
	}
	if b.Auth == "" || b.Auth == "api-key" {
		b.Auth = AuthAPIKey
	}
	if b.Timeout == 0 {
		b.Timeout = 120 * time.Second
	}
}
