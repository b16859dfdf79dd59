package loadgen

import (
	"fmt"
	"math/rand/v2"
)

// Request-shape profiles, after the Azure OpenAI benchmarking tool's: a
// persona's `profile:` sets the prompt and completion lengths it leaves
// unset, and gives every prompt a random prefix so that no prompt cache
// answers part of it and flatters the result.
const (
	// ProfileBalanced is 500 prompt tokens and max_tokens 500.
	ProfileBalanced = "balanced"
	// ProfileContext is 2000 prompt tokens and max_tokens 200: retrieval,
	// summarising, long instructions.
	ProfileContext = "context"
	// ProfileGeneration is 500 prompt tokens and max_tokens 1000: drafting
	// and code generation.
	ProfileGeneration = "generation"
)

// Profiles lists the request-shape profiles.
var Profiles = []string{ProfileBalanced, ProfileContext, ProfileGeneration}

// ProfileShape returns a profile's prompt tokens and max_tokens, and
// whether the profile exists.
func ProfileShape(name string) (prompt, maxTokens int64, ok bool) {
	switch name {
	case ProfileBalanced:
		return 500, 500, true
	case ProfileContext:
		return 2000, 200, true
	case ProfileGeneration:
		return 500, 1000, true
	}
	return 0, 0, false
}

// profileDists are a profile's length distributions: prompts uniform
// within ±50 % of the profile's length (mean the profile's: lengths that
// vary are what a latency fit against prompt length needs), max_tokens
// fixed.
func profileDists(name string) (prompt, completion Dist, ok bool) {
	p, c, ok := ProfileShape(name)
	if !ok {
		return Dist{}, Dist{}, false
	}
	return Dist{Kind: DistUniform, Min: float64(p) / 2, Max: float64(p) * 3 / 2}, Dist{Kind: DistFixed, Value: float64(c)}, true
}

// applyProfile fills p's unset lengths from its profile.
func (p *Persona) applyProfile() {
	pd, cd, ok := profileDists(p.Profile)
	if !ok {
		return
	}
	if p.PromptTokens.IsZero() {
		p.PromptTokens = pd
	}
	if p.CompletionTokens.IsZero() {
		p.CompletionTokens = cd
	}
}

// prefixTokens is about how many tokens a random prefix takes.
const prefixTokens = 8

// randomPrefix returns a prompt prefix no other request shares: a prompt
// cache matches prefixes, so a prompt starting with it is never served
// from one.
func randomPrefix(rng *rand.Rand) string {
	return fmt.Sprintf("request %016x %08x:\n", rng.Uint64(), rng.Uint32())
}

// prefixed returns a user message of about n tokens starting with a random
// prefix; its token count is left to the gateway (-1).
func (t *texts) prefixed(c *call, n int64) message {
	s := randomPrefix(c.rng) + t.prompt(max(n-prefixTokens, 1))
	return message{Role: "user", Content: s, tokens: n, counted: -1}
}
