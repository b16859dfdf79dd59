package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRecommendVerifies: recommend on a run folder's database finds the
// scenario through summary.json, reruns it with other seeds and prints the
// verified limits beside the replay's estimate; the office's per-IP limit
// is searched as one limit with its busiest address; logs copied away
// from the run folder say how to verify them; --no-verify skips it.
func TestRecommendVerifies(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if code, _, stderr := execute(t, "run", "../../scenarios/mixed-day.yaml", "--clock", "virtual", "--duration", "8m",
		"--no-tui", "--out", dir); code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	dbs, _ := filepath.Glob(filepath.Join(dir, "*", "aiload.duckdb"))
	if len(dbs) != 1 {
		t.Fatalf("run folder databases: %v", dbs)
	}
	code, out, stderr := execute(t, "recommend", "--db", dbs[0], "--format", "json", "--min-requests", "50")
	if code != 0 {
		t.Fatalf("recommend: exit %d: %s", code, stderr)
	}
	var doc struct {
		Limits struct {
			Consumers []struct {
				Key            string
				RecommendedTPM int64
				Verified       *struct{ TPM int64 }
			}
			Tiers []struct {
				Name      string
				Consumers []string
				TPM       int64
			}
		}
		Verification struct {
			Seeds             []uint64
			Target            float64
			Rounds            int
			SimulatedDuration int64 `json:"simulated_duration_ns"`
			Consumers         []struct {
				Key            string
				RecommendedTPM int64 `json:"recommended_tpm"`
				Runs           []struct{ First int64 }
				Mean           float64 `json:"mean_share"`
				Met            bool
				Note           string
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	v := doc.Verification
	if len(v.Seeds) != 3 || slices.Contains(v.Seeds, 21) || v.Rounds < 1 || v.SimulatedDuration != 8*60e9 {
		t.Fatalf("verification: seeds %v (the run's is 21), %d rounds, %d ns simulated; want 3 other seeds and the run's 8m",
			v.Seeds, v.Rounds, v.SimulatedDuration)
	}
	keys := map[string]bool{}
	perIP, officeTPM := 0, int64(0)
	for _, c := range v.Consumers {
		keys[c.Key] = true
		if c.RecommendedTPM <= 0 || len(c.Runs) != 3 {
			t.Errorf("%s: verified %d TPM from %d reruns; want a limit from 3", c.Key, c.RecommendedTPM, len(c.Runs))
		}
		if !c.Met && c.Note == "" {
			t.Errorf("%s: target missed (%.2f%%) without a word why", c.Key, 100*c.Mean)
		}
		if strings.Contains(c.Note, "one ip limit for every key") {
			perIP++
			if officeTPM != 0 && c.RecommendedTPM != officeTPM {
				t.Errorf("%s: %d TPM, but the office's other addresses got %d: one per-IP limit", c.Key, c.RecommendedTPM, officeTPM)
			}
			officeTPM = c.RecommendedTPM
		}
	}
	// The tiers are sized on the verified limits, not the replay's.
	verified := map[string]int64{}
	for _, c := range doc.Limits.Consumers {
		if c.Verified == nil {
			t.Errorf("%s: the recommendation does not carry its verified limit", c.Key)
			continue
		}
		verified[c.Key] = c.Verified.TPM
	}
	for _, c := range v.Consumers {
		if verified[c.Key] != c.RecommendedTPM {
			t.Errorf("%s: recommendation carries %d TPM as verified, the reruns settled on %d", c.Key, verified[c.Key], c.RecommendedTPM)
		}
	}
	differs := false
	for _, tier := range doc.Limits.Tiers {
		var want int64
		for _, k := range tier.Consumers {
			want = max(want, verified[k])
		}
		if tier.TPM != want {
			t.Errorf("tier %s: %d TPM, want %d (the largest verified limit of %v)", tier.Name, tier.TPM, want, tier.Consumers)
		}
	}
	for _, c := range doc.Limits.Consumers {
		differs = differs || (c.Verified != nil && c.Verified.TPM != c.RecommendedTPM)
	}
	if !differs {
		t.Log("every verified limit equals the replay's estimate; the tier check above did not tell them apart")
	}
	for _, k := range []string{"support-sub", "finance-batch", "research-agents"} {
		if !keys[k] {
			t.Errorf("no verification for %s: %v", k, keys)
		}
	}
	if perIP != 4 {
		t.Errorf("%d consumers under the office's per-IP limit, want its 4 egress addresses", perIP)
	}

	code, out, _ = execute(t, "recommend", "--db", dbs[0], "--verify-seeds", "1", "--target-throttle", "5%", "--min-requests", "50")
	for _, want := range []string{"Verified on the virtual clock", "rounds of 1 reruns of 8m0s (seeds 1022)", "target 5% ± 0.5 pp",
		"replay estimate", "measured", "support-sub", "busiest key", "largest verified limit among its consumers"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("table (exit %d) lacks %q:\n%s", code, want, out)
		}
	}

	// The same records away from their run folder: the scenario is named,
	// the file is not known.
	away := filepath.Join(t.TempDir(), "copy.duckdb")
	log, _ := filepath.Glob(filepath.Join(dir, "*", "tokens.jsonl"))
	if code, _, stderr := execute(t, "ingest", log[0], "--db", away); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, stderr)
	}
	code, out, _ = execute(t, "recommend", "--db", away)
	if code != 0 || !strings.Contains(out, "not verified: the records came from scenario mixed-day; pass --scenario FILE") {
		t.Errorf("away from the run folder (exit %d):\n%s", code, out)
	}
	code, out, _ = execute(t, "recommend", "--db", away, "--no-verify")
	if code != 0 || strings.Contains(out, "erified") {
		t.Errorf("--no-verify (exit %d) still verifies:\n%s", code, out)
	}
	if code, _, _ := execute(t, "recommend", "--db", away, "--verify-seeds", "-1"); code != 2 {
		t.Errorf("--verify-seeds -1: exit %d, want 2", code)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dbs[0]), "summary.json")); err != nil {
		t.Fatal(err)
	}
}

// TestRecommendVerifyExternal: a scenario that cannot be rerun on the
// virtual clock (its backend is a URL) leaves the recommendation standing
// and says why it was not verified.
func TestRecommendVerifyExternal(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "r.duckdb")
	if code, _, stderr := execute(t, "ingest", "../../analytics/testdata/recommend.jsonl", "--db", db); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, stderr)
	}
	sc := filepath.Join(t.TempDir(), "external.yaml")
	src := "name: external\ngateway:\n  products: [{name: p, tokens_per_minute: 1000}]\n" +
		"  subscriptions: [{id: sub-a, key: k, product: p}]\n  backends: [{name: real, url: 'http://127.0.0.1:9'}]\n" +
		"personas:\n  - {name: a, subscription: sub-a, rate: 1/s, prompt_tokens: 10, completion_tokens: 10}\n"
	if err := os.WriteFile(sc, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := execute(t, "recommend", "--db", db, "--unit", "100", "--scenario", sc)
	if code != 0 || !strings.Contains(out, "not verified: virtual clock: backend real has a url") || !strings.Contains(out, "sub-a") {
		t.Errorf("exit %d (%s):\n%s", code, stderr, out)
	}
}
