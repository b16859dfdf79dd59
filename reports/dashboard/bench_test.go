package dashboard

import (
	"fmt"
	"testing"
	"time"

	"github.com/muesli/termenv"

	"github.com/aiload/aiload/record"
)

// BenchmarkTallyWrite is the cost a served or embedded gateway pays per
// request for the live view: one record through the Tally, spread over 50
// subscriptions and 200 client IPs.
func BenchmarkTallyWrite(b *testing.B) {
	tl := NewTally(miniPrice)
	recs := make([]*record.Record, 1000)
	for i := range recs {
		r := rec(time.Duration(i)*time.Millisecond, fmt.Sprintf("sub-%d", i%50), fmt.Sprintf("team-%d", i%10), record.OutcomeOK, 800, 200, 150)
		r.ClientIP = fmt.Sprintf("127.0.%d.%d", i%200/250, 2+i%200)
		if i%7 == 0 {
			r.Outcome, r.Status = record.OutcomeThrottled, 429
		}
		recs[i] = r
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		_ = tl.Write(recs[i%len(recs)])
	}
}

// BenchmarkSnapshotAndView is the once-a-second work of the live view:
// a Tally snapshot of 50 subscriptions and the overview frame at 160×50.
func BenchmarkSnapshotAndView(b *testing.B) {
	tl := NewTally(miniPrice)
	for i := range 5000 {
		_ = tl.Write(rec(time.Duration(i)*10*time.Millisecond, fmt.Sprintf("sub-%d", i%50), fmt.Sprintf("team-%d", i%10), record.OutcomeOK, 800, 200, 150))
	}
	m := pinned(termenv.ANSI256, 160, 50, nil)
	now := t0.Add(50 * time.Second)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		next, _ := m.Update(snapshotMsg(tl.Snapshot(now)))
		_ = next.(Model).View()
	}
}
