package gateway

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	"github.com/aiload/aiload/gateway/policy"
	"github.com/aiload/aiload/gateway/semcache/rediscache"
)

// SemanticCache is API Management's llm-semantic-cache-lookup (inbound) and
// llm-semantic-cache-store (outbound) pair, at a product's, an API's or an
// operation's scope. The most specific scope's cache applies to a request
// (the policy may be used once per section). See docs/semantic-cache.md.
type SemanticCache struct {
	// ScoreThreshold (score-threshold, required, 0 to 1) is the largest
	// score at which a cached answer is served. A score is 1 − the cosine
	// similarity of the two prompts' embeddings: lower values require
	// closer prompts (0.05 serves prompts at least 95 % similar).
	ScoreThreshold *float64 `yaml:"score_threshold" json:"score_threshold,omitempty"`
	// EmbeddingsBackendID (embeddings-backend-id, required) is the backend
	// (backends[].name) whose embeddings route embeds the prompts, with the
	// backend's own credential.
	EmbeddingsBackendID string `yaml:"embeddings_backend_id" json:"embeddings_backend_id"`
	// EmbeddingsBackendAuth (embeddings-backend-auth) is system-assigned,
	// the one value API Management takes (default system-assigned).
	EmbeddingsBackendAuth string `yaml:"embeddings_backend_auth" json:"embeddings_backend_auth,omitempty"`
	// EmbeddingsDeployment is the embeddings deployment (model) called on
	// that backend, at /openai/deployments/{d}/embeddings (default
	// text-embedding-3-small). In API Management it is part of the
	// backend's URL.
	EmbeddingsDeployment string `yaml:"embeddings_deployment" json:"embeddings_deployment,omitempty"`
	// IgnoreSystemMessages (ignore-system-messages) leaves system messages
	// out of the text compared (default false).
	IgnoreSystemMessages bool `yaml:"ignore_system_messages" json:"ignore_system_messages,omitempty"`
	// MaxMessageCount (max-message-count), when > 0, skips the cache for a
	// request with more messages (after system messages are left out).
	MaxMessageCount int `yaml:"max_message_count" json:"max_message_count,omitempty"`
	// VaryBy (<vary-by> elements) partition the cache: counter-key forms or
	// @(…) expressions, their values joined. Entries are also partitioned
	// by operation and model.
	VaryBy []string `yaml:"vary_by" json:"vary_by,omitempty"`
	// Duration (llm-semantic-cache-store's duration, required) is how long
	// a stored answer is served.
	Duration time.Duration `yaml:"duration" json:"duration,omitempty"`
	// Position is where the lookup sits in the inbound pipeline relative to
	// the token limits: before_limit (default: a hit is answered before any
	// limit and never counts against it) or after_limit (the request is
	// admitted and reserved first; a hit then counts the cached answer's
	// tokens, and a refused request never reaches the cache).
	Position string `yaml:"position" json:"position,omitempty"`
}

// Cache positions.
const (
	CacheBeforeLimit = "before_limit"
	CacheAfterLimit  = "after_limit"
)

// DefaultEmbeddingsDeployment is SemanticCache.EmbeddingsDeployment's default.
const DefaultEmbeddingsDeployment = "text-embedding-3-small"

// semanticCache is a compiled SemanticCache.
type semanticCache struct {
	threshold   float64
	backend     string
	deployment  string
	ignoreSys   bool
	maxMessages int
	varyBy      []policy.CounterKey
	duration    time.Duration
	afterLimit  bool
}

// compileCache checks and compiles c; backends are the pool's names. Its
// errors are *FieldError with paths relative to c, joined.
func compileCache(c *SemanticCache, backends map[string]bool) (*semanticCache, error) {
	var errs []error
	bad := func(path, msg string) { errs = append(errs, &FieldError{Path: path, Msg: msg}) }
	sc := &semanticCache{backend: c.EmbeddingsBackendID, deployment: cmp.Or(c.EmbeddingsDeployment, DefaultEmbeddingsDeployment),
		ignoreSys: c.IgnoreSystemMessages, maxMessages: c.MaxMessageCount, duration: c.Duration, afterLimit: c.Position == CacheAfterLimit}
	switch {
	case c.ScoreThreshold == nil:
		bad("score_threshold", "is required (0 to 1; lower serves only closer prompts, e.g. 0.05)")
	case *c.ScoreThreshold < 0 || *c.ScoreThreshold > 1:
		bad("score_threshold", fmt.Sprintf("must be within [0, 1], got %g", *c.ScoreThreshold))
	default:
		sc.threshold = *c.ScoreThreshold
	}
	switch {
	case c.EmbeddingsBackendID == "":
		bad("embeddings_backend_id", "is required: the backend whose embeddings route embeds prompts")
	case !backends[c.EmbeddingsBackendID]:
		bad("embeddings_backend_id", fmt.Sprintf("no backend is named %q", c.EmbeddingsBackendID))
	}
	if a := c.EmbeddingsBackendAuth; a != "" && a != "system-assigned" {
		bad("embeddings_backend_auth", fmt.Sprintf("must be system-assigned (the one value API Management takes), got %q", a))
	}
	if c.MaxMessageCount < 0 {
		bad("max_message_count", "must be >= 0")
	}
	if c.Duration <= 0 {
		bad("duration", "is required: how long a stored answer is served (e.g. 60s), > 0")
	}
	if p := c.Position; p != "" && p != CacheBeforeLimit && p != CacheAfterLimit {
		bad("position", fmt.Sprintf("must be before_limit or after_limit, got %q", p))
	}
	for i, v := range c.VaryBy {
		k, err := policy.ParseCounterKey(v)
		if err != nil {
			bad(fmt.Sprintf("vary_by[%d]", i), err.Error())
			continue
		}
		sc.varyBy = append(sc.varyBy, k)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return sc, nil
}

// validateCaches checks every scope's semantic cache against the backends'
// names.
func (c *Config) validateCaches(errs *problems, backends map[string]bool) {
	check := func(sc *SemanticCache, path string) {
		if sc == nil {
			return
		}
		if _, err := compileCache(sc, backends); err != nil {
			errs.addUnder(path+".semantic_cache", err)
		}
	}
	for i, p := range c.Products {
		check(p.SemanticCache, fmt.Sprintf("gateway.products[%d]", i))
	}
	for i, a := range c.APIs {
		check(a.SemanticCache, fmt.Sprintf("gateway.apis[%d]", i))
		for j, o := range a.Operations {
			check(o.SemanticCache, fmt.Sprintf("gateway.apis[%d].operations[%d]", i, j))
		}
	}
}

// CacheStore is where the semantic caches of every scope keep their
// answers: `semantic_cache:` at the top of the gateway config. See
// docs/gateway.md.
type CacheStore struct {
	// Store is memory (default: this gateway's own cache) or redis (one
	// cache shared by every gateway pointed at the same Redis).
	Store string `yaml:"store" json:"store,omitempty"`
	// Redis configures store: redis.
	Redis *RedisCacheStore `yaml:"redis" json:"redis,omitempty"`
}

// RedisCacheStore is a Redis server holding the semantic cache.
type RedisCacheStore struct {
	// URL is redis://[user@]host:port/db (rediss:// for TLS). A password
	// in it is accepted, with a warning from gateway check.
	URL string `yaml:"url" json:"-"`
	// PasswordEnv or PasswordFile hold the password (AUTH), kept out of the
	// config file; either overrides a password in URL.
	PasswordEnv  string `yaml:"password_env" json:"password_env,omitempty"`
	PasswordFile string `yaml:"password_file" json:"password_file,omitempty"`
	// Prefix starts every key (default aiload:semcache:).
	Prefix string `yaml:"prefix" json:"prefix,omitempty"`
	// MaxCandidates bounds the entries a lookup compares on Redis without
	// vector search: a partition's newest (default 1000, at most 4000).
	MaxCandidates int `yaml:"max_candidates" json:"max_candidates,omitempty"`
	// MaxEntries bounds each partition (default 10000).
	MaxEntries int `yaml:"max_entries" json:"max_entries,omitempty"`
	// Timeout bounds each operation (default 500ms); a lookup that takes
	// longer lets the request through uncached.
	Timeout time.Duration `yaml:"timeout" json:"timeout,omitempty"`
	// Search is auto (default: RediSearch's vector search where the server
	// has it) or off (always the plain layout).
	Search string `yaml:"search" json:"search,omitempty"`
}

// Cache stores.
const (
	CacheStoreMemory = "memory"
	CacheStoreRedis  = "redis"
)

// validate checks c at path.
func (c *CacheStore) validate(errs *problems, path string) {
	switch c.Store {
	case "", CacheStoreMemory:
		if c.Redis != nil {
			errs.add(path+".redis", "is only read with store: redis")
		}
		return
	case CacheStoreRedis:
	default:
		errs.add(path+".store", "must be memory or redis, got %q", c.Store)
		return
	}
	r := c.Redis
	if r == nil || r.URL == "" {
		errs.add(path+".redis.url", "is required with store: redis (redis://host:port/db)")
		return
	}
	if err := rediscache.CheckURL(r.URL); err != nil {
		errs.add(path+".redis.url", "%v", err)
	}
	if r.PasswordEnv != "" && r.PasswordFile != "" {
		errs.add(path+".redis", "set one of password_env and password_file")
	}
	if r.MaxCandidates < 0 || r.MaxCandidates > rediscache.MaxCandidatesLimit {
		errs.add(path+".redis.max_candidates", "must be within [0, %d] (0: the default, %d), got %d",
			rediscache.MaxCandidatesLimit, rediscache.DefaultMaxCandidates, r.MaxCandidates)
	}
	if r.MaxEntries < 0 {
		errs.add(path+".redis.max_entries", "must be >= 0 (0: the default, %d), got %d", rediscache.DefaultMaxEntries, r.MaxEntries)
	}
	if r.Timeout < 0 {
		errs.add(path+".redis.timeout", "must be >= 0 (0: the default, %s), got %s", rediscache.DefaultTimeout, r.Timeout)
	}
	if s := r.Search; s != "" && s != rediscache.SearchAuto && s != rediscache.SearchOff {
		errs.add(path+".redis.search", "must be auto or off, got %q", s)
	}
}

// open opens the Redis store of c (nil, nil for the memory store).
func (c *CacheStore) open() (*rediscache.Store, error) {
	if c == nil || c.Store != CacheStoreRedis || c.Redis == nil {
		return nil, nil
	}
	r := c.Redis
	pw, err := secret("", r.PasswordEnv, r.PasswordFile)
	if err != nil {
		return nil, fmt.Errorf("redis password: %w", err)
	}
	return rediscache.Open(r.URL, rediscache.Options{Prefix: r.Prefix, MaxCandidates: r.MaxCandidates,
		MaxEntries: r.MaxEntries, Timeout: r.Timeout, Search: r.Search, Password: pw})
}

// warnings are c's accepted but discouraged settings (see Config.Warnings).
func (c *CacheStore) warnings() []string {
	if c == nil || c.Store != CacheStoreRedis || c.Redis == nil {
		return nil
	}
	r := c.Redis
	var out []string
	if rediscache.URLHasPassword(r.URL) {
		out = append(out, "semantic_cache.redis.url: a literal password is stored in the config; use password_env or password_file")
	}
	if _, err := secret("", r.PasswordEnv, r.PasswordFile); err != nil {
		out = append(out, fmt.Sprintf("semantic_cache.redis: password: %v (on this machine)", err))
	}
	return out
}
