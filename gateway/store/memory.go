package store

import (
	"context"
	"sync"
	"time"

	"github.com/aiload/aiload/gateway/policy"
)

// Memory is the in-memory Store of a single gateway instance. The zero
// value is not usable; call NewMemory.
type Memory struct {
	mu      sync.Mutex
	windows map[string]*policy.SlidingWindow
	periods map[string]*period
	ops     int // operations since the last sweep
}

type period struct {
	start, end time.Time
	used       int64
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{windows: map[string]*policy.SlidingWindow{}, periods: map[string]*period{}}
}

func periodKey(c Check) string { return string(c.Period) + "\x00" + c.Key }

func (m *Memory) window(key string) *policy.SlidingWindow {
	w, ok := m.windows[key]
	if !ok {
		w = policy.NewSlidingWindow(policy.TPMWindow)
		m.windows[key] = w
	}
	return w
}

// quota returns the counter of c's period holding at, started afresh when
// the stored one has ended.
func (m *Memory) quota(c Check, at time.Time) *period {
	k := periodKey(c)
	p, ok := m.periods[k]
	if !ok || !at.Before(p.end) {
		start, end := c.Period.Bounds(at)
		p = &period{start: start, end: end}
		m.periods[k] = p
	}
	return p
}

func (m *Memory) decide(now time.Time, c Check) policy.Decision {
	if c.Kind == Period {
		p := m.quota(c, now)
		return policy.CheckQuota(p.used, c.Limit, c.Need, now, p.end)
	}
	return policy.CheckDemand(m.window(c.Key), now, c.Limit, c.Need)
}

// Reserve implements Store.
func (m *Memory) Reserve(_ context.Context, now time.Time, checks []Check) (Verdict, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep(now)
	v := Verdict{Allowed: true, Denied: -1, Remaining: make([]int64, len(checks))}
	for i, c := range checks {
		d := m.decide(now, c)
		v.Remaining[i] = d.Remaining
		if d.Allowed || (v.Denied >= 0 && (checks[v.Denied].Kind == Period || c.Kind != Period)) {
			continue
		}
		v.Allowed, v.Denied, v.RetryAfter = false, i, d.RetryAfter
	}
	if !v.Allowed {
		return v, nil
	}
	for i, c := range checks {
		if c.Kind == Period {
			p := m.quota(c, now)
			p.used += c.Reserve
			v.Remaining[i] = max(0, c.Limit-p.used)
			continue
		}
		w := m.window(c.Key)
		w.Add(now, c.Reserve)
		v.Remaining[i] = max(0, c.Limit-w.Used(now))
	}
	return v, nil
}

// Settle implements Store.
func (m *Memory) Settle(_ context.Context, now, reservedAt time.Time, checks []Check, actual int64) ([]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]int64, len(checks))
	for i, c := range checks {
		if c.Kind == Period {
			out[i] = m.settlePeriod(now, reservedAt, c, actual)
			continue
		}
		w := m.window(c.Key)
		if c.Reserve > 0 {
			w.Adjust(reservedAt, actual-c.Reserve)
		} else {
			w.Add(now, actual)
		}
		out[i] = max(0, c.Limit-w.Used(now))
	}
	return out, nil
}

func (m *Memory) settlePeriod(now, reservedAt time.Time, c Check, actual int64) int64 {
	at, delta := now, actual
	if c.Reserve > 0 {
		at, delta = reservedAt, actual-c.Reserve
	}
	cur := m.quota(c, now)
	if start, _ := c.Period.Bounds(at); start.Equal(cur.start) {
		cur.used = max(0, cur.used+delta)
	}
	return max(0, c.Limit-cur.used)
}

// maybeSweep drops empty windows and ended periods once per as many
// operations as there are counters, which keeps the cost per operation
// constant and memory bounded by the keys active in the last minute.
func (m *Memory) maybeSweep(now time.Time) {
	m.ops++
	if m.ops < len(m.windows)+len(m.periods)+1024 {
		return
	}
	m.ops = 0
	for k, w := range m.windows {
		if w.Empty(now) {
			delete(m.windows, k)
		}
	}
	for k, p := range m.periods {
		if !now.Before(p.end) {
			delete(m.periods, k)
		}
	}
}

// Len returns the number of counters held (windows and quota periods).
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.windows) + len(m.periods)
}
