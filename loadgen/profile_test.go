package loadgen

import (
	"strings"
	"testing"
	"time"
)

// TestProfiles: a persona's profile sends the benchmarking tool's request
// shapes (max_tokens 500, 200 or 1000; prompts within ±50 % of 500, 2000
// or 500 words), every prompt opening with a prefix no other request
// shares, so that no prompt cache serves any part of it.
func TestProfiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		profile        string
		prompt, maxTok int64
	}{
		{ProfileBalanced, 500, 500},
		{ProfileContext, 2000, 200},
		{ProfileGeneration, 500, 1000},
	} {
		srv := &scripted{}
		url := start(t, srv)
		p := persona(KindBatch, func(p *Persona) {
			p.Rate, p.Requests, p.Concurrency = 0, 20, 4
			p.PromptTokens, p.CompletionTokens, p.Profile = Dist{}, Dist{}, tc.profile
		})
		p.Defaults()
		run(t, url, 2*time.Second, p)
		reqs := srv.requests()
		if len(reqs) != 20 {
			t.Fatalf("%s: %d requests, want 20", tc.profile, len(reqs))
		}
		prefixes := map[string]bool{}
		for _, r := range reqs {
			user := r.messages[len(r.messages)-1].Content
			first, _, _ := strings.Cut(user, "\n")
			if r.maxTok != tc.maxTok || !strings.HasPrefix(first, "request ") || prefixes[first] {
				t.Fatalf("%s: max_tokens %d, prefix %q (seen before: %v); want max_tokens %d and a new prefix",
					tc.profile, r.maxTok, first, prefixes[first], tc.maxTok)
			}
			prefixes[first] = true
			if n := int64(len(strings.Fields(user))); n < tc.prompt/2 || n > tc.prompt*3/2 {
				t.Fatalf("%s: prompt of %d words, want %d ± 50 %%", tc.profile, n, tc.prompt)
			}
		}
	}
}
