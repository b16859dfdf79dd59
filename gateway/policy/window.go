package policy

import "time"

// TPMWindow is the span of the tokens-per-minute sliding window.
const TPMWindow = time.Minute

// entry is tokens charged to a window at a moment (Unix nanoseconds:
// half the size of a time.Time and compared in one instruction).
type entry struct {
	at     int64
	tokens int64
}

// SlidingWindow is an exact sliding-window token counter: it remembers each
// charge and forgets it Span after it was made. The zero value is not usable;
// call NewSlidingWindow. Not safe for concurrent use: callers lock.
type SlidingWindow struct {
	span    int64   // nanoseconds
	entries []entry // ordered by at
	used    int64   // sum of entries' tokens
}

// NewSlidingWindow returns an empty window of the given span (TPMWindow when 0).
func NewSlidingWindow(span time.Duration) *SlidingWindow {
	if span <= 0 {
		span = TPMWindow
	}
	return &SlidingWindow{span: int64(span)}
}

// expire drops the charges that are at least span old at now. Dropping
// reslices past them: append reuses or reallocates the array as the window
// moves, so expiry costs O(1) amortised however many charges a busy key
// holds.
func (w *SlidingWindow) expire(now int64) {
	i := 0
	for i < len(w.entries) && now-w.entries[i].at >= w.span {
		w.used -= w.entries[i].tokens
		i++
	}
	switch {
	case i == len(w.entries):
		w.entries = w.entries[:0]
	case i > 0:
		w.entries = w.entries[i:]
	}
}

// Used returns the tokens charged in (now-span, now].
func (w *SlidingWindow) Used(now time.Time) int64 {
	w.expire(now.UnixNano())
	return w.used
}

// Add charges tokens at now. Zero or negative charges are ignored. Charges
// made at the same instant share one entry; a charge older than the newest
// entry is inserted in order.
func (w *SlidingWindow) Add(now time.Time, tokens int64) {
	if tokens <= 0 {
		return
	}
	at := now.UnixNano()
	w.expire(at)
	w.used += tokens
	n := len(w.entries)
	if n == 0 || w.entries[n-1].at < at { // the usual case: time moves on
		w.entries = append(w.entries, entry{at: at, tokens: tokens})
		return
	}
	i := w.find(at)
	if i < n && w.entries[i].at == at {
		w.entries[i].tokens += tokens
		return
	}
	w.entries = append(w.entries, entry{})
	copy(w.entries[i+1:], w.entries[i:])
	w.entries[i] = entry{at: at, tokens: tokens}
}

// find returns the index of the first entry not before at.
func (w *SlidingWindow) find(at int64) int {
	lo, hi := 0, len(w.entries)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if w.entries[m].at < at {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// Adjust changes the tokens charged at the instant at by delta (a reservation
// settled to its actual usage). A positive delta on an instant with no entry
// is charged at that instant; a charge never drops below zero; charges that
// already expired are left alone.
func (w *SlidingWindow) Adjust(at time.Time, delta int64) {
	if delta > 0 {
		w.Add(at, delta)
		return
	}
	t := at.UnixNano()
	i := w.find(t)
	if i == len(w.entries) || w.entries[i].at != t {
		return
	}
	dec := min(-delta, w.entries[i].tokens)
	w.entries[i].tokens -= dec
	w.used -= dec
}

// Span returns the window's span.
func (w *SlidingWindow) Span() time.Duration { return time.Duration(w.span) }

// Empty reports whether nothing is charged at now, so the window can be dropped.
func (w *SlidingWindow) Empty(now time.Time) bool {
	return w.Used(now) == 0
}

// WaitUntilBelow returns how long from now until the used tokens fall to at
// most target, as the oldest charges expire. It is 0 when already there.
func (w *SlidingWindow) WaitUntilBelow(now time.Time, target int64) time.Duration {
	t := now.UnixNano()
	w.expire(t)
	used := w.used
	for _, e := range w.entries {
		if used <= target {
			break
		}
		used -= e.tokens
		if used <= target {
			return time.Duration(e.at + w.span - t)
		}
	}
	return 0
}
