package loadgen

import (
	"context"
	"sync"
	"time"

	"github.com/aiload/aiload/vclock"
)

// waitGroup is a set of goroutines to wait for: a sync.WaitGroup on the
// wall clock, a vclock.Group on virtual time.
type waitGroup interface {
	Go(f func())
	Wait()
}

var (
	_ waitGroup = (*sync.WaitGroup)(nil)
	_ waitGroup = (*vclock.Group)(nil)
)

// timebase is the time a run lives in: the wall clock (real sockets and
// sleeps) or a virtual clock (a discrete-event simulation of the same code).
type timebase interface {
	now() time.Time
	// sleepUntil waits until t; false when scheduling has ended first (the
	// run's deadline passed or it was interrupted).
	sleepUntil(t time.Time) bool
	// scheduling reports whether new work may still start.
	scheduling() bool
	group() waitGroup
}

// wallTime is the real clock; sched ends at the run's deadline.
type wallTime struct{ sched context.Context }

func (w wallTime) now() time.Time              { return time.Now() }
func (w wallTime) sleepUntil(t time.Time) bool { return sleepUntil(w.sched, t) }
func (w wallTime) scheduling() bool            { return w.sched.Err() == nil }
func (w wallTime) group() waitGroup            { return &sync.WaitGroup{} }

// virtualTime is a vclock.Clock; work is scheduled until deadline.
type virtualTime struct {
	c        *vclock.Clock
	deadline time.Time
}

func (v virtualTime) now() time.Time { return v.c.Now() }

func (v virtualTime) sleepUntil(t time.Time) bool {
	if !t.Before(v.deadline) {
		return false
	}
	return v.c.SleepUntil(t)
}

func (v virtualTime) scheduling() bool { return !v.c.Stopped() && v.c.Now().Before(v.deadline) }
func (v virtualTime) group() waitGroup { return v.c.NewGroup() }

var (
	_ timebase = wallTime{}
	_ timebase = virtualTime{}
)

// since is the run's time elapsed since t.
func (e *engine) since(t time.Time) time.Duration { return e.tb.now().Sub(t) }
