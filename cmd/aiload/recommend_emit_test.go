package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aiload/aiload/gateway/apimxml"
)

// TestRecommendEmitAPIM: --emit apim writes the recommended product limits
// as a policy document that the gateway reads back with the same limits,
// and that `gateway check` accepts on top of a config.
func TestRecommendEmitAPIM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "r.duckdb")
	if code, _, stderr := execute(t, "ingest", "../../analytics/testdata/recommend.jsonl", "--db", db); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, stderr)
	}
	out := filepath.Join(dir, "policies")
	code, stdout, stderr := execute(t, "recommend", "--db", db, "--unit", "100", "--min-requests", "0", "--caller", "fail",
		"--no-verify", "--emit", "apim", "--out", out)
	// The table says Standard: 1600 TPM (see TestRecommendCommand).
	if code != 0 || !strings.Contains(stdout, "Standard: 1600 TPM") || !strings.Contains(stdout, "Standard.xml: 1600 TPM") {
		t.Fatalf("recommend --emit apim: exit %d stderr %q\n%s", code, stderr, stdout)
	}
	pol, warnings, err := apimxml.ReadFile(filepath.Join(out, "Standard.xml"))
	if err != nil || len(warnings) > 0 || len(pol.TokenLimits) != 1 {
		t.Fatalf("read emitted policy: %v %v %+v", err, warnings, pol)
	}
	l := pol.TokenLimits[0]
	if l.TokensPerMinute != 1600 || l.TokenQuotaPeriod != "Monthly" || l.TokenQuota <= 0 || l.CounterKey != "@(context.Subscription.Id)" {
		t.Errorf("emitted limit %+v, want 1600 TPM keyed by subscription with a monthly quota", l)
	}
	cfg := filepath.Join(dir, "gateway.yaml")
	_ = os.WriteFile(cfg, []byte("products: [{name: Standard}]\nsubscriptions: [{id: sub-a, key: k, product: Standard}]\nbackends: [{name: b, mock: {}}]\n"), 0o600)
	if code, stdout, stderr := execute(t, "gateway", "check", "--config", cfg, "--policy", "product:Standard="+filepath.Join(out, "Standard.xml")); code != 0 {
		t.Errorf("gateway check with the emitted policy: exit %d %s %s", code, stdout, stderr)
	}
	if code, _, stderr := execute(t, "recommend", "--db", db, "--emit", "apim"); code != 2 || !strings.Contains(stderr, "--out") {
		t.Errorf("--emit without --out: exit %d %q", code, stderr)
	}
}
