package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/pricing"
	"github.com/aiload/aiload/reports"
	"github.com/aiload/aiload/reports/assemble"
)

// writeReports writes the run's chargeback into the run folder: report.pdf,
// chargeback.csv, focus.csv (FinOps FOCUS) and charts/ (PNG and SVG), priced with the scenario's
// pricing section laid over the built-in prices. The period is the run's
// own span, so PTU deployments are charged for the run's minutes only.
func (res *Result) writeReports(ctx context.Context, now func() time.Time, stderr io.Writer) error {
	prices, source, err := scenarioPricing(res.Scenario.Pricing)
	if err != nil {
		return err
	}
	r, err := res.buildReport(ctx, prices, source, stderr)
	if err != nil || r == nil {
		return err
	}
	created, err := reports.CreationTime(os.Getenv, now)
	if err != nil {
		return err
	}
	res.ReportPDF = filepath.Join(res.Dir, "report.pdf")
	res.ChargebackCSV = filepath.Join(res.Dir, "chargeback.csv")
	res.ChartsDir = filepath.Join(res.Dir, "charts")
	if err := writeFile(res.ReportPDF, func(w io.Writer) error {
		return reports.WritePDF(w, *r, reports.PDFOptions{Created: created})
	}); err != nil {
		return err
	}
	if err := writeFile(res.ChargebackCSV, func(w io.Writer) error { return reports.WriteCSV(w, *r) }); err != nil {
		return err
	}
	res.FocusCSV = filepath.Join(res.Dir, "focus.csv")
	if err := writeFile(res.FocusCSV, func(w io.Writer) error { return reports.WriteFOCUS(w, *r) }); err != nil {
		return err
	}
	_, err = reports.WriteCharts(res.ChartsDir, *r)
	return err
}

// buildReport computes the run's chargeback report from its database, or
// returns nil when there are no records. The database is closed before the
// report is rendered, so DuckDB's memory is given back first.
func (res *Result) buildReport(ctx context.Context, prices *pricing.Pricing, source string, stderr io.Writer) (*reports.Report, error) {
	db, err := analytics.Open(ctx, res.DB)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := db.LimitMemory(ctx, analysisMemoryLimit); err != nil {
		return nil, err
	}
	period, ok, err := assemble.DataPeriod(ctx, db)
	if err != nil || !ok {
		return nil, err // no records: nothing to charge
	}
	// The run's own report does not rerun the scenario to verify its
	// limits (that costs reruns); it labels them and says how.
	var r *reports.Report
	lifted, err := db.WithinMemoryLimit(ctx, func() (err error) {
		r, _, err = assemble.Build(ctx, db, assemble.Options{Period: period, Pricing: prices, PricingSource: source,
			VerifyHint: "aiload recommend --db " + res.DB})
		return err
	})
	if lifted {
		warnLifted(stderr, "the report's")
	}
	return r, err
}

// warnLifted says that analyses ran out of memory under the run's DuckDB
// cap and were done again without it.
func warnLifted(stderr io.Writer, what string) {
	fmt.Fprintf(stderr, "aiload: %s queries ran out of memory under DuckDB's %s cap and ran again without it (the run's peak memory is higher)\n",
		what, analysisMemoryLimit)
}

// scenarioPricing reads the scenario's pricing section as a pricing file.
func scenarioPricing(section map[string]any) (*pricing.Pricing, string, error) {
	if len(section) == 0 {
		return pricing.Default(), "built-in default prices (the scenario has no pricing section)", nil
	}
	src, err := yaml.Marshal(section)
	if err != nil {
		return nil, "", fmt.Errorf("scenario pricing: %w", err)
	}
	p, err := pricing.Parse("scenario pricing", src)
	if err != nil {
		return nil, "", err
	}
	return p, "the scenario's pricing section laid over the built-in default prices", nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", filepath.Base(path), err)
	}
	err = write(f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close %s: %w", filepath.Base(path), cerr)
	}
	return err
}
