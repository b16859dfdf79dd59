package vclock

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// trace runs three actors that sleep different amounts and logs who ran when.
func trace() string {
	c := New(t0)
	var mu sync.Mutex
	var log []string
	note := func(s string) {
		mu.Lock()
		log = append(log, fmt.Sprintf("%s@%v", s, c.Now().Sub(t0)))
		mu.Unlock()
	}
	c.Run(func() {
		for i, period := range []time.Duration{3 * time.Second, 5 * time.Second, 7 * time.Second} {
			name := string(rune('a' + i))
			c.Go(func() {
				for k := 0; k < 3; k++ {
					if !c.Sleep(period) {
						return
					}
					note(name)
				}
			})
		}
	})
	return strings.Join(log, " ")
}

// TestOrderAndTime: actors wake in virtual-time order (ties in start
// order), and the clock jumps from wake-up to wake-up.
func TestOrderAndTime(t *testing.T) {
	t.Parallel()
	want := "a@3s b@5s a@6s c@7s a@9s b@10s c@14s b@15s c@21s"
	if got := trace(); got != want {
		t.Fatalf("trace:\n got %s\nwant %s", got, want)
	}
}

// TestDeterministic: the same program gives the same interleaving every time.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	first := trace()
	for i := 0; i < 20; i++ {
		if got := trace(); got != first {
			t.Fatalf("run %d differs:\n%s\n%s", i, got, first)
		}
	}
}

// TestDayInMilliseconds: a day of virtual time with 100,000 wake-ups costs
// no wall time beyond the work itself.
func TestDayInMilliseconds(t *testing.T) {
	t.Parallel()
	c := New(t0)
	wakeups := 0
	c.Run(func() {
		for i := 0; i < 100; i++ {
			c.Go(func() {
				for c.Now().Before(t0.Add(24 * time.Hour)) {
					c.Sleep(86400 * time.Millisecond) // 1,000 sleeps a day
					wakeups++                         // one actor runs at a time: no race
				}
			})
		}
	})
	if got := c.Now().Sub(t0); got != 24*time.Hour {
		t.Fatalf("clock ended at +%v, want +24h", got)
	}
	if wakeups != 100*1000 {
		t.Fatalf("%d wake-ups, want 100000", wakeups)
	}
}

// TestStop: after Stop, sleepers are woken with false without time moving on.
func TestStop(t *testing.T) {
	t.Parallel()
	c := New(t0)
	var results []bool
	var mu sync.Mutex
	c.Run(func() {
		for i := 0; i < 3; i++ {
			c.Go(func() {
				ok := c.Sleep(time.Hour)
				mu.Lock()
				results = append(results, ok)
				mu.Unlock()
			})
		}
		c.Sleep(time.Minute)
		c.Stop()
	})
	if len(results) != 3 || results[0] || results[1] || results[2] {
		t.Fatalf("sleepers after Stop returned %v, want three false", results)
	}
	if got := c.Now().Sub(t0); got != time.Minute {
		t.Fatalf("clock at +%v after Stop, want +1m", got)
	}
}

func BenchmarkSleepHandoff(b *testing.B) {
	c := New(t0)
	b.ReportAllocs()
	c.Run(func() {
		for i := 0; i < 2; i++ {
			c.Go(func() {
				for k := 0; k < b.N/2; k++ {
					c.Sleep(time.Millisecond)
				}
			})
		}
	})
}

// TestGroupWait: a waiter resumes when the last member finishes, at that
// member's virtual time, and an empty group does not block.
func TestGroupWait(t *testing.T) {
	t.Parallel()
	c := New(t0)
	var resumed time.Duration
	c.Run(func() {
		g := c.NewGroup()
		g.Wait() // empty: returns at once
		for _, d := range []time.Duration{3 * time.Second, 7 * time.Second, 5 * time.Second} {
			g.Go(func() { c.Sleep(d) })
		}
		g.Wait()
		resumed = c.Since(t0)
	})
	if resumed != 7*time.Second {
		t.Fatalf("waiter resumed at +%v, want +7s (the last member's end)", resumed)
	}
}
