package loadgen

import (
	"container/heap"
	"context"
	"net/http"
)

// runVirtual is Run on Options.Clock: the personas' goroutines become the
// clock's actors, arrivals are dispatched on virtual time, and the run
// ends when every actor has finished (requests in flight at the deadline
// complete; retries and turns due after it are cut). Cancelling ctx stops
// the clock.
func (e *engine) runVirtual(ctx context.Context) (*Result, error) {
	clk := e.opts.Clock
	e.start = clk.Now()
	deadline := e.start.Add(e.opts.Duration)
	e.tb = virtualTime{c: clk, deadline: deadline}
	e.reqs = clk.NewGroup()
	e.sched, e.inflight = ctx, context.WithoutCancel(ctx)
	stopWatch := context.AfterFunc(ctx, clk.Stop)
	defer stopWatch()
	res := &Result{Scenario: e.opts.Scenario, Started: e.start.UTC(), Duration: e.opts.Duration}
	e.collectors()
	var err error
	clk.Run(func() {
		var srcs []*source
		if srcs, err = e.launchAll(clk.NewGroup()); err != nil {
			clk.Stop()
			return
		}
		dispatchVirtual(e.tb.(virtualTime), srcs)
	})
	if err != nil {
		return nil, err
	}
	res.Interrupted = ctx.Err() != nil
	res.Elapsed = clk.Now().Sub(e.start)
	snap := e.newSnapshotter()
	final := snap.take(clk.Now(), true)
	snap.emit(final)
	res.Personas, res.Subscriptions, res.total = final.Personas, final.Subscriptions, &final.Total
	return res, snap.err
}

// dispatchVirtual fires every source at its intended times before the
// deadline, sleeping on the virtual clock in between.
func dispatchVirtual(v virtualTime, srcs []*source) {
	h := schedule(srcs)
	for _, s := range h {
		s.at = s.arr.next()
	}
	heap.Init(&h)
	for h.Len() > 0 {
		s := h[0]
		if !v.sleepUntil(s.at) {
			return
		}
		s.fire(s.at)
		s.at = s.arr.next()
		heap.Fix(&h, 0)
	}
}

type sourceKey struct{}

// SourceAddr returns the source address a nat user's request carries when
// the run shares one Transport (a virtual run): an in-process transport
// gives it to the gateway as the client's address. "" when none.
func SourceAddr(ctx context.Context) string {
	s, _ := ctx.Value(sourceKey{}).(string)
	return s
}

// sourceTransport tags requests with a nat user's source address.
type sourceTransport struct {
	rt   http.RoundTripper
	addr string
}

func (s sourceTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return s.rt.RoundTrip(r.WithContext(context.WithValue(r.Context(), sourceKey{}, s.addr)))
}

var _ http.RoundTripper = sourceTransport{}
