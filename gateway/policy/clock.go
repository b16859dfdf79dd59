// Package policy holds the gateway's pure policy logic: every decision is a
// function of state, request and now. Nothing here reads the wall clock or
// sleeps; the caller passes now in, or injects a Clock.
package policy

import "time"

// Clock tells the time. The HTTP gateway uses WallClock; simulations and
// tests use a clock they move themselves.
type Clock interface {
	Now() time.Time
}

// WallClock is the real clock.
type WallClock struct{}

// Now returns time.Now().
func (WallClock) Now() time.Time { return time.Now() }

var _ Clock = WallClock{}
