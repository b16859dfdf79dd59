package store

import (
	"context"
	"sync"
	"time"

	"github.com/aiload/aiload/gateway/policy"
)

// Memory is the in-memory Store of a single gateway instance. The zero
// value is not usable; call NewMemory.
//
// All counters of one key live in one map entry (its TPM window and its
// quota periods), so a request's checks cost one map lookup per distinct
// key in Reserve and one in Settle.
type Memory struct {
	mu    sync.Mutex
	keys  map[string]*counters
	ops   int       // operations since the last sweep
	swept time.Time // when the last sweep ran
}

// counters are the counters of one key.
type counters struct {
	window  *policy.SlidingWindow // nil until a Window check uses the key
	periods []period              // one per quota period in use
}

type period struct {
	id         string // Check.PeriodID
	start, end time.Time
	used       int64
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{keys: map[string]*counters{}}
}

// lookup fills out (of len(checks)) with the counters of each check's key,
// one map access per distinct key in a row of checks.
func (m *Memory) lookup(checks []Check, out []*counters) {
	for i, c := range checks {
		if i > 0 && checks[i-1].Key == c.Key {
			out[i] = out[i-1]
			continue
		}
		cs, ok := m.keys[c.Key]
		if !ok {
			cs = &counters{}
			m.keys[c.Key] = cs
		}
		out[i] = cs
	}
}

// maxInline is the number of checks whose counters are looked up without
// allocating: a request rarely has more than a TPM limit and a quota on
// each of two keys.
const maxInline = 4

// states returns the counters of checks, in buf when they fit.
func (m *Memory) states(checks []Check, buf *[maxInline]*counters) []*counters {
	var out []*counters
	if len(checks) <= maxInline {
		out = buf[:len(checks)]
	} else {
		out = make([]*counters, len(checks))
	}
	m.lookup(checks, out)
	return out
}

// win returns the key's window, made with c's span on first use.
func (cs *counters) win(c Check) *policy.SlidingWindow {
	if cs.window == nil {
		cs.window = policy.NewSlidingWindow(c.WindowSpan())
	}
	return cs.window
}

// quota returns the counter of c's period holding at, started afresh
// when the stored one has ended.
func (cs *counters) quota(c Check, at time.Time) *period {
	id := c.PeriodID()
	for i := range cs.periods {
		p := &cs.periods[i]
		if p.id != id {
			continue
		}
		if !at.Before(p.end) {
			p.start, p.end = c.Bounds(at)
			p.used = 0
		}
		return p
	}
	start, end := c.Bounds(at)
	cs.periods = append(cs.periods, period{id: id, start: start, end: end})
	return &cs.periods[len(cs.periods)-1]
}

func decide(cs *counters, now time.Time, c Check) policy.Decision {
	if c.Kind == Period {
		p := cs.quota(c, now)
		return policy.CheckQuota(p.used, c.Limit, c.Need, now, p.end)
	}
	return policy.CheckDemand(cs.win(c), now, c.Limit, c.Need)
}

// Reserve implements Store.
func (m *Memory) Reserve(_ context.Context, now time.Time, checks []Check) (Verdict, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep(now)
	var buf [maxInline]*counters
	states := m.states(checks, &buf)
	v := Verdict{Allowed: true, Denied: -1, Remaining: make([]int64, len(checks))}
	for i, c := range checks {
		d := decide(states[i], now, c)
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
			p := states[i].quota(c, now)
			p.used += c.Reserve
			v.Remaining[i] = max(0, c.Limit-p.used)
			continue
		}
		w := states[i].win(c)
		w.Add(now, c.Reserve)
		v.Remaining[i] = max(0, c.Limit-w.Used(now))
	}
	return v, nil
}

// Settle implements Store.
func (m *Memory) Settle(_ context.Context, now, reservedAt time.Time, checks []Check, actual int64) ([]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var buf [maxInline]*counters
	states := m.states(checks, &buf)
	out := make([]int64, len(checks))
	for i, c := range checks {
		if c.Kind == Period {
			out[i] = settlePeriod(states[i], now, reservedAt, c, actual)
			continue
		}
		w := states[i].win(c)
		if c.Reserve > 0 {
			w.Adjust(reservedAt, actual-c.Reserve)
		} else {
			w.Add(now, actual)
		}
		out[i] = max(0, c.Limit-w.Used(now))
	}
	return out, nil
}

func settlePeriod(cs *counters, now, reservedAt time.Time, c Check, actual int64) int64 {
	at, delta := now, actual
	if c.Reserve > 0 {
		at, delta = reservedAt, actual-c.Reserve
	}
	cur := cs.quota(c, now)
	if start, _ := c.Bounds(at); start.Equal(cur.start) {
		cur.used = max(0, cur.used+delta)
	}
	return max(0, c.Limit-cur.used)
}

// maybeSweep drops empty windows and ended periods once per as many
// operations as there are keys, and at most once a second, which keeps the
// cost per operation constant and small, and memory bounded by the keys
// active in the last minute (and the quota periods still running).
func (m *Memory) maybeSweep(now time.Time) {
	m.ops++
	if m.ops < len(m.keys)+1024 || now.Sub(m.swept) < time.Second {
		return
	}
	m.ops, m.swept = 0, now
	for k, cs := range m.keys {
		if cs.window != nil && cs.window.Empty(now) {
			cs.window = nil
		}
		live := cs.periods[:0]
		for _, p := range cs.periods {
			if now.Before(p.end) {
				live = append(live, p)
			}
		}
		cs.periods = live
		if cs.window == nil && len(cs.periods) == 0 {
			delete(m.keys, k)
		}
	}
}

// Len returns the number of counters held (windows and quota periods).
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, cs := range m.keys {
		if cs.window != nil {
			n++
		}
		n += len(cs.periods)
	}
	return n
}
