package loadgen

import (
	"sync"
	"time"
)

// workerIdle is how long a worker goroutine waits for more work before it
// ends: long enough to be kept between arrivals at any rate worth pooling
// for, short enough that the goroutines of a burst do not outlive it by
// much.
const workerIdle = 5 * time.Second

// workers runs the open-loop work of a wall-clock run (conversations,
// pipelines, jobs) on goroutines kept between arrivals, as vegeta's
// attacker keeps its workers. A goroutine started for each arrival begins
// on a small stack and grows it, copying it each time, through the JSON
// encoding and the HTTP round trip of its request; at thousands of
// requests a second that copying was a tenth of the load generator's CPU.
// A kept goroutine has grown its stack once. Go never blocks: work goes to
// an idle worker if there is one, else to a new goroutine, so an arrival
// never waits for an earlier one's answer.
type workers struct {
	work chan func() // unbuffered: a send succeeds only to an idle worker
	done chan struct{}
	wg   sync.WaitGroup
}

var _ waitGroup = (*workers)(nil)

func newWorkers() *workers {
	return &workers{work: make(chan func()), done: make(chan struct{})}
}

// Go runs f on an idle worker or a new one.
func (w *workers) Go(f func()) {
	select {
	case w.work <- f:
	default:
		w.wg.Go(func() { w.loop(f) })
	}
}

// loop runs f, then whatever work comes, until it has been idle for
// workerIdle or Wait was called.
func (w *workers) loop(f func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		f()
		idle.Reset(workerIdle)
		select {
		case f = <-w.work:
		case <-idle.C:
			return
		case <-w.done:
			return
		}
	}
}

// Wait waits for the work given so far to finish; Go must not be called
// once Wait has been.
func (w *workers) Wait() {
	close(w.done)
	w.wg.Wait()
}
