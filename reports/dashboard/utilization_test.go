package dashboard

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/muesli/termenv"

	"github.com/aiload/aiload/record"
)

// TestTallyUtilization: the records' utilization_pct (what a PTU backend
// reported) becomes its row's average and p95, and the Backends view says
// so; a backend that reported nothing has no such line.
func TestTallyUtilization(t *testing.T) {
	t.Parallel()
	tl := NewTally(nil)
	for i := range 20 {
		r := rec(time.Duration(i)*time.Second, "a-sub", "a", record.OutcomeOK, 100, 50, 10)
		r.Backend, r.BackendTier = "ptu-1", "ptu"
		u := float64(5 * (i + 1)) // 5 %, 10 %, … 100 %
		r.UtilizationPct = &u
		if err := tl.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := tl.Write(rec(21*time.Second, "a-sub", "a", record.OutcomeOK, 100, 50, 10)); err != nil { // payg "mock"
		t.Fatal(err)
	}
	s := tl.Snapshot(t0.Add(22 * time.Second))
	rows := map[string]BackendRow{}
	for _, b := range s.Backends {
		rows[b.Name] = b
	}
	// within the histogram's 3 significant digits
	if b := rows["ptu-1"]; b.UtilizationCount != 20 || math.Abs(b.UtilizationAvg-52.5) > 0.05 || math.Abs(b.UtilizationP95-95) > 0.1 {
		t.Errorf("ptu-1: utilization count %d avg %g p95 %g, want 20, 52.5, 95", b.UtilizationCount, b.UtilizationAvg, b.UtilizationP95)
	}
	if b := rows["mock"]; b.UtilizationCount != 0 {
		t.Errorf("payg backend: utilization count %d, want 0", b.UtilizationCount)
	}
	view := feed(t, pinned(termenv.Ascii, 100, 24, nil), snapshotMsg(s), tab).View()
	if want := "ptu-1 reported utilization: avg 52.5%, p95 95.0% over 20 answers"; !strings.Contains(view, want) {
		t.Errorf("backends view lacks %q:\n%s", want, view)
	}
	if strings.Contains(view, "mock reported") {
		t.Errorf("backends view reports utilization for a PAYG backend:\n%s", view)
	}
}
