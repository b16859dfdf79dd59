package runner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aiload/aiload/loadgen"
	"github.com/aiload/aiload/pricing"
	"github.com/aiload/aiload/record"
	"github.com/aiload/aiload/reports/dashboard"
	"github.com/aiload/aiload/reports/dashboard/gatewayview"
	"github.com/aiload/aiload/scenario"
)

// snapshotEvery is how often the live view gets a snapshot.
const snapshotEvery = time.Second

// live feeds the dashboard (or the plain progress lines) while a run goes:
// the embedded gateway's records go through a dashboard.Tally, the load
// generator's snapshots add what the callers saw, and a dashboard snapshot
// is sent every second.
type live struct {
	sc   *scenario.Scenario
	gw   *gatewayview.View
	out  chan dashboard.Snapshot
	now  func() time.Time
	stop chan struct{}
	done sync.WaitGroup

	mu      sync.Mutex
	load    *loadgen.Snapshot // latest from the load generator
	started time.Time
	phase   dashboard.Phase
	note    string
	subTPM  subWindow // client-side tokens per subscription (external targets)

	stopped bool // the load was stopped before its duration

	sendMu sync.Mutex // one sender at a time keeps send from blocking

	// onRecordError is called once, with the first record that could not
	// be written (set before the load starts).
	onRecordError func(error)
	recErrOnce    sync.Once
	recErr        atomic.Pointer[error]
}

func newLive(sc *scenario.Scenario) *live {
	return &live{
		sc:    sc,
		gw:    gatewayview.New(sc.Gateway, livePricing(sc)),
		out:   make(chan dashboard.Snapshot, 1),
		now:   time.Now,
		stop:  make(chan struct{}),
		phase: dashboard.PhaseStarting,
	}
}

// heldWriter keeps what is written until flush; safe for concurrent use.
type heldWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (h *heldWriter) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.buf.Write(p)
}

// flush writes what was held to w.
func (h *heldWriter) flush(w io.Writer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, _ = h.buf.WriteTo(w)
}

// livePricing is the pricing the run's report uses: the scenario's
// section over the built-in prices (the built-in ones alone if the
// section does not parse; the report step then names the problem).
func livePricing(sc *scenario.Scenario) *pricing.Pricing {
	p, _, err := scenarioPricing(sc.Pricing)
	if err != nil {
		return pricing.Default()
	}
	return p
}

// sink tees the gateway's records: to the log first, then to the tally.
// The first record the log refuses is reported to onRecordError.
func (l *live) sink(log record.Sink) record.Sink {
	return record.SinkFunc(func(r *record.Record) error {
		err := log.Write(r)
		_ = l.gw.Write(r)
		if err != nil {
			l.recordFailed(err)
		}
		return err
	})
}

// createLog creates the run's record log, reporting its first write error
// (a full disk) to onRecordError as soon as the writer meets it.
func (l *live) createLog(path string) (*record.Writer, error) {
	return record.Create(path, 0, record.OnError(func(err error) {
		if err != nil {
			l.recordFailed(err)
		}
	}))
}

// recordFailed keeps the first error writing records and reports it.
func (l *live) recordFailed(err error) {
	l.recErrOnce.Do(func() {
		l.recErr.Store(&err)
		if l.onRecordError != nil {
			l.onRecordError(err)
		}
	})
}

// recordError is the first error writing a record, or nil.
func (l *live) recordError() error {
	if p := l.recErr.Load(); p != nil {
		return *p
	}
	return nil
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
	s := l.gw.Snapshot(now)
	l.mu.Lock()
	defer l.mu.Unlock()
	s.Scenario, s.Total = l.sc.Name, l.sc.Duration.D()
	s.Phase, s.Note, s.Interrupted = l.phase, l.note, l.stopped
	s.External = !l.sc.Target.Embedded()
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

// doneNote says what a finished run wrote: its records in DuckDB, or, for
// an external target (whose gateway keeps the records), its summary.
func doneNote(res *Result) string {
	if !res.Scenario.Target.Embedded() {
		return "Summary in " + res.SummaryJSON
	}
	return fmt.Sprintf("%d records in %s", res.Records, res.DB)
}
