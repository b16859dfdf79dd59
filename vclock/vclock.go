// Package vclock is a virtual clock for discrete-event simulation of code
// written as ordinary goroutines. Actors (goroutines started with Go) run
// one at a time; an actor that sleeps hands the baton to the actor with the
// earliest wake-up time, and the clock jumps to that time. Nothing waits on
// the wall clock, so a day of traffic runs as fast as the code can execute,
// and because exactly one actor runs at a time, in (time, start order), a
// simulation is deterministic: the same inputs give the same interleaving.
//
// The rule for code run under a Clock: an actor may block only in Sleep or
// SleepUntil (or briefly on a mutex). Blocking on a channel fed by another
// actor would stall the simulation, since that actor cannot run meanwhile.
package vclock

import (
	"container/heap"
	"sync"
	"sync/atomic"
	"time"
)

// Clock is a virtual clock. The zero value is not usable; call New.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	seq     uint64
	events  eventHeap
	actors  int
	done    chan struct{}
	stopped atomic.Bool
}

// event is an actor waiting to run at a time.
type event struct {
	at   time.Time
	seq  uint64
	wake chan bool // buffered(1): true = run, false = the simulation is stopping
}

// New returns a clock set to start.
func New(start time.Time) *Clock {
	return &Clock{now: start, done: make(chan struct{})}
}

// Now returns the virtual time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Since returns the virtual time elapsed since t.
func (c *Clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Go starts f as a new actor. It first runs when the actors scheduled before
// it at the current time have run or slept. Go may be called from an actor
// or, before Run, from the goroutine that will call Run.
func (c *Clock) Go(f func()) {
	c.mu.Lock()
	ev := c.pushLocked(c.now)
	c.actors++
	c.mu.Unlock()
	go func() {
		if <-ev.wake {
			f()
		}
		c.exit()
	}()
}

// Sleep blocks the calling actor for d of virtual time. It returns false
// (at once, or when woken) when the simulation is stopping; the actor should
// then finish.
func (c *Clock) Sleep(d time.Duration) bool {
	return c.SleepUntil(c.Now().Add(max(d, 0)))
}

// SleepUntil blocks the calling actor until virtual time t (at once, after
// the other actors due now, when t is not after now). It returns false when
// the simulation is stopping.
func (c *Clock) SleepUntil(t time.Time) bool {
	if c.stopped.Load() {
		return false
	}
	c.mu.Lock()
	ev := c.pushLocked(t)
	c.mu.Unlock()
	c.next()
	return <-ev.wake
}

// Stop makes every sleeping and future Sleep return false, without advancing
// time further, so actors wind down. Safe to call from any goroutine.
func (c *Clock) Stop() { c.stopped.Store(true) }

// Stopped reports whether Stop was called.
func (c *Clock) Stopped() bool { return c.stopped.Load() }

// Run starts main as an actor and returns when every actor has finished.
func (c *Clock) Run(main func()) {
	c.Go(main)
	c.next()
	<-c.done
}

func (c *Clock) pushLocked(at time.Time) *event {
	if at.Before(c.now) {
		at = c.now
	}
	c.seq++
	ev := &event{at: at, seq: c.seq, wake: make(chan bool, 1)}
	heap.Push(&c.events, ev)
	return ev
}

// exit ends the calling actor and passes the baton on.
func (c *Clock) exit() {
	c.mu.Lock()
	c.actors--
	c.mu.Unlock()
	c.next()
}

// next wakes the earliest waiting actor, advancing time to its wake-up; it
// closes done when no actor is left.
func (c *Clock) next() {
	c.mu.Lock()
	if c.events.Len() == 0 {
		last := c.actors == 0
		c.mu.Unlock()
		if last {
			close(c.done)
		}
		return
	}
	ev := heap.Pop(&c.events).(*event)
	run := !c.stopped.Load()
	if run && ev.at.After(c.now) {
		c.now = ev.at
	}
	c.mu.Unlock()
	ev.wake <- run
}

// eventHeap orders events by time, then by the order they were scheduled.
type eventHeap []*event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(*event)) }
func (h *eventHeap) Pop() any {
	old := *h
	ev := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return ev
}

// Group is a set of actors another actor can wait for, as sync.WaitGroup
// is for goroutines; Wait parks the waiter without an event, so waiting
// costs nothing until the last member finishes.
type Group struct {
	c      *Clock
	n      int
	waiter *event
}

// NewGroup returns an empty group of actors on c.
func (c *Clock) NewGroup() *Group { return &Group{c: c} }

// Go starts f as a new actor that is a member of g.
func (g *Group) Go(f func()) {
	g.c.mu.Lock()
	g.n++
	g.c.mu.Unlock()
	g.c.Go(func() {
		defer g.done()
		f()
	})
}

func (g *Group) done() {
	c := g.c
	c.mu.Lock()
	defer c.mu.Unlock()
	g.n--
	if g.n == 0 && g.waiter != nil {
		ev := g.waiter
		g.waiter = nil
		c.seq++
		ev.at, ev.seq = c.now, c.seq
		heap.Push(&c.events, ev)
	}
}

// Wait blocks the calling actor until every member of g has finished. It
// may be called by one actor at a time, and not from a member.
func (g *Group) Wait() {
	c := g.c
	c.mu.Lock()
	if g.n == 0 {
		c.mu.Unlock()
		return
	}
	ev := &event{wake: make(chan bool, 1)}
	g.waiter = ev
	c.mu.Unlock()
	c.next()
	<-ev.wake
}
