package runner

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/loadgen"
	"github.com/aiload/aiload/record"
	"github.com/aiload/aiload/scenario"
)

type memRecords struct {
	mu   sync.Mutex
	recs []record.Record
}

func (m *memRecords) Write(r *record.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs = append(m.recs, *r)
	return nil
}

// TestVirtualCallLimits: ten simulated minutes of the quickstart with a
// call quota of 12 per 300 s on the standard product and a rate limit of
// 10 calls per 30 s on research: on the virtual clock, every period lets
// exactly 12 calls of a busy standard subscription through and refuses the
// rest with 403, and no 30 s window holds more than 10 of research's calls.
func TestVirtualCallLimits(t *testing.T) {
	t.Parallel()
	sc, err := scenario.Load("../scenarios/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc.Duration = loadgen.Duration(10 * time.Minute)
	period := 300 * time.Second
	sc.Gateway.Quotas = []gateway.QuotaByKey{{Product: "standard", CounterKey: "@(context.Subscription.Id)", Calls: 12, RenewalPeriod: &period}}
	sc.Gateway.RateLimits = []gateway.RateLimitByKey{{Product: "developer", CounterKey: `@("calls-" + context.Subscription.Id)`, Calls: 10, RenewalPeriod: 30 * time.Second}}
	sink := &memRecords{}
	if _, err := Simulate(context.Background(), sc, sink, virtualRunID(sc), nil); err != nil {
		t.Fatalf("Simulate: %v", err)
	}
	passed := map[int64]int{}
	var refused int
	var counted []time.Time // research's calls past the rate limit
	for _, r := range sink.recs {
		switch {
		case r.SubscriptionID == "support-sub" && r.Outcome == record.OutcomeQuotaExceeded:
			end := r.TS.Truncate(period).Add(period)
			if r.Status != 403 || r.CounterKey != "support-sub" || r.RetryAfterMS != (end.Sub(r.TS)+time.Second-1).Milliseconds()/1000*1000 {
				t.Fatalf("refusal at %s: status %d counter_key %q retry_after_ms %d, want 403, support-sub, until %s", r.TS, r.Status, r.CounterKey, r.RetryAfterMS, end)
			}
			refused++
		case r.SubscriptionID == "support-sub":
			passed[r.TS.Unix()/int64(period/time.Second)]++
		case r.SubscriptionID == "research-sub" && !strings.HasPrefix(r.CounterKey, "calls-"):
			counted = append(counted, r.TS)
		}
	}
	if len(passed) != 2 || refused == 0 {
		t.Fatalf("support-sub: passed per period %v, %d refused; want two periods and refusals", passed, refused)
	}
	for p, n := range passed {
		if n != 12 {
			t.Errorf("period %d: %d calls passed, want 12", p, n)
		}
	}
	sort.Slice(counted, func(i, j int) bool { return counted[i].Before(counted[j]) })
	for i := range counted {
		j := i
		for j < len(counted) && counted[j].Sub(counted[i]) < 30*time.Second {
			j++
		}
		if j-i > 10 {
			t.Fatalf("research: %d calls counted in the 30 s from %s, want at most 10", j-i, counted[i])
		}
	}
	if len(counted) < 100 {
		t.Errorf("research: %d calls counted in 10 minutes, want the limit reached (about 200)", len(counted))
	}
}

// TestVirtualRefusesBandwidth: requests travel in process on the virtual
// clock, without bodies to count, so a bandwidth quota is refused rather
// than never reached.
func TestVirtualRefusesBandwidth(t *testing.T) {
	t.Parallel()
	sc, err := scenario.Load("../scenarios/quickstart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	period := time.Hour
	sc.Gateway.Quotas = []gateway.QuotaByKey{{CounterKey: "@(context.Subscription.Id)", Bandwidth: 100, RenewalPeriod: &period}}
	_, err = Simulate(context.Background(), sc, &memRecords{}, virtualRunID(sc), nil)
	if want := "virtual clock: gateway.quotas[0].bandwidth is not simulated"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Simulate: %v, want an error containing %q", err, want)
	}
}
