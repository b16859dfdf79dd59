package runner

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/loadgen"
	"github.com/aiload/aiload/pricing"
	"github.com/aiload/aiload/record"
	"github.com/aiload/aiload/reports/dashboard"
	"github.com/aiload/aiload/scenario"
)

// snapshotEvery is how often the live view gets a snapshot.
const snapshotEvery = time.Second

// live feeds the dashboard (or the plain progress lines) while a run goes:
// the embedded gateway's records go through a dashboard.Tally, the load
// generator's snapshots add what the callers saw, and a dashboard snapshot
// is sent every second.
type live struct {
	sc    *scenario.Scenario
	tally *dashboard.Tally
	out   chan dashboard.Snapshot
	now   func() time.Time
	stop  chan struct{}
	done  sync.WaitGroup

	mu      sync.Mutex
	load    *loadgen.Snapshot // latest from the load generator
	started time.Time
	phase   dashboard.Phase
	note    string
	subTPM  subWindow // client-side tokens per subscription (external targets)
	brk     breakers

	stopped bool // the load was stopped before its duration

	sendMu sync.Mutex // one sender at a time keeps send from blocking
}

func newLive(sc *scenario.Scenario) *live {
	l := &live{
		sc:    sc,
		tally: dashboard.NewTally(listPrice(pricing.Default())),
		out:   make(chan dashboard.Snapshot, 1),
		now:   time.Now,
		stop:  make(chan struct{}),
		phase: dashboard.PhaseStarting,
		brk:   breakers{has: map[string]bool{}, open: map[string]bool{}, trips: map[string]int64{}},
	}
	limits := map[string]int64{}
	for _, p := range sc.Gateway.Products {
		limits[p.Name] = tightestTPM(p)
	}
	for _, s := range sc.Gateway.Subscriptions {
		l.tally.AddSubscription(s.ID, s.Team, s.Product, limits[s.Product])
	}
	return l
}

// tightestTPM is the lowest tokens-per-minute limit of a product (its
// shorthand or any of its token limits); 0 when it has none.
func tightestTPM(p gateway.Product) int64 {
	tpm := p.TokensPerMinute
	for _, l := range p.TokenLimits {
		if l.TokensPerMinute > 0 && (tpm == 0 || l.TokensPerMinute < tpm) {
			tpm = l.TokensPerMinute
		}
	}
	return tpm
}

// listPrice values ok records at the pricing file's PAYG list prices.
func listPrice(p *pricing.Pricing) dashboard.PriceFunc {
	return func(r *record.Record) (float64, bool) {
		m, ok := p.Lookup(r.Model)
		if !ok {
			return 0, false
		}
		price := dashboard.Price{Input: m.Input, CachedInput: m.CachedPrice(), Output: m.Output}
		return price.Cost(r.PromptTokens, r.CachedTokens, r.CompletionTokens), true
	}
}

// addBackends shows the gateway's pool, with each embedded mock's PTU
// capacity, and follows its breakers through the gateway's metrics.
func (l *live) addBackends(cfg gateway.Config, gw *gateway.Gateway) {
	cfg.Backends = append(cfg.Backends[:0:0], cfg.Backends...)
	cfg.Defaults()
	l.brk.mu.Lock()
	l.brk.reg = gw.Registry()
	for _, b := range cfg.Backends {
		l.brk.has[b.Name] = b.CircuitBreaker != nil
	}
	l.brk.mu.Unlock()
	for _, b := range cfg.Backends {
		row := dashboard.BackendRow{Name: b.Name, Tier: b.Tier, Priority: b.Priority}
		if b.Mock != nil && b.URL == "" {
			row.CapacityTPM = b.Mock.PTUTPM
		}
		l.tally.AddBackend(row)
	}
}

// sink tees the gateway's records: to the log first, then to the tally.
func (l *live) sink(log record.Sink) record.Sink {
	return record.SinkFunc(func(r *record.Record) error {
		err := log.Write(r)
		_ = l.tally.Write(r)
		return err
	})
}

// begin marks the start of the load and starts sending snapshots.
func (l *live) begin() {
	l.mu.Lock()
	l.started, l.phase = l.now(), dashboard.PhaseRunning
	l.mu.Unlock()
	l.done.Go(func() {
		t := time.NewTicker(snapshotEvery)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
				l.send(l.snapshot())
			}
		}
	})
}

// loadSnapshot takes a snapshot of the load generator in.
func (l *live) loadSnapshot(s loadgen.Snapshot) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.load = &s
	l.subTPM.add(l.now(), s.Subscriptions)
}

// stopping marks a running load as stopping (interrupted, or stopped from
// the dashboard).
func (l *live) stopping() {
	l.mu.Lock()
	if l.phase == dashboard.PhaseRunning {
		l.phase, l.stopped = dashboard.PhaseDraining, true
	}
	l.mu.Unlock()
	l.send(l.snapshot())
}

// setPhase changes the phase and sends a snapshot at once.
func (l *live) setPhase(p dashboard.Phase, note string) {
	l.mu.Lock()
	l.phase, l.note = p, note
	l.mu.Unlock()
	l.send(l.snapshot())
}

func (l *live) snapshot() dashboard.Snapshot {
	now := l.now()
	for _, e := range l.brk.sample(now) {
		l.tally.AddEvent(e)
	}
	s := l.tally.Snapshot(now)
	l.brk.apply(s.Backends)
	l.mu.Lock()
	defer l.mu.Unlock()
	s.Scenario, s.Total = l.sc.Name, l.sc.Duration.D()
	s.Phase, s.Note, s.Interrupted = l.phase, l.note, l.stopped
	if !l.started.IsZero() {
		s.Elapsed = min(now.Sub(l.started), s.Total)
	}
	if s.Phase == dashboard.PhaseRunning && s.Elapsed >= s.Total {
		s.Phase = dashboard.PhaseDraining
	}
	if l.sc.Target.Embedded() {
		s.Source = "embedded gateway and mock backend"
	} else {
		s.Source = l.sc.Target.URL
	}
	if l.load != nil {
		mergeLoad(&s, l.load, l.sc, l.subTPM.used(now))
	}
	return s
}

// send delivers s, replacing a snapshot the reader has not taken yet.
func (l *live) send(s dashboard.Snapshot) {
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	dashboard.SendLatest(l.out, s)
}

// finish sends the last snapshot, in phase p, and closes the stream.
func (l *live) finish(p dashboard.Phase, note string) {
	close(l.stop)
	l.done.Wait()
	l.setPhase(p, note)
	close(l.out)
}

// show runs the dashboard on term (or plain lines to w when term is nil)
// until the snapshot stream closes; stop is what q does. wait returns when
// the dashboard has closed and the terminal is restored.
func (l *live) show(term *dashboard.Terminal, w io.Writer, every time.Duration, stop context.CancelFunc) (wait func() error) {
	errc := make(chan error, 1)
	go func() {
		if term == nil {
			dashboard.Plain(w, l.out, every)
			errc <- nil
			return
		}
		err := dashboard.Run(*term, l.out, func() { stop(); l.stopping() })
		// The dashboard may have been left early: keep the stream flowing.
		go func() {
			for range l.out {
			}
		}()
		errc <- err
	}()
	return func() error { return <-errc }
}
