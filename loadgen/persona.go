// Package loadgen is aiload's scenario-based token load generator: it turns
// personas (who calls, with which key, how often, with how many tokens) into
// HTTP traffic against a chat completions endpoint, honours the gateway's
// Retry-After, and measures what each caller saw.
package loadgen

import (
	"fmt"
)

// Persona kinds.
const (
	KindChat = "chat"
)

// Persona is one kind of caller in a scenario.
type Persona struct {
	// Name identifies the persona in records (x-aiload-persona) and summaries.
	Name string `yaml:"name" json:"name"`
	// Kind is the behaviour; only "chat" exists so far.
	Kind string `yaml:"kind" json:"kind"`
	// Team is the cost centre the persona belongs to (for summaries).
	Team string `yaml:"team" json:"team"`
	// Subscription is the id of the embedded gateway's subscription whose
	// key the persona uses.
	Subscription string `yaml:"subscription" json:"subscription,omitempty"`
	// Key is an explicit subscription key (for external targets); it wins
	// over Subscription.
	Key string `yaml:"key" json:"-"`
	// Count is the number of users (default 1).
	Count int `yaml:"count" json:"count"`
	// Rate is each user's mean request rate; arrivals are Poisson.
	Rate Rate `yaml:"rate" json:"rate"`
	// PromptTokens is the prompt length distribution.
	PromptTokens Dist `yaml:"prompt_tokens" json:"prompt_tokens"`
	// CompletionTokens is the distribution of max_tokens sent.
	CompletionTokens Dist `yaml:"completion_tokens" json:"completion_tokens"`
	// MaxRetries is how many times a throttled request is retried after
	// Retry-After (default 3; 0 disables retries).
	MaxRetries *int `yaml:"max_retries" json:"max_retries,omitempty"`
	// Model overrides the scenario's model.
	Model string `yaml:"model" json:"model,omitempty"`
}

// FieldError is a validation problem at a field path, e.g. "personas[2].rate".
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// Defaults fills unset fields.
func (p *Persona) Defaults() {
	if p.Kind == "" {
		p.Kind = KindChat
	}
	if p.Count == 0 {
		p.Count = 1
	}
	if p.MaxRetries == nil {
		n := 3
		p.MaxRetries = &n
	}
}

// Validate returns every problem of p, with paths under prefix.
func (p *Persona) Validate(prefix string) []error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, &FieldError{Path: prefix + "." + field, Msg: fmt.Sprintf(format, a...)})
	}
	if p.Name == "" {
		bad("name", "must be set")
	}
	if p.Kind != KindChat {
		bad("kind", "unknown kind %q (supported: chat)", p.Kind)
	}
	if p.Count < 1 {
		bad("count", "must be >= 1, got %d", p.Count)
	}
	if p.Rate <= 0 {
		bad("rate", "must be > 0, got %g/s", float64(p.Rate))
	}
	if p.Subscription == "" && p.Key == "" {
		bad("subscription", "must be set (or key)")
	}
	if err := p.PromptTokens.Validate(); err != nil {
		bad("prompt_tokens", "%v", err)
	}
	if err := p.CompletionTokens.Validate(); err != nil {
		bad("completion_tokens", "%v", err)
	}
	if p.MaxRetries != nil && *p.MaxRetries < 0 {
		bad("max_retries", "must be >= 0, got %d", *p.MaxRetries)
	}
	return errs
}
