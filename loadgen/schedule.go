package loadgen

import (
	"container/heap"
	"context"
	"errors"
	"runtime"
	"time"
)

// fineWindow is how long before an intended time the scheduler stops
// sleeping on a runtime timer and sleeps in the kernel instead: Go timers
// can fire up to about a millisecond late on Linux (the poller waits in
// whole milliseconds), which would show as schedule lag, while a
// nanosleep on the scheduler's own thread wakes within tens of
// microseconds without burning a core.
const fineWindow = 2 * time.Millisecond

// source is one user's stream of arrivals: next is its next intended
// time, fire starts the work due at t (it must not block).
type source struct {
	at   time.Time
	arr  *arrivals
	fire func(t time.Time)
}

// schedule is a min-heap of sources by next intended time.
type schedule []*source

func (s schedule) Len() int           { return len(s) }
func (s schedule) Less(i, j int) bool { return s[i].at.Before(s[j].at) }
func (s schedule) Swap(i, j int)      { s[i], s[j] = s[j], s[i] }
func (s *schedule) Push(x any)        { *s = append(*s, x.(*source)) }
func (s *schedule) Pop() any {
	old := *s
	x := old[len(old)-1]
	*s = old[:len(old)-1]
	return x
}

// dispatch fires every source at its intended times until ctx ends: one
// goroutine serves all open-loop users, so a user's arrivals never wait for
// its earlier work and the scheduler's own delay is measured as lag. When
// ctx ends at its deadline, arrivals intended before the deadline that are
// still due fire late rather than being dropped (the schedule is kept, as
// vegeta does); an interrupt stops at once.
func dispatch(ctx context.Context, srcs []*source) {
	runtime.LockOSThread() // fineSleep blocks this thread only
	defer runtime.UnlockOSThread()
	h := schedule(srcs)
	for _, s := range h {
		s.at = s.arr.next()
	}
	heap.Init(&h)
	deadline, hasDeadline := ctx.Deadline()
	for h.Len() > 0 {
		s := h[0]
		if hasDeadline && !s.at.Before(deadline) {
			return // the context's own timer may fire late: go by the clock
		}
		if !waitUntil(ctx, s.at) {
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) || !s.at.Before(deadline) {
				return
			}
		}
		s.fire(s.at)
		s.at = s.arr.next()
		heap.Fix(&h, 0)
	}
}

// waitUntil sleeps on a timer until shortly before t, then in the kernel
// until t; false when ctx ended first.
func waitUntil(ctx context.Context, t time.Time) bool {
	if !sleepUntil(ctx, t.Add(-fineWindow)) {
		return false
	}
	for d := time.Until(t); d > 0; d = time.Until(t) {
		fineSleep(d)
	}
	return ctx.Err() == nil
}

// sleepUntil waits on a timer until t (up to ~1 ms late); false when ctx
// ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}
