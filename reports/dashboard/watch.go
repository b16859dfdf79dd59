package dashboard

import (
	"context"
	"io"
	"time"
)

// Watch attaches to a running gateway's admin listener: it shows the
// dashboard on term until q (or ctx ends), or, when term is nil, prints
// plain progress lines to w every `every` until ctx ends. It fails at once
// when the first snapshot cannot be fetched.
func Watch(ctx context.Context, p Poller, term *Terminal, w io.Writer, every time.Duration) error {
	first, err := p.Fetch(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	snaps := make(chan Snapshot, 1)
	snaps <- first
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx, snaps) }()
	if term == nil {
		Plain(w, snaps, every)
		return nil
	}
	err = Run(*term, snaps, nil)
	cancel()
	for range snaps { // let the poller finish
	}
	<-done
	return err
}
