package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/reports/assemble"
	"github.com/aiload/aiload/reports/reporttest"
)

// TestReportVerifiesLimits: the PDF's recommendations say what they rest
// on. Without --verify-seeds they are labelled as the replay's estimate
// with the command that verifies them; with it each consumer shows the
// limit the reruns settled on (the same as aiload recommend's), the
// target, the replay's estimate and what the reruns measured, in whole
// wrapped sentences.
func TestReportVerifiesLimits(t *testing.T) {
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
	ctx := context.Background()
	db, err := analytics.Open(ctx, dbs[0])
	if err != nil {
		t.Fatal(err)
	}
	p, ok, err := assemble.DataPeriod(ctx, db)
	db.Close()
	if err != nil || !ok {
		t.Fatalf("data period: %v %v", ok, err)
	}
	period := p.Start.Format(time.RFC3339) + ".." + p.End.Format(time.RFC3339)

	text := func(args ...string) string {
		t.Helper()
		out := filepath.Join(t.TempDir(), "report.pdf")
		args = append([]string{"report", "--db", dbs[0], "--period", period, "--out", out, "--charts", "-"}, args...)
		if code, _, stderr := execute(t, args...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(strings.Fields(reporttest.PDFText(t, b)), " ")
	}

	plain := text()
	for _, want := range []string{"TPM limit recommendations", "Replay estimate, not verified", "aiload recommend --db " + dbs[0],
		"replay estimate, not verified (", "target 1.00 %", "80 % interval"} {
		if !strings.Contains(plain, want) {
			t.Errorf("unverified PDF lacks %q", want)
		}
	}
	if strings.Contains(plain, "verified on") {
		t.Error("unverified PDF claims verified limits")
	}

	code, out, stderr := execute(t, "recommend", "--db", dbs[0], "--period", period, "--verify-seeds", "1", "--format", "json")
	if code != 0 {
		t.Fatalf("recommend: exit %d: %s", code, stderr)
	}
	var doc struct {
		Verification struct {
			Consumers []struct {
				Key            string
				EstimateTPM    int64 `json:"estimate_tpm"`
				RecommendedTPM int64 `json:"recommended_tpm"`
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	verified := text("--verify-seeds", "1")
	for _, want := range []string{"Verified by rerunning the scenario on the virtual clock", "of first attempts refused on average (min–max",
		"The replay estimated", "target 1.00 %"} {
		if !strings.Contains(verified, want) {
			t.Errorf("verified PDF lacks %q", want)
		}
	}
	if strings.Contains(verified, "Replay estimate, not verified") {
		t.Error("verified PDF still says not verified")
	}
	shown, differ := 0, 0
	for _, c := range doc.Verification.Consumers {
		if c.RecommendedTPM == 0 {
			continue
		}
		want := fmt.Sprintf("recommended %s TPM, verified on 1 reruns", groupThousands(c.RecommendedTPM))
		if strings.Contains(verified, want) {
			shown++
			if c.RecommendedTPM != c.EstimateTPM {
				differ++
				if !strings.Contains(verified, fmt.Sprintf("The replay estimated %s TPM", groupThousands(c.EstimateTPM))) {
					t.Errorf("%s: the replay's %d TPM is not shown as the estimate", c.Key, c.EstimateTPM)
				}
			}
		}
	}
	if shown == 0 {
		t.Errorf("no verified limit of aiload recommend's appears in the PDF: %+v", doc.Verification.Consumers)
	}
	t.Logf("%d verified limits shown, %d differ from the replay's estimate", shown, differ)
	i := strings.Index(verified, "TPM limit recommendations")
	if i < 0 || strings.Contains(verified[i:], "…") {
		t.Error("the recommendations are cut short with an ellipsis")
	}
}

// groupThousands writes 45000 as 45,000, as the PDF does.
func groupThousands(v int64) string {
	s := fmt.Sprint(v)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
