package policy

import (
	"sync"
	"time"
)

// TokenLimiter keeps one sliding TPM window per counter key and applies
// CheckUsage to it. It is safe for concurrent use.
type TokenLimiter struct {
	clock Clock
	mu    sync.Mutex
	keys  map[string]*SlidingWindow
}

// NewTokenLimiter returns a TokenLimiter reading time from clock.
func NewTokenLimiter(clock Clock) *TokenLimiter {
	return &TokenLimiter{clock: clock, keys: map[string]*SlidingWindow{}}
}

func (l *TokenLimiter) window(key string) *SlidingWindow {
	w, ok := l.keys[key]
	if !ok {
		w = NewSlidingWindow(TPMWindow)
		l.keys[key] = w
	}
	return w
}

// Check decides whether a request under key may pass a limit of
// tokensPerMinute. It charges nothing; call Consume with the usage.
func (l *TokenLimiter) Check(key string, tokensPerMinute int64) Decision {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	return CheckUsage(l.window(key), now, tokensPerMinute)
}

// Consume charges tokens to key's window and returns the tokens remaining
// under tokensPerMinute afterwards.
func (l *TokenLimiter) Consume(key string, tokensPerMinute, tokens int64) int64 {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.window(key)
	w.Add(now, tokens)
	return max(0, tokensPerMinute-w.Used(now))
}

// Used returns the tokens in key's window now.
func (l *TokenLimiter) Used(key string) int64 {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if w, ok := l.keys[key]; ok {
		return w.Used(now)
	}
	return 0
}

// FakeClock is a Clock that only moves when told. Safe for concurrent use.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

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

var (
	_ Clock = (*FakeClock)(nil)
)
