package reports

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aiload/aiload/reports/reporttest"

	"github.com/aiload/aiload/pricing"
)

// poppler runs a poppler tool (pdffonts, pdfinfo) on a PDF.
// .ci/run installs poppler-utils; without it the PDF reading tests skip.
func poppler(t *testing.T, tool string, pdf []byte, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s not installed (apt-get install poppler-utils)", tool)
	}
	path := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(path, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, append(args, path)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, out)
	}
	return string(out)
}

var fixedTime = time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)

func renderPDF(t testing.TB, r Report) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WritePDF(&buf, r, PDFOptions{Created: fixedTime, Generator: "aiload test"}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestPDFTeamTotalsMatchCSV(t *testing.T) {
	t.Parallel()
	r := sampleReport()
	text := reporttest.PDFText(t, renderPDF(t, r))
	checkTotalsAgainstCSV(t, r, text)
	for _, s := range []string{"Period 2026-11: 2026-11-01 to 2026-12-01", "Contents", "Cost by team",
		"Team: Équipe Données", "Capacity: provisioned throughput", "PTU plan: gpt-4o", "Methodology",
		"Pricing source", "Rounding", "throttled: 34 (1.70 %), first attempt refused", "Retries: 50, of which 18 refused", "Tokens refused: 34,000 of 4,806,000 asked by first attempts (0.71 %)",
		"PAYG input", "PAYG cached", "PAYG output", "On PTU (input-eq.)", `Not billed: no price for model "llama-3"`, "p99 minute was 106k tokens",
		"Page 1 of 10", "Page 10 of 10"} {
		if !strings.Contains(text, s) {
			t.Errorf("PDF text lacks %q", s)
		}
	}
	checkTOC(t, text, "research")
}

// TestPDF50Teams checks the multi-page summary and contents of a large
// report: every team's total on its page and in the summary equals the CSV.
func TestPDF50Teams(t *testing.T) {
	t.Parallel()
	r := syntheticReport(50)
	text := reporttest.PDFText(t, renderPDF(t, r))
	checkTotalsAgainstCSV(t, r, text)
	checkTOC(t, text, "team-49")
	if !strings.Contains(text, "Page 60 of 60") {
		t.Errorf("want 60 pages")
	}
}

// checkTotalsAgainstCSV finds every team's total on its page and in the
// summary table, and the grand total on the cover, equal to the CSV's sums.
func checkTotalsAgainstCSV(t *testing.T, r Report, text string) {
	t.Helper()
	var csvBuf bytes.Buffer
	if err := WriteCSV(&csvBuf, r); err != nil {
		t.Fatal(err)
	}
	want := reporttest.CSVTeamTotals(t, csvBuf.Bytes(), "team", "cost")
	got := reporttest.TeamPageTotals(text)
	if len(got) != len(want) {
		t.Errorf("team pages with a total: %v, want teams %v", got, want)
	}
	for team, w := range want {
		if got[team] != w {
			t.Errorf("PDF total for %s = %q, CSV says %s", team, got[team], w)
		}
		// The summary table lists the same total on the team's row.
		row := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(team) + `\s+\$[0-9,.]+\s+\$[0-9,.]+\s+\$([0-9,.]+)`)
		if m := row.FindStringSubmatch(text); m == nil || strings.ReplaceAll(m[1], ",", "") != w {
			t.Errorf("summary row for %s = %v, want total %s", team, m, w)
		}
	}
	r.Normalize()
	if g := Total(r.Lines()).Display(r.Currency); !strings.Contains(text, "Total for the period: "+g) {
		t.Errorf("cover does not show the total %s", g)
	}
}

// checkTOC checks that the contents line of a team points at its page.
func checkTOC(t *testing.T, text, team string) {
	t.Helper()
	toc := regexp.MustCompile(`Team: ` + regexp.QuoteMeta(team) + `[ .]+(\d+)`).FindStringSubmatch(text)
	pages := strings.Split(text, "\f")
	if toc == nil {
		t.Fatalf("no contents line for %s", team)
	}
	n := 0
	for _, c := range toc[1] {
		n = n*10 + int(c-'0')
	}
	if n < 1 || n > len(pages) || !strings.Contains(pages[n-1], "Team total") || !strings.Contains(pages[n-1], "Team: "+team) {
		t.Errorf("contents says %s is on page %d, which reads:\n%s", team, n, pages[min(max(n-1, 0), len(pages)-1)])
	}
}

func TestPDFFontsEmbeddedAndDateFixed(t *testing.T) {
	t.Parallel()
	pdf := renderPDF(t, sampleReport())
	fonts := poppler(t, "pdffonts", pdf)
	lines := strings.Split(strings.TrimSpace(fonts), "\n")
	if len(lines) < 3 {
		t.Fatalf("pdffonts lists no fonts:\n%s", fonts)
	}
	for _, l := range lines[2:] {
		f := strings.Fields(l)
		// name type encoding emb sub uni object ID
		if len(f) < 7 || f[len(f)-5] != "yes" || f[len(f)-3] != "yes" {
			t.Errorf("font not embedded with a unicode map: %q", l)
		}
	}
	info := poppler(t, "pdfinfo", pdf, "-isodates")
	if !strings.Contains(info, "2026-12-01T06:00:00") {
		t.Errorf("creation date not the fixed one:\n%s", info)
	}
}

func TestPDFIsReproducible(t *testing.T) {
	t.Parallel()
	a, b := renderPDF(t, sampleReport()), renderPDF(t, sampleReport())
	if !bytes.Equal(a, b) {
		t.Errorf("two renderings with the same creation date differ (%d vs %d bytes)", len(a), len(b))
	}
	if !bytes.HasPrefix(a, []byte("%PDF-")) {
		t.Errorf("not a PDF: %q", a[:min(len(a), 16)])
	}
}

func TestCreationTime(t *testing.T) {
	t.Parallel()
	now := func() time.Time { return fixedTime }
	cases := []struct {
		env  string
		want time.Time
		err  bool
	}{
		{"", fixedTime, false}, // unset: now
		{"1764547200", time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), false}, // seconds since 1970
		{"yesterday", time.Time{}, true},                                    // not a number
	}
	for _, c := range cases {
		got, err := CreationTime(func(string) string { return c.env }, now)
		if (err != nil) != c.err || !got.Equal(c.want) {
			t.Errorf("CreationTime(%q) = %v, %v; want %v (error %v)", c.env, got, err, c.want, c.err)
		}
	}
}

// TestPDFCrowdedPagesStayOnTheirPage fills a team page (many models, many
// consumers, long explanations and names), the capacity page and the
// methodology page to their caps: WritePDF fails if content would run into
// the footer or add pages the contents did not plan.
func TestPDFCrowdedPagesStayOnTheirPage(t *testing.T) {
	t.Parallel()
	r := sampleReport()
	long := strings.Repeat("a very long explanation of why this limit is right ", 6)
	team := "support"
	for i := range 14 {
		r.Usage = append(r.Usage, payg(team, fmt.Sprintf("model-%02d-with-a-long-deployment-name", i), pricing.PAYGInput, int64(1000*(i+1)), 1))
		r.Teams[0].Recommendations = append(r.Teams[0].Recommendations, Recommendation{
			Consumer: fmt.Sprintf("consumer-%02d-%s", i, strings.Repeat("x", 40)), Product: "standard",
			CurrentTPM: 1000, RecommendedTPM: 2000, Explanation: long})
	}
	for i := range 20 {
		r.Plans = append(r.Plans, samplePlan(fmt.Sprintf("extra-model-%02d", i)))
		r.Method.Notes = append(r.Method.Notes, long)
	}
	var buf bytes.Buffer
	if err := WritePDF(&buf, r, PDFOptions{Created: fixedTime}); err != nil {
		t.Fatal(err)
	}
	text := reporttest.PDFText(t, buf.Bytes())
	for _, want := range []string{"other models", "more consumers", "more notes", "more models"} {
		if !strings.Contains(text, want) {
			t.Errorf("crowded report lacks %q", want)
		}
	}
}

func TestPDFEmptyReport(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := WritePDF(&buf, Report{Period: pricing.Month(2026, time.November)}, PDFOptions{Created: fixedTime}); err != nil {
		t.Fatal(err)
	}
	text := reporttest.PDFText(t, buf.Bytes())
	if !strings.Contains(text, "Total for the period: $0.00 across 0 teams") || !strings.Contains(text, "No provisioned-throughput") {
		t.Errorf("empty report text:\n%s", text)
	}
}

// TestPDFPlanStayOnPAYG: a plan whose cheapest candidate is 0 PTU says so
// in words on the capacity page and its plan page, marks 0 PTU in the
// candidate table, and warns that a month extrapolated from a minute is
// tentative.
func TestPDFPlanStayOnPAYG(t *testing.T) {
	t.Parallel()
	r := sampleReport()
	p := samplePlan("gpt-4o")
	p.Points = append([]PlanPoint{{PTUs: 0, SpillCost: usd(900), SpillTokens: 60_000_000}}, p.Points...)
	p.Recommended, p.Cheapest, p.PAYGOnly, p.Tentative = 0, 0, usd(900), true
	p.Verdict = "Tentative (less than a day of data): Stay on pay-as-you-go: 900/month."
	p.Explanation = p.Verdict + " Billing hourly (deployment d1)."
	p.Evidence = "monthly figures extrapolated from 1 minute of data to a 730-hour month"
	r.Plans = []PTUPlan{p}
	text := reporttest.PDFText(t, renderPDF(t, r))
	for _, s := range []string{"Stay on pay-as-you-go: 900/month.", "Tentative: monthly figures extrapolated from 1 minute",
		"Billing hourly (deployment d1).", "all PAYG", "recommended, cheapest"} {
		if !strings.Contains(text, s) {
			t.Errorf("PDF text lacks %q", s)
		}
	}
}

// TestPDFReasonsWrap: a recommendation's reason longer than a line is
// printed whole, wrapped, not cut with an ellipsis.
func TestPDFReasonsWrap(t *testing.T) {
	t.Parallel()
	r := sampleReport()
	long := strings.Repeat("the p99 minute stayed under the proposed limit on every day of the period; ", 3) + "END-OF-REASON"
	r.Teams[0].Recommendations = []Recommendation{{Consumer: "wrapped-consumer", Product: "standard", CurrentTPM: 1000, RecommendedTPM: 2000, Explanation: long}}
	var buf bytes.Buffer
	if err := WritePDF(&buf, r, PDFOptions{Created: fixedTime}); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(reporttest.PDFText(t, buf.Bytes())), " ")
	if !strings.Contains(text, "Replay: "+strings.Join(strings.Fields(long), " ")) {
		t.Errorf("the reason is not printed whole:\n%s", text)
	}
}

// TestPDFRecommendationsVerified: each consumer says in words the limit
// to set, the target, the replay's estimate, what the reruns measured
// (mean, min–max) and the interval; a consumer with too few requests says
// "not enough data", one the reruns could not verify says why; the
// basis of the limits heads them.
func TestPDFRecommendationsVerified(t *testing.T) {
	t.Parallel()
	r := sampleReport()
	r.Limits = LimitsBasis{Target: 0.01, Verified: true, Note: "Verified by rerunning the scenario on the virtual clock with other seeds."}
	r.Teams[0].Recommendations = []Recommendation{
		{Consumer: "steady-sub", Product: "standard", CurrentTPM: 90_000, RecommendedTPM: 54_000, EstimateTPM: 47_000, EstimateShare: 0.008,
			LowTPM: 45_000, HighTPM: 49_000, Verified: true, VerifiedTPM: 54_000, Mean: 0.0095, Min: 0.0081, Max: 0.0112, Reruns: 3},
		{Consumer: "batch-sub", CurrentTPM: 300_000, RecommendedTPM: 515_000, EstimateTPM: 515_000, EstimateShare: 0.006, Verified: true,
			VerifyNote: "not verified: its limit is a per-key limit the scenario does not set"},
		{Consumer: "tiny-sub", CurrentTPM: 10_000, RecommendedTPM: 10_000, NotEnoughData: true, Requests: 42},
	}
	text := strings.Join(strings.Fields(reporttest.PDFText(t, renderPDF(t, r))), " ")
	for _, want := range []string{
		"Verified by rerunning the scenario on the virtual clock",
		"steady-sub (product standard): recommended 54,000 TPM, verified on 3 reruns: 0.95 % of first attempts refused on average (min–max 0.81 %–1.12 %), target 1.00 %. The replay estimated 47,000 TPM (0.80 % refused there); 80 % interval 45,000–49,000 TPM; current limit 90,000 TPM.",
		"batch-sub: recommended 515,000 TPM, the replay's estimate (0.60 % of first attempts refused there, target 1.00 %); could not be verified: its limit is a per-key limit the scenario does not set",
		"tiny-sub: not enough data (42 first attempts) to size a limit; it keeps its current limit, 10,000 TPM.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q", want)
		}
	}
}
