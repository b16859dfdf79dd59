package loadgen

import (
	"fmt"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Snapshot is the load generator's state at one moment, sent on
// Options.Snapshots once a second (and once more at the end, with Final
// set). It is plain data: the receiver owns it and may keep it.
type Snapshot struct {
	// Scenario is the run's name.
	Scenario string `json:"scenario"`
	// Started is when the run started (UTC).
	Started time.Time `json:"started"`
	// Elapsed is the time since Started; Duration the scheduled length.
	Elapsed  time.Duration `json:"elapsed_ns"`
	Duration time.Duration `json:"duration_ns"`
	// Final is set on the last snapshot, after the drain.
	Final bool `json:"final"`
	// Personas are cumulative stats per persona, in scenario order.
	Personas []Stats `json:"personas"`
	// Subscriptions are cumulative stats per subscription, in order of
	// first use.
	Subscriptions []Stats `json:"subscriptions"`
	// Intervals are each persona's rates over the last interval, in the
	// same order as Personas.
	Intervals []Interval `json:"intervals"`
	// Total sums the persona counts (percentiles are left zero).
	Total Stats `json:"total"`
}

// snapshotter sends snapshots and writes the histogram log.
type snapshotter struct {
	e    *engine
	done chan struct{}
	wg   sync.WaitGroup
	hlog *hdrhistogram.HistogramLogWriter
	err  error
	// total is the collector the snapshots' totals are merged into.
	total *collector
}

// snapshots starts the snapshot loop; stop ends it and returns the final
// snapshot.
func (e *engine) snapshots() *snapshotter {
	s := e.newSnapshotter()
	if e.opts.Snapshots == nil && s.hlog == nil {
		return s
	}
	s.wg.Go(func() {
		t := time.NewTicker(e.opts.SnapshotEvery)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case now := <-t.C:
				s.emit(s.take(now, false))
			}
		}
	})
	return s
}

// newSnapshotter returns a snapshotter that has written the .hlog header
// when a histogram log is wanted.
func (e *engine) newSnapshotter() *snapshotter {
	s := &snapshotter{e: e, done: make(chan struct{})}
	if e.opts.HistogramLog != nil {
		s.hlog = hdrhistogram.NewHistogramLogWriter(e.opts.HistogramLog)
		ms := e.start.UnixMilli()
		s.setErr(s.hlog.OutputLogFormatVersion())
		s.setErr(s.hlog.OutputComment(fmt.Sprintf("[aiload %s: corrected latency per persona, nanoseconds; whole-run histograms tagged persona/latency, /ttft, /end_to_end, /schedule_lag, /utilization (percent × 10⁶), /itl at the end]", e.opts.Scenario)))
		s.setErr(s.hlog.OutputStartTime(ms))
		s.hlog.SetBaseTime(ms)
		s.setErr(s.hlog.OutputBaseTime(ms))
		s.setErr(s.hlog.OutputLegend())
	}
	return s
}

func (s *snapshotter) setErr(err error) {
	if err != nil && s.err == nil {
		s.err = fmt.Errorf("write histogram log: %w", err)
	}
}

// stop ends the loop and emits and returns the final snapshot.
func (s *snapshotter) stop() (Snapshot, error) {
	close(s.done)
	s.wg.Wait()
	final := s.take(time.Now(), true)
	s.emit(final)
	return final, s.err
}

func (s *snapshotter) emit(snap Snapshot) {
	if s.e.opts.Snapshots == nil {
		return
	}
	select {
	case s.e.opts.Snapshots <- snap:
	default:
	}
}

// take builds a snapshot at now and starts new intervals.
func (s *snapshotter) take(now time.Time, final bool) Snapshot {
	e := s.e
	snap := Snapshot{Scenario: e.opts.Scenario, Started: e.start.UTC(), Elapsed: now.Sub(e.start),
		Duration: e.opts.Duration, Final: final}
	for _, c := range e.personas {
		st, iv, h := c.interval(now)
		snap.Personas = append(snap.Personas, st)
		snap.Intervals = append(snap.Intervals, iv)
		if s.hlog != nil && h.TotalCount() > 0 {
			s.setErr(s.hlog.OutputIntervalHistogram(h))
		}
		if s.hlog != nil && final {
			s.writeRunHistograms(c, now)
		}
	}
	for _, id := range e.subOrder {
		snap.Subscriptions = append(snap.Subscriptions, e.subs[id].snapshot())
	}
	if s.total == nil {
		s.total = newCollector("total", "", "")
	}
	snap.Total = totalOf(s.total, e.personas)
	return snap
}

// writeRunHistograms ends a persona's .hlog with its whole-run latency, TTFT,
// end-to-end and schedule-lag histograms (tags persona/latency, …), which
// aiload merge combines value by value.
func (s *snapshotter) writeRunHistograms(c *collector, now time.Time) {
	hs := c.runHistograms()
	for _, suffix := range RunHistogramTags() {
		h, ok := hs[suffix]
		if !ok {
			continue
		}
		h.SetStartTimeMs(s.e.start.UnixMilli())
		h.SetEndTimeMs(now.UnixMilli())
		h.SetTag(HistogramTag(c.s.Name) + "/" + suffix)
		s.setErr(s.hlog.OutputIntervalHistogram(h))
	}
}
