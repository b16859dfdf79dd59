package reports

import (
	"bytes"
	"encoding/csv"
	"math/big"
	"strings"
	"testing"

	"github.com/aiload/aiload/reports/reporttest"

	"github.com/aiload/aiload/pricing"
)

// readCSV parses a rendered CSV into header and rows of name → value.
func readCSV(t *testing.T, b []byte) ([]string, []map[string]string) {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("parse csv: %v\n%s", err, b)
	}
	var rows []map[string]string
	for _, rec := range recs[1:] {
		m := map[string]string{}
		for i, c := range recs[0] {
			m[c] = rec[i]
		}
		rows = append(rows, m)
	}
	return recs[0], rows
}

func rat(t *testing.T, s string) *big.Rat {
	t.Helper()
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("%q is not a number", s)
	}
	return r
}

func TestWriteCSV(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := WriteCSV(&buf, sampleReport()); err != nil {
		t.Fatal(err)
	}
	golden(t, "chargeback.golden.csv", buf.Bytes())

	header, rows := readCSV(t, buf.Bytes())
	if strings.Join(header, ",") != strings.Join(ChargebackColumns, ",") {
		t.Errorf("header = %v, want %v", header, ChargebackColumns)
	}
	// 8 PAYG lines + 3 teams × 2 PTU charges.
	if len(rows) != 14 {
		t.Errorf("rows = %d, want 14", len(rows))
	}
	want := map[string]string{ // hand-derived in sampleReport's comment
		"support": "6521.19", "research": "3280.43", "Équipe Données": "1113.33",
	}
	for team, got := range reporttest.CSVTeamTotals(t, buf.Bytes(), "team", "cost") {
		if got != want[team] {
			t.Errorf("team %s total = %s, want %s", team, got, want[team])
		}
	}
	for _, r := range rows {
		// Every row's cost is its quantity × unit price within a cent.
		exact := new(big.Rat).Mul(rat(t, r["pricing_quantity"]), rat(t, r["unit_price"]))
		diff := new(big.Rat).Sub(exact, rat(t, r["cost"]))
		if diff.Abs(diff).Cmp(big.NewRat(1, 100)) > 0 {
			t.Errorf("row %v: cost %s vs quantity × price %s", r, r["cost"], exact.FloatString(6))
		}
	}
}

func TestWriteCSVRejectsReportsThatDoNotAddUp(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		breaks func(r *Report)
		want   string
	}{
		// An allocation a cent short of its charge.
		{"allocations short", func(r *Report) { r.Capacity[0].Allocations[0].Cost -= usd(0.01) }, "allocated costs sum"},
		// Ratios that only reach 0.9.
		{"ratios", func(r *Report) { r.Capacity[0].Allocations[2].Ratio = 0 }, "ratios sum"},
		// A PAYG cost 2 cents away from tokens × price.
		{"payg cost", func(r *Report) { r.Usage[0].Cost += usd(0.02) }, "more than a cent"},
		// A PTU share passed as usage.
		{"type", func(r *Report) { r.Usage[0].Type = pricing.PTUShare }, "not a PAYG cost type"},
		// No period.
		{"period", func(r *Report) { r.Period = pricing.Period{} }, "period"},
		// A capacity charge nobody pays.
		{"unsplit", func(r *Report) { r.Capacity[1].Allocations = nil }, "no allocations"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := sampleReport()
			c.breaks(&r)
			for name, write := range map[string]func(*bytes.Buffer, Report) error{
				"csv":   func(b *bytes.Buffer, r Report) error { return WriteCSV(b, r) },
				"focus": func(b *bytes.Buffer, r Report) error { return WriteFOCUS(b, r) },
			} {
				var buf bytes.Buffer
				err := write(&buf, r)
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%s: err = %v, want one containing %q", name, err, c.want)
				}
			}
		})
	}
}

func TestMoneyFormats(t *testing.T) {
	t.Parallel()
	cases := []struct {
		m                      Money
		exact, rounded, dollar string
	}{
		{usd(2.5), "2.50", "2.50", "$2.50"},                              // two decimals at least
		{usd(0.000075), "0.000075", "0.00", "$0.00"},                     // sub-cent prices stay exact
		{usd(1234567.891), "1234567.891", "1234567.89", "$1,234,567.89"}, // grouping
		{usd(0.005), "0.005", "0.01", "$0.01"},                           // half a cent rounds away from zero
		{usd(-0.005), "-0.005", "-0.01", "-$0.01"},                       // symmetric for credits
		{usd(3280.428765), "3280.428765", "3280.43", "$3,280.43"},
	}
	for _, c := range cases {
		if got := c.m.Exact(); got != c.exact {
			t.Errorf("Money(%d).Exact() = %q, want %q", c.m, got, c.exact)
		}
		if got := c.m.Rounded(); got != c.rounded {
			t.Errorf("Money(%d).Rounded() = %q, want %q", c.m, got, c.rounded)
		}
		if got := c.m.Display("USD"); got != c.dollar {
			t.Errorf("Money(%d).Display() = %q, want %q", c.m, got, c.dollar)
		}
	}
	if got := usd(12).Display("EUR"); got != "€12.00" {
		t.Errorf("EUR display = %q", got)
	}
}
