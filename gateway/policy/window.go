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
	span int64   // nanoseconds
	buf  []entry // buf[head:] are the charges, ordered by at
	head int
	used int64 // sum of the charges' tokens
}

// NewSlidingWindow returns an empty window of the given span (TPMWindow when 0).
func NewSlidingWindow(span time.Duration) *SlidingWindow {
	if span <= 0 {
		span = TPMWindow
	}
	return &SlidingWindow{span: int64(span)}
}

// live returns the charges in the window.
func (w *SlidingWindow) live() []entry { return w.buf[w.head:] }

// expire drops the charges that are at least span old at now, by moving
// head past them: O(1) amortised however many charges a busy key holds.
func (w *SlidingWindow) expire(now int64) {
	for w.head < len(w.buf) && now-w.buf[w.head].at >= w.span {
		w.used -= w.buf[w.head].tokens
		w.head++
	}
	if w.head == len(w.buf) {
		w.buf, w.head = w.buf[:0], 0
	}
}

// room makes space for one more charge at the end of buf. When the array
// is full it moves the charges down over the expired ones if those are at
// least as many (so each moved charge pays for a freed slot), else it
// grows the array: a window whose charges come and go at a steady rate
// stops allocating.
func (w *SlidingWindow) room() {
	if len(w.buf) < cap(w.buf) {
		return
	}
	n := len(w.buf) - w.head
	if w.head > 0 && w.head >= n {
		copy(w.buf, w.buf[w.head:])
		w.buf, w.head = w.buf[:n], 0
		return
	}
	grown := make([]entry, n, 2*n+1)
	copy(grown, w.buf[w.head:])
	w.buf, w.head = grown, 0
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
	n := len(w.buf)
	if n == w.head || w.buf[n-1].at < at { // the usual case: time moves on
		w.room()
		w.buf = append(w.buf, entry{at: at, tokens: tokens})
		return
	}
	i := w.find(at)
	live := w.live()
	if i < len(live) && live[i].at == at {
		live[i].tokens += tokens
		return
	}
	w.room()
	j := w.head + i
	w.buf = append(w.buf, entry{})
	copy(w.buf[j+1:], w.buf[j:])
	w.buf[j] = entry{at: at, tokens: tokens}
}

// find returns the index in live() of the first charge not before at.
func (w *SlidingWindow) find(at int64) int {
	live := w.live()
	lo, hi := 0, len(live)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if live[m].at < at {
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
	live := w.live()
	if i == len(live) || live[i].at != t {
		return
	}
	dec := min(-delta, live[i].tokens)
	live[i].tokens -= dec
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
	for _, e := range w.live() {
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
