package loadgen

import (
	"testing"
	"time"

	"github.com/aiload/aiload/gateway/mockllm"
)

// TestPersonaAPIs runs personas calling the Responses API and legacy
// completions, plain and streamed, against the mock on both target APIs:
// each answer's usage is read from its own wire shape (usage.input_tokens,
// response.completed, a completions usage chunk), and the mock served
// what the load generator counted.
func TestPersonaAPIs(t *testing.T) {
	t.Parallel()
	for _, api := range []string{APIOpenAI, "azure"} {
		mock := mockllm.New(mockllm.Config{Seed: 1, MinFraction: 1})
		url := start(t, mock)
		var ps []Persona
		for _, op := range []string{"responses", "completions"} {
			for _, stream := range []bool{false, true} {
				ps = append(ps, persona(KindChat, func(p *Persona) {
					p.Name, p.API, p.Stream, p.Rate = op, op, stream, 10
					if stream {
						p.Name += "-stream"
					}
					// below the Responses API's minimum of 16: sent as 16
					p.CompletionTokens = Dist{Kind: DistFixed, Value: 12}
				}))
			}
		}
		res, err := runOpts(Options{Scenario: "ops", Duration: time.Second, Seed: 1, Model: "gpt-4o-mini",
			Target: Target{URL: url, API: api}, Personas: ps})
		if err != nil {
			t.Fatal(err)
		}
		served := mock.Served()
		for _, s := range res.Personas {
			want := int64(12)
			if s.Name == "responses" || s.Name == "responses-stream" {
				want = 16
			}
			m := served[s.Name]
			if s.OK == 0 || s.Errors > 0 || s.CompletionTokens != want*s.OK || s.PromptTokens == 0 {
				t.Errorf("%s %s: %d ok, %d errors, %d completion and %d prompt tokens; want %d completion tokens each", api, s.Name, s.OK, s.Errors, s.CompletionTokens, s.PromptTokens, want)
			}
			if m.CompletionTokens != s.CompletionTokens || m.PromptTokens != s.PromptTokens {
				t.Errorf("%s %s: mock served %+v, load generator counted %d + %d", api, s.Name, m, s.PromptTokens, s.CompletionTokens)
			}
		}
	}
}
