// Package gateway is aiload's enforcement gateway: an HTTP server that
// authenticates callers by subscription key, applies token limits per
// product, forwards chat completions to a backend with its own credentials,
// and writes one token-metric record per request.
package gateway

import (
	"errors"
	"fmt"
	"net/url"
)

// Config is the gateway's configuration, as written under `gateway:` in a
// scenario or in a gateway.yaml file.
type Config struct {
	// ID names this gateway instance in records (default "gw-1").
	ID string `yaml:"id" json:"id,omitempty"`
	// MaxBodyBytes caps request bodies (default 1 MiB); larger bodies get 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes" json:"max_body_bytes,omitempty"`
	// Products are the tiers subscriptions belong to.
	Products []Product `yaml:"products" json:"products"`
	// Subscriptions are the callers' keys.
	Subscriptions []Subscription `yaml:"subscriptions" json:"subscriptions"`
	// Backend is where requests go. Empty URL means the built-in mock,
	// which the caller of New wires in.
	Backend Backend `yaml:"backend" json:"backend,omitempty"`
}

// Product is a tier with its own token limit.
type Product struct {
	Name string `yaml:"name" json:"name"`
	// TokensPerMinute is the per-subscription limit of prompt + completion
	// tokens in any sliding 60 s window; 0 means unlimited.
	TokensPerMinute int64 `yaml:"tokens_per_minute" json:"tokens_per_minute"`
}

// Subscription is one caller identity.
type Subscription struct {
	ID      string `yaml:"id" json:"id"`
	Key     string `yaml:"key" json:"key"`
	Product string `yaml:"product" json:"product"`
	// Team is the cost centre charged for this subscription's tokens.
	Team string `yaml:"team" json:"team"`
}

// Backend is an upstream chat completions endpoint.
type Backend struct {
	Name string `yaml:"name" json:"name,omitempty"`
	// URL is the base URL; requests keep their path and query.
	URL string `yaml:"url" json:"url,omitempty"`
	// APIKey is sent as `api-key` to the backend (the gateway's own credential).
	APIKey string `yaml:"api_key" json:"-"`
	// Tier is "ptu" or "payg" (default "payg").
	Tier string `yaml:"tier" json:"tier,omitempty"`
}

// Defaults fills unset fields with their defaults.
func (c *Config) Defaults() {
	if c.ID == "" {
		c.ID = "gw-1"
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.Backend.Name == "" {
		c.Backend.Name = "mock"
	}
	if c.Backend.Tier == "" {
		c.Backend.Tier = "payg"
	}
}

// FieldError is a validation error at a field path such as
// "subscriptions[1].product".
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// Validate checks the configuration and returns every problem found, joined.
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, a ...any) {
		errs = append(errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, a...)})
	}
	products := map[string]bool{}
	for i, p := range c.Products {
		path := fmt.Sprintf("gateway.products[%d]", i)
		switch {
		case p.Name == "":
			bad(path+".name", "must be set")
		case products[p.Name]:
			bad(path+".name", "duplicate product %q", p.Name)
		}
		products[p.Name] = true
		if p.TokensPerMinute < 0 {
			bad(path+".tokens_per_minute", "must be >= 0, got %d", p.TokensPerMinute)
		}
	}
	ids, keys := map[string]bool{}, map[string]bool{}
	for i, s := range c.Subscriptions {
		path := fmt.Sprintf("gateway.subscriptions[%d]", i)
		if s.ID == "" {
			bad(path+".id", "must be set")
		} else if ids[s.ID] {
			bad(path+".id", "duplicate subscription %q", s.ID)
		}
		ids[s.ID] = true
		if s.Key == "" {
			bad(path+".key", "must be set")
		} else if keys[s.Key] {
			bad(path+".key", "same key as another subscription")
		}
		keys[s.Key] = true
		if !products[s.Product] {
			bad(path+".product", "unknown product %q", s.Product)
		}
	}
	if c.Backend.URL != "" {
		if u, err := url.Parse(c.Backend.URL); err != nil || u.Scheme == "" || u.Host == "" {
			bad("gateway.backend.url", "must be an absolute http(s) URL, got %q", c.Backend.URL)
		}
	}
	if t := c.Backend.Tier; t != "" && t != "ptu" && t != "payg" {
		bad("gateway.backend.tier", "must be ptu or payg, got %q", t)
	}
	return errors.Join(errs...)
}
