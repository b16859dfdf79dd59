// Package policytest holds test helpers for code built on package policy.
package policytest

import (
	"sync"
	"time"

	"github.com/aiload/aiload/gateway/policy"
)

// FakeClock is a policy.Clock that only moves when told. Safe for
// concurrent use.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

var _ policy.Clock = (*FakeClock)(nil)

// NewFakeClock returns a FakeClock set to start.
func NewFakeClock(start time.Time) *FakeClock { return &FakeClock{now: start} }

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
