// Package loadgen is aiload's scenario-based token load generator: it turns
// personas (who calls, with which key, from which address, how often, with
// how many tokens, and what they do about a 429) into HTTP traffic against a
// chat completions endpoint, and measures what each caller saw.
package loadgen

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aiload/aiload/gateway/chat"
)

// Persona kinds.
const (
	// KindChat is interactive users: conversations arrive at Rate per user
	// (Poisson, gamma or evenly spaced), each of Turns turns separated by
	// ThinkTime, the prompt growing with the history.
	KindChat = "chat"
	// KindBatch is a job of Requests requests sent with a fixed Concurrency
	// or at a target Rate, started At and repeated Every.
	KindBatch = "batch"
	// KindAgent is a pipeline of Steps, each step's prompt the previous
	// context plus the step's input; pipelines start at Rate per agent.
	KindAgent = "agent"
	// KindNAT is chat users behind EgressIPs shared source addresses.
	KindNAT = "nat"
)

// Kinds lists the persona kinds.
var Kinds = []string{KindChat, KindBatch, KindAgent, KindNAT}

// What a caller does about a 429.
const (
	// ThrottleRetryAfter waits the Retry-After the gateway sent (1 s when
	// absent) and retries, up to MaxRetries times.
	ThrottleRetryAfter = "retry_after"
	// ThrottleBackoff ignores Retry-After and retries after exponential
	// backoff with full jitter (Backoff), up to MaxRetries times.
	ThrottleBackoff = "backoff"
	// ThrottleFail gives up at the first 429 (an agent's pipeline breaks).
	ThrottleFail = "fail"
	// ThrottleDegrade waits the Retry-After and retries once with a cheaper
	// request: only the last message of the context and half the max_tokens.
	ThrottleDegrade = "degrade"
	// ThrottleRotate ignores Retry-After and retries at once with the next
	// key of the persona's subscription pool (the caller then stays on it),
	// up to MaxRetries times: the key-hopping a per-subscription limit
	// invites, and that a per-IP or per-user limit still catches.
	ThrottleRotate = "rotate_key"
)

// ThrottlePolicies lists the on_throttle values.
var ThrottlePolicies = []string{ThrottleRetryAfter, ThrottleBackoff, ThrottleFail, ThrottleDegrade, ThrottleRotate}

// Arrival processes.
const (
	ArrivalPoisson  = "poisson"  // exponential gaps (the default)
	ArrivalGamma    = "gamma"    // gamma gaps with shape Burstiness (<1 bursty, 1 Poisson, >1 regular)
	ArrivalConstant = "constant" // evenly spaced, 1/rate apart
)

// Arrivals lists the arrival processes.
var Arrivals = []string{ArrivalPoisson, ArrivalGamma, ArrivalConstant}

// Enums names Persona's fields that take one of a closed set of values (the
// JSON Schema's enums come from here).
func (Persona) Enums() map[string][]string {
	return map[string][]string{"kind": Kinds, "arrival": Arrivals, "on_throttle": ThrottlePolicies, "api": Operations, "profile": Profiles}
}

// Persona is one kind of caller in a scenario.
type Persona struct {
	// Name identifies the persona in records (x-aiload-persona) and summaries.
	Name string `yaml:"name" json:"name"`
	// Kind is chat (default), batch, agent or nat.
	Kind string `yaml:"kind" json:"kind"`
	// Team is the cost centre the persona belongs to (for summaries).
	Team string `yaml:"team" json:"team"`
	// Subscription is the id of the subscription whose key the persona uses.
	Subscription string `yaml:"subscription" json:"subscription,omitempty"`
	// Subscriptions is a pool of subscription ids: user i uses entry
	// i mod len (a batch job rotates through them request by request).
	Subscriptions []string `yaml:"subscriptions" json:"subscriptions,omitempty"`
	// Key is an explicit subscription key (for external targets); it wins
	// over Subscription.
	Key string `yaml:"key" json:"-"`
	// Keys are the resolved keys of Subscriptions (or of Subscription/Key),
	// filled in before a run.
	Keys []SubKey `yaml:"-" json:"-"`
	// UserHeader, when set, carries a per-user id "<name>-<n>" in this header.
	UserHeader string `yaml:"user_header" json:"user_header,omitempty"`
	// UserJWT, when set, makes each user send its own signed JWT with its
	// user id in a claim.
	UserJWT *UserJWT `yaml:"user_jwt" json:"user_jwt,omitempty"`
	// Count is the number of users, agents or batch jobs (default 1).
	Count int `yaml:"count" json:"count"`
	// Model overrides the scenario's model.
	Model string `yaml:"model" json:"model,omitempty"`
	// Stream asks for server-sent events (stream_options.include_usage),
	// which makes TTFT the time to the first content token.
	Stream bool `yaml:"stream" json:"stream,omitempty"`
	// API is the operation the persona's requests call: chat (chat
	// completions, the default), responses (the Responses API: the
	// conversation as input messages, completion_tokens as
	// max_output_tokens, at least 16) or completions (legacy completions:
	// the conversation's texts as one prompt).
	API string `yaml:"api" json:"api,omitempty"`
	// Repeat makes a share of the persona's user messages earlier ones
	// again, verbatim or paraphrased (see Repeat); nil: every message is
	// the same filler text.
	Repeat *Repeat `yaml:"repeat" json:"repeat,omitempty"`

	// Rate is, per user: conversations (chat, nat), pipelines (agent) or,
	// for a batch, the job's request rate.
	Rate Rate `yaml:"rate" json:"rate,omitempty"`
	// Arrival is poisson (default), gamma or constant.
	Arrival string `yaml:"arrival" json:"arrival,omitempty"`
	// Burstiness is the gamma shape k (default 1): gaps have mean 1/rate.
	Burstiness float64 `yaml:"burstiness" json:"burstiness,omitempty"`
	// Shape scales Rate over the run (constant, ramp, step, daily).
	Shape Shape `yaml:"shape" json:"shape,omitzero"`
	// Turns is the number of turns of a conversation (default 1).
	Turns Dist `yaml:"turns" json:"turns,omitzero"`
	// ThinkTime is the pause between a response and the next turn, in
	// seconds (default 0).
	ThinkTime Dist `yaml:"think_time" json:"think_time,omitzero"`

	// PromptTokens is the distribution of new prompt tokens per request
	// (per turn, per step input, or per batch item).
	PromptTokens Dist `yaml:"prompt_tokens" json:"prompt_tokens"`
	// CompletionTokens is the distribution of max_tokens sent.
	CompletionTokens Dist `yaml:"completion_tokens" json:"completion_tokens"`
	// Profile is a request shape, after the Azure OpenAI benchmarking
	// tool's: balanced (500 prompt tokens, max_tokens 500), context (2000,
	// 200) or generation (500, 1000). It fills prompt_tokens (uniform
	// within ±50 % of the profile's) and completion_tokens when they are
	// unset, and starts every prompt with a random prefix so that no
	// prompt cache flatters the latencies.
	Profile string `yaml:"profile" json:"profile,omitempty"`

	// Requests is a batch job's size.
	Requests int `yaml:"requests" json:"requests,omitempty"`
	// Concurrency is a batch job's number of parallel workers (when Rate is 0).
	Concurrency int `yaml:"concurrency" json:"concurrency,omitempty"`
	// At is when a batch job first starts (default 0).
	At Duration `yaml:"at" json:"at,omitempty"`
	// Every repeats a batch job (0: once).
	Every Duration `yaml:"every" json:"every,omitempty"`

	// Steps are an agent's pipeline (plan, tool calls, answer).
	Steps []Step `yaml:"steps" json:"steps,omitempty"`
	// Proactive makes an agent read x-ratelimit-remaining-tokens and pause
	// before a step that would not fit, instead of running into a 429.
	Proactive bool `yaml:"proactive" json:"proactive,omitempty"`

	// EgressIPs is how many source addresses a nat persona's users share.
	EgressIPs int `yaml:"egress_ips" json:"egress_ips,omitempty"`

	// OnThrottle is retry_after (default), backoff, fail, degrade or rotate_key.
	OnThrottle string `yaml:"on_throttle" json:"on_throttle,omitempty"`
	// MaxRetries is how many times a throttled request is retried
	// (default 3; 0 disables retries).
	MaxRetries *int `yaml:"max_retries" json:"max_retries,omitempty"`
	// Backoff shapes on_throttle: backoff.
	Backoff Backoff `yaml:"backoff" json:"backoff,omitzero"`
	// SLO is what a successful request must meet to count as goodput.
	SLO SLO `yaml:"slo" json:"slo,omitzero"`
}

// Step is one step of an agent pipeline.
type Step struct {
	// Name labels the step (plan, search, answer…).
	Name string `yaml:"name" json:"name"`
	// PromptTokens is the step's new input (tool result, instruction)
	// added to the context; default: the persona's prompt_tokens.
	PromptTokens Dist `yaml:"prompt_tokens" json:"prompt_tokens,omitzero"`
	// CompletionTokens is the step's max_tokens; default: the persona's.
	CompletionTokens Dist `yaml:"completion_tokens" json:"completion_tokens,omitzero"`
	// Repeat runs the step this many times in a row (default 1), e.g. tool calls.
	Repeat int `yaml:"repeat" json:"repeat,omitempty"`
}

// Backoff is exponential backoff with full jitter: the n-th retry waits a
// uniform time in [0, min(Max, Initial·2^(n-1))].
type Backoff struct {
	Initial Duration `yaml:"initial" json:"initial,omitempty"` // default 1s
	Max     Duration `yaml:"max" json:"max,omitempty"`         // default 30s
}

// SLO is a per-request objective; a request that succeeded within every
// set bound counts as goodput. Zero bounds are not checked.
type SLO struct {
	// TTFT bounds the time to the first response byte.
	TTFT Duration `yaml:"ttft" json:"ttft,omitempty"`
	// Latency bounds the time from the intended start of the first attempt
	// to the final response (retries and waits included).
	Latency Duration `yaml:"latency" json:"latency,omitempty"`
}

// SubKey is one subscription a persona calls with.
type SubKey struct {
	ID  string // subscription id (or a label for explicit keys)
	Key string
}

// ErrNoSubscription is the message of a persona without subscription or
// key; a scenario against an external target that needs no key drops it.
var ErrNoSubscription = errors.New("must be set (or subscriptions, or key)")

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
	if p.API == "" {
		p.API = chat.OpChat
	}
	if p.Count == 0 {
		p.Count = 1
	}
	if p.MaxRetries == nil {
		n := 3
		p.MaxRetries = &n
	}
	if p.OnThrottle == "" {
		p.OnThrottle = ThrottleRetryAfter
	}
	if p.Arrival == "" {
		p.Arrival = ArrivalPoisson
	}
	if p.Burstiness == 0 {
		p.Burstiness = 1
	}
	if p.Backoff.Initial == 0 {
		p.Backoff.Initial = Duration(1e9)
	}
	if p.Backoff.Max == 0 {
		p.Backoff.Max = Duration(30e9)
	}
	p.applyProfile()
	if p.Kind == KindBatch && p.Concurrency == 0 && p.Rate == 0 {
		p.Concurrency = 1
	}
	if p.Repeat != nil {
		p.Repeat.defaults()
	}
	for i := range p.Steps {
		if p.Steps[i].Repeat == 0 {
			p.Steps[i].Repeat = 1
		}
	}
}

// SubscriptionIDs returns the subscription ids p names (pool or single).
func (p *Persona) SubscriptionIDs() []string {
	if len(p.Subscriptions) > 0 {
		return p.Subscriptions
	}
	if p.Subscription != "" {
		return []string{p.Subscription}
	}
	return nil
}

// Validate returns every problem of p, with paths under prefix.
func (p *Persona) Validate(prefix string) []error {
	v := &validator{prefix: prefix}
	if p.Name == "" {
		v.bad("name", "must be set")
	}
	if strings.ContainsFunc(p.Name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		v.bad("name", "must not contain control characters (it is sent in the %s header)", HeaderPersona)
	}
	if !slices.Contains(Kinds, p.Kind) {
		v.bad("kind", "unknown kind %q (want %s)", p.Kind, strings.Join(Kinds, ", "))
	}
	if p.Count < 1 {
		v.bad("count", "must be >= 1, got %d", p.Count)
	}
	if p.Subscription == "" && len(p.Subscriptions) == 0 && p.Key == "" {
		v.bad("subscription", "%s", ErrNoSubscription)
	}
	if p.Subscription != "" && len(p.Subscriptions) > 0 {
		v.bad("subscriptions", "set subscription or subscriptions, not both")
	}
	if j := p.UserJWT; j != nil && j.Secret != "" && j.SecretEnv != "" {
		v.bad("user_jwt.secret_env", "set secret or secret_env, not both")
	}
	if !slices.Contains(Operations, p.API) {
		v.bad("api", "unknown api %q (want %s)", p.API, strings.Join(Operations, ", "))
	}
	if p.Profile != "" && !slices.Contains(Profiles, p.Profile) {
		v.bad("profile", "unknown profile %q (want %s)", p.Profile, strings.Join(Profiles, ", "))
	}
	if !slices.Contains(ThrottlePolicies, p.OnThrottle) {
		v.bad("on_throttle", "unknown policy %q (want %s)", p.OnThrottle, strings.Join(ThrottlePolicies, ", "))
	}
	if p.MaxRetries != nil && *p.MaxRetries < 0 {
		v.bad("max_retries", "must be >= 0, got %d", *p.MaxRetries)
	}
	if p.Backoff.Initial < 0 || p.Backoff.Max < p.Backoff.Initial {
		v.bad("backoff", "need 0 <= initial <= max")
	}
	if p.SLO.TTFT < 0 || p.SLO.Latency < 0 {
		v.bad("slo", "bounds must be >= 0")
	}
	v.dist("prompt_tokens", p.PromptTokens, p.Kind != KindAgent || len(p.Steps) == 0)
	v.dist("completion_tokens", p.CompletionTokens, p.Kind != KindAgent || len(p.Steps) == 0)
	if err := p.Shape.Validate(); err != nil {
		v.bad("shape", "%v", err)
	}
	if p.Repeat != nil {
		p.Repeat.validate(v)
	}
	p.validateKindFields(v)
	switch p.Kind {
	case KindChat, KindNAT:
		p.validateUsers(v)
	case KindBatch:
		p.validateBatch(v)
	case KindAgent:
		p.validateAgent(v)
	}
	return v.errs
}

// validateKindFields rejects fields that the persona's kind ignores, so
// a misplaced field is not silently without effect.
func (p *Persona) validateKindFields(v *validator) {
	only := func(field string, set bool, kinds ...string) {
		if set && !slices.Contains(kinds, p.Kind) {
			v.bad(field, "only for kind %s", strings.Join(kinds, " or "))
		}
	}
	only("steps", len(p.Steps) > 0, KindAgent)
	only("proactive", p.Proactive, KindAgent)
	only("requests", p.Requests != 0, KindBatch)
	only("concurrency", p.Concurrency != 0, KindBatch)
	only("at", p.At != 0, KindBatch)
	only("every", p.Every != 0, KindBatch)
	only("turns", !p.Turns.IsZero(), KindChat, KindNAT)
	only("think_time", !p.ThinkTime.IsZero(), KindChat, KindNAT)
}

func (p *Persona) validateArrival(v *validator) {
	if p.Rate <= 0 {
		v.bad("rate", "must be > 0, got %s", p.Rate)
	}
	switch p.Arrival {
	case ArrivalPoisson, ArrivalConstant:
	case ArrivalGamma:
		if p.Burstiness <= 0 {
			v.bad("burstiness", "must be > 0, got %g", p.Burstiness)
		}
	default:
		v.bad("arrival", "unknown arrival %q (want %s)", p.Arrival, strings.Join(Arrivals, ", "))
	}
}

func (p *Persona) validateUsers(v *validator) {
	p.validateArrival(v)
	v.dist("turns", p.Turns, false)
	v.dist("think_time", p.ThinkTime, false)
	if p.Kind == KindNAT && p.EgressIPs < 1 {
		v.bad("egress_ips", "must be >= 1 for kind nat, got %d", p.EgressIPs)
	}
	if p.Kind == KindNAT && p.EgressIPs > 250 {
		v.bad("egress_ips", "at most 250 loopback source addresses, got %d", p.EgressIPs)
	}
	if p.Kind != KindNAT && p.EgressIPs != 0 {
		v.bad("egress_ips", "only for kind nat")
	}
}

func (p *Persona) validateBatch(v *validator) {
	if p.Requests < 1 {
		v.bad("requests", "must be >= 1 for kind batch, got %d", p.Requests)
	}
	if p.Rate < 0 {
		v.bad("rate", "must be >= 0, got %s", p.Rate)
	}
	if p.Concurrency < 0 {
		v.bad("concurrency", "must be >= 0, got %d", p.Concurrency)
	}
	if p.Rate > 0 && p.Concurrency > 0 {
		v.bad("concurrency", "set concurrency or rate, not both")
	}
	if p.At < 0 || p.Every < 0 {
		v.bad("every", "at and every must be >= 0")
	}
}

func (p *Persona) validateAgent(v *validator) {
	p.validateArrival(v)
	if len(p.Steps) == 0 {
		v.bad("steps", "an agent needs at least one step")
	}
	for i, s := range p.Steps {
		path := fmt.Sprintf("steps[%d]", i)
		if s.Repeat < 1 {
			v.bad(path+".repeat", "must be >= 1, got %d", s.Repeat)
		}
		v.dist(path+".prompt_tokens", s.PromptTokens, p.PromptTokens.IsZero())
		v.dist(path+".completion_tokens", s.CompletionTokens, p.CompletionTokens.IsZero())
	}
}

// validator collects field errors under a prefix.
type validator struct {
	prefix string
	errs   []error
}

func (v *validator) bad(field, format string, a ...any) {
	v.errs = append(v.errs, &FieldError{Path: v.prefix + "." + field, Msg: fmt.Sprintf(format, a...)})
}

// dist checks d; required says whether an unset d is an error.
func (v *validator) dist(field string, d Dist, required bool) {
	if d.IsZero() && !required {
		return
	}
	if err := d.Validate(); err != nil {
		v.bad(field, "%v", err)
	}
}
