package loadgen

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
)

// Target APIs: the request paths a target is sent to.
const (
	APIAzure  = "azure"  // POST /openai/deployments/{model}/chat/completions
	APIOpenAI = "openai" // POST /v1/chat/completions
)

// APIs lists the target APIs.
var APIs = []string{APIAzure, APIOpenAI}

// Enums names Target's fields that take one of a closed set of values.
func (Target) Enums() map[string][]string { return map[string][]string{"api": APIs} }

// Target is where the load goes: the embedded gateway (URL empty in a
// scenario; the runner fills in its loopback address) or any OpenAI- or
// Azure-OpenAI-compatible endpoint (a real APIM, LiteLLM, vLLM…).
//
//	target:
//	  url: https://contoso.azure-api.net
//	  api: azure                       # azure | openai
//	  api_version: 2024-10-21
//	  key_header: Ocp-Apim-Subscription-Key
//	  bearer_token_env: AILOAD_TOKEN  # Authorization: Bearer $AILOAD_TOKEN
type Target struct {
	// URL is the base URL. Empty in a scenario means the embedded gateway.
	URL string `yaml:"url" json:"url,omitempty"`
	// API is "azure" (POST /openai/deployments/{model}/chat/completions) or
	// "openai" (POST /v1/chat/completions). Default "azure".
	API string `yaml:"api" json:"api,omitempty"`
	// APIVersion is the api-version query parameter for API "azure"
	// (default 2024-10-21).
	APIVersion string `yaml:"api_version" json:"api_version,omitempty"`
	// KeyHeader carries the subscription key (default
	// Ocp-Apim-Subscription-Key; Azure OpenAI itself wants api-key).
	KeyHeader string `yaml:"key_header" json:"key_header,omitempty"`
	// BearerToken is sent as "Authorization: Bearer …" on every request.
	BearerToken string `yaml:"bearer_token" json:"-"`
	// BearerTokenEnv names an environment variable holding the bearer token
	// (read when the run starts; keeps secrets out of scenario files).
	BearerTokenEnv string `yaml:"bearer_token_env" json:"bearer_token_env,omitempty"`
	// Timeout bounds one attempt (default 120s).
	Timeout Duration `yaml:"timeout" json:"timeout,omitempty"`
	// MaxConnections caps connections per source address (0: no cap). A
	// cap makes requests queue in the client, as a pooled SDK's do.
	MaxConnections int `yaml:"max_connections" json:"max_connections,omitempty"`
	// RetryAfterHeader is where a 429 says how long to wait, in seconds or
	// as an HTTP date (default Retry-After; APIM's retry-after-header-name
	// can rename it). A retry-after-ms header, as Azure OpenAI sends, wins.
	RetryAfterHeader string `yaml:"retry_after_header" json:"retry_after_header,omitempty"`
	// RemainingTokensHeader and LimitTokensHeader are what a proactive
	// agent reads (default x-ratelimit-remaining-tokens and
	// x-ratelimit-limit-tokens; APIM's remaining-tokens-header-name can
	// rename the first).
	RemainingTokensHeader string `yaml:"remaining_tokens_header" json:"remaining_tokens_header,omitempty"`
	LimitTokensHeader     string `yaml:"limit_tokens_header" json:"limit_tokens_header,omitempty"`
}

// Defaults fills unset fields.
func (t *Target) Defaults() {
	if t.API == "" {
		t.API = APIAzure
	}
	if t.APIVersion == "" {
		t.APIVersion = "2024-10-21"
	}
	if t.KeyHeader == "" {
		t.KeyHeader = "Ocp-Apim-Subscription-Key"
	}
	if t.Timeout == 0 {
		t.Timeout = Duration(120e9)
	}
	if t.RetryAfterHeader == "" {
		t.RetryAfterHeader = "Retry-After"
	}
	if t.RemainingTokensHeader == "" {
		t.RemainingTokensHeader = HeaderRemainingTokens
	}
	if t.LimitTokensHeader == "" {
		t.LimitTokensHeader = HeaderLimitTokens
	}
}

// Embedded reports whether t names no URL (the embedded gateway).
func (t *Target) Embedded() bool { return t.URL == "" }

// Validate returns every problem of t with paths under prefix.
func (t *Target) Validate(prefix string) []error {
	v := &validator{prefix: prefix}
	if t.URL != "" {
		if u, err := url.Parse(t.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.bad("url", "must be an absolute http(s) URL, got %q", t.URL)
		}
	}
	if !slices.Contains(APIs, t.API) {
		v.bad("api", "must be %s, got %q", strings.Join(APIs, " or "), t.API)
	}
	if t.BearerToken != "" && t.BearerTokenEnv != "" {
		v.bad("bearer_token_env", "set bearer_token or bearer_token_env, not both")
	}
	if t.Timeout < 0 {
		v.bad("timeout", "must be >= 0")
	}
	if t.MaxConnections < 0 {
		v.bad("max_connections", "must be >= 0, got %d", t.MaxConnections)
	}
	return v.errs
}

// bearer returns the bearer token to send ("" for none).
func (t *Target) bearer() (string, error) {
	if t.BearerTokenEnv == "" {
		return t.BearerToken, nil
	}
	tok, ok := os.LookupEnv(t.BearerTokenEnv)
	if !ok || tok == "" {
		return "", fmt.Errorf("bearer token: environment variable %s is not set", t.BearerTokenEnv)
	}
	return tok, nil
}

// endpoint returns the chat completions URL for model.
func (t *Target) endpoint(model string) string {
	// a base URL given with the API's prefix (https://api.openai.com/v1,
	// https://x.openai.azure.com/openai) is taken as it is
	base := strings.TrimRight(t.URL, "/")
	if t.API == APIOpenAI {
		return strings.TrimSuffix(base, "/v1") + "/v1/chat/completions"
	}
	return strings.TrimSuffix(base, "/openai") + "/openai/deployments/" + url.PathEscape(model) + "/chat/completions?api-version=" + url.QueryEscape(t.APIVersion)
}

// loopback reports whether t's host is an IPv4 loopback address (where
// nat personas can bind real 127.0.0.x source addresses).
func (t *Target) loopback() bool {
	u, err := url.Parse(t.URL)
	if err != nil {
		return false
	}
	h := u.Hostname()
	return h == "localhost" || strings.HasPrefix(h, "127.")
}

var errNoTarget = errors.New("run load: target url must be set")
