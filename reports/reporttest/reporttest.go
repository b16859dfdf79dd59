// Package reporttest reads rendered reports back the way a reader would:
// the text of a PDF (poppler's pdftotext) and the team totals of a
// chargeback CSV. It is for tests.
package reporttest

import (
	"bytes"
	"encoding/csv"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// PDFText returns the PDF's text laid out as on the page (pdftotext
// -layout), pages separated by form feeds. The test is skipped when
// pdftotext is not installed (apt-get install poppler-utils; .ci/run does).
func PDFText(t testing.TB, pdf []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Skip("pdftotext not installed (apt-get install poppler-utils)")
	}
	path := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(path, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-layout", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return string(out)
}

var (
	teamHeading = regexp.MustCompile(`(?m)^\s*Team: (.+?)\s*$`)
	teamTotal   = regexp.MustCompile(`Team total: \S*?([0-9][0-9,]*\.[0-9]{2})`)
)

// TeamPageTotals finds "Team total: $1,234.56" on each "Team: NAME" page and
// returns NAME → "1234.56".
func TeamPageTotals(text string) map[string]string {
	return GroupPageTotals(text, "Team")
}

// GroupPageTotals is TeamPageTotals for a bill split by another column,
// whose pages are headed "TITLE: NAME" with "TITLE total: $…" ("Cost
// center: cc-42").
func GroupPageTotals(text, title string) map[string]string {
	heading := teamHeading
	total := teamTotal
	if title != "Team" {
		q := regexp.QuoteMeta(title)
		heading = regexp.MustCompile(`(?m)^\s*` + q + `: (.+?)\s*$`)
		total = regexp.MustCompile(q + ` total: \S*?([0-9][0-9,]*\.[0-9]{2})`)
	}
	out := map[string]string{}
	for _, page := range strings.Split(text, "\f") {
		h, m := heading.FindStringSubmatch(page), total.FindStringSubmatch(page)
		if h != nil && m != nil {
			out[h[1]] = strings.ReplaceAll(m[1], ",", "")
		}
	}
	return out
}

// CSVTeamTotals sums a CSV's cost column per team, exactly, and returns
// team → the sum rounded half away from zero to the cent ("1234.57").
func CSVTeamTotals(t testing.TB, data []byte, teamCol, costCol string) map[string]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("parse csv: %v", err)
	}
	ti, ci := index(recs[0], teamCol), index(recs[0], costCol)
	if ti < 0 || ci < 0 {
		t.Fatalf("csv header %v lacks %s or %s", recs[0], teamCol, costCol)
	}
	sums := map[string]*big.Rat{}
	for _, rec := range recs[1:] {
		v, ok := new(big.Rat).SetString(rec[ci])
		if !ok {
			t.Fatalf("cost %q is not a number", rec[ci])
		}
		if sums[rec[ti]] == nil {
			sums[rec[ti]] = new(big.Rat)
		}
		sums[rec[ti]].Add(sums[rec[ti]], v)
	}
	out := map[string]string{}
	for team, s := range sums {
		out[team] = Cents(s)
	}
	return out
}

// Cents rounds an exact amount half away from zero to the cent: "1234.57".
func Cents(r *big.Rat) string {
	c := new(big.Rat).Mul(r, big.NewRat(100, 1))
	neg := c.Sign() < 0
	c.Abs(c)
	c.Add(c, big.NewRat(1, 2))
	n := new(big.Int).Quo(c.Num(), c.Denom())
	s := n.String()
	for len(s) < 3 {
		s = "0" + s
	}
	s = s[:len(s)-2] + "." + s[len(s)-2:]
	if neg && n.Sign() != 0 {
		return "-" + s
	}
	return s
}

func index(header []string, col string) int {
	for i, c := range header {
		if c == col {
			return i
		}
	}
	return -1
}
