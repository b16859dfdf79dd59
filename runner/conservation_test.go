package runner

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// conservationScenario has three teams behind two faulty embedded mock
// backends (500s and connection resets on both, so some failures reach the
// callers after the gateway's retry), one team streaming and one throttled
// by its tokens-per-minute limit.
const conservationScenario = `
name: conservation
duration: 5s
seed: 7
model: gpt-4o-mini
gateway:
  backends:
    - {name: ptu-1, tier: ptu, priority: 1, mock: {error_rate: 0.15, reset_rate: 0.1, first_token_delay: 5ms, per_token_delay: 50us}}
    - {name: payg-1, tier: payg, priority: 2, mock: {error_rate: 0.15, reset_rate: 0.1, first_token_delay: 5ms, per_token_delay: 50us}}
  retry: {count: 1}
  products:
    - {name: standard, tokens_per_minute: 10000000}
    - {name: small, tokens_per_minute: 4000}
  subscriptions:
    - {id: a-sub, key: sk-a-0001, product: standard, team: alpha}
    - {id: b-sub, key: sk-b-0002, product: standard, team: beta}
    - {id: c-sub, key: sk-c-0003, product: small, team: gamma}
personas:
  - {name: alpha-chat, kind: chat, team: alpha, subscription: a-sub, count: 3, rate: 240/min, prompt_tokens: 200, completion_tokens: {dist: uniform, min: 20, max: 80}}
  - {name: beta-stream, kind: chat, team: beta, subscription: b-sub, count: 3, rate: 240/min, stream: true, prompt_tokens: 150, completion_tokens: {dist: uniform, min: 20, max: 80}}
  - {name: gamma-over, kind: chat, team: gamma, subscription: c-sub, count: 2, rate: 240/min, prompt_tokens: 300, completion_tokens: 100}
`

// TestAccountingConservation runs a mixed scenario with injected backend
// faults and checks, per team, that the tokens the mock backends served,
// the tokens in the gateway's ok records (in DuckDB) and the tokens the
// load generator received are the same, and that the faults did happen.
func TestAccountingConservation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "conservation.yaml")
	if err := os.WriteFile(path, []byte(conservationScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Options{Scenario: path, OutDir: dir, ProgressEvery: time.Hour}, io.Discard, io.Discard)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	teamOf := map[string]string{}
	for _, p := range res.Scenario.Personas {
		teamOf[p.Name] = p.Team
	}
	served, seen := map[string]int64{}, map[string]int64{}
	for persona, u := range res.Served {
		served[teamOf[persona]] += u.TotalTokens
	}
	for _, p := range res.Load.Personas {
		seen[teamOf[p.Name]] += p.PromptTokens + p.CompletionTokens
	}
	db := openDB(t, res.DB)
	recorded := queryMap(t, db, `SELECT team, sum(total_tokens) FROM records WHERE outcome = 'ok' GROUP BY team`)
	for _, team := range []string{"alpha", "beta", "gamma"} {
		if served[team] == 0 || served[team] != recorded[team][0] || served[team] != seen[team] {
			t.Errorf("team %s: mock served %d tokens, gateway ok records %d, load generator saw %d; want all equal and > 0",
				team, served[team], recorded[team][0], seen[team])
		}
	}
	outcomes := queryMap(t, db, `SELECT outcome, count(*) FROM records GROUP BY outcome`)
	t.Logf("tokens served %v, recorded %v, seen %v; outcomes %v", served, recorded, seen, outcomes)
	for _, want := range []string{"ok", "backend_error", "throttled"} {
		if outcomes[want][0] == 0 {
			t.Errorf("no %s records (outcomes %v): the run did not exercise what it should", want, outcomes)
		}
	}
	if res.Records != res.Load.Totals().Sent {
		t.Errorf("%d records for %d requests sent", res.Records, res.Load.Totals().Sent)
	}
}
