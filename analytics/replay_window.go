package analytics

import (
	"time"

	"github.com/aiload/aiload/gateway/policy"
)

// replayWindow is the 60-second token window of a replay: the gateway's
// own policy.SlidingWindow and policy.CheckDemand, or (native) a copy of
// the same rule on Unix microseconds, without time.Time conversions, whose
// reservations are found by position rather than by instant.
type replayWindow struct {
	pw     *policy.SlidingWindow
	native bool
	buf    []wEntry // buf[head:] are the live charges, in time order
	head   int
	base   int64 // the sequence number of buf[0]
	used   int64
}

type wEntry struct{ atUS, tokens int64 }

// span is the window's span in microseconds.
const span = int64(policy.TPMWindow / time.Microsecond)

// reset empties the window and chooses its kind.
func (w *replayWindow) reset(native bool) {
	w.native, w.buf, w.head, w.base, w.used = native, w.buf[:0], 0, 0, 0
	if !native {
		w.pw = policy.NewSlidingWindow(policy.TPMWindow)
	}
}

// check is policy.CheckDemand: allowed when used + need <= limit; else the
// wait until used falls to limit - need (a whole span when need alone
// exceeds the limit).
func (w *replayWindow) check(nowUS, limit, need int64) (bool, time.Duration) {
	if !w.native {
		d := policy.CheckDemand(w.pw, time.UnixMicro(nowUS), limit, need)
		return d.Allowed, d.RetryAfter
	}
	w.expire(nowUS)
	if w.used+need <= limit {
		return true, 0
	}
	if need > limit {
		return false, policy.TPMWindow
	}
	used, target := w.used, limit-need
	for _, e := range w.buf[w.head:] {
		used -= e.tokens
		if used <= target {
			return false, time.Duration(e.atUS+span-nowUS) * time.Microsecond
		}
	}
	return false, 0
}

// expire drops the charges at least span old at now.
func (w *replayWindow) expire(nowUS int64) {
	for w.head < len(w.buf) && nowUS-w.buf[w.head].atUS >= span {
		w.used -= w.buf[w.head].tokens
		w.head++
	}
}

// add charges tokens at now (non-decreasing across calls) and returns the
// charge's sequence number for adjust.
func (w *replayWindow) add(nowUS, tokens int64) int64 {
	if !w.native {
		w.pw.Add(time.UnixMicro(nowUS), tokens)
		return 0
	}
	if tokens <= 0 {
		return -1
	}
	w.expire(nowUS)
	if len(w.buf) == cap(w.buf) && w.head >= len(w.buf)/2 {
		// At least half expired: move the live charges down rather than grow.
		n := copy(w.buf, w.buf[w.head:])
		w.buf, w.base, w.head = w.buf[:n], w.base+int64(w.head), 0
	}
	w.buf = append(w.buf, wEntry{nowUS, tokens})
	w.used += tokens
	return w.base + int64(len(w.buf)-1)
}

// adjust changes the charge made at atUS (sequence seq) by delta, as
// policy.SlidingWindow.Adjust does: never below zero, and nothing once it
// expired.
func (w *replayWindow) adjust(atUS, seq, delta int64) {
	if !w.native {
		w.pw.Adjust(time.UnixMicro(atUS), delta)
		return
	}
	i := seq - w.base
	if seq < 0 || i < int64(w.head) {
		return
	}
	e := &w.buf[i]
	d := max(delta, -e.tokens)
	e.tokens += d
	w.used += d
}
