package loadgen

import (
	"container/heap"
	"context"
	"errors"
	"time"
)

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
//
// It waits on one runtime timer, which fires within about a millisecond
// of the intended time (the runtime's poller sleeps in whole
// milliseconds when nothing else wakes it; at a few thousand requests a
// second sockets wake it far more often). A finer wait per arrival (a
// nanosleep on a thread of its own, or a timerfd) woke a thread for every
// arrival and cost more CPU per request than all of the request's JSON;
// see docs/benchmarks.md.
func dispatch(ctx context.Context, srcs []*source) {
	tm := time.NewTimer(time.Hour)
	defer tm.Stop()
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
		if !waitOn(ctx, tm, s.at) {
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) || !s.at.Before(deadline) {
				return
			}
		}
		s.fire(s.at)
		s.at = s.arr.next()
		heap.Fix(&h, 0)
	}
}

// sleepUntil waits on a timer until t (up to ~1 ms late); false when ctx
// ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	if time.Until(t) <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(time.Hour)
	defer tm.Stop()
	return waitOn(ctx, tm, t)
}

// waitOn is sleepUntil on the caller's timer tm (reset to t).
func waitOn(ctx context.Context, tm *time.Timer, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm.Reset(d)
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}
