package dashboard

import "time"

// windowSeconds is the span of the "last minute" figures: TPM used, 429s in
// the last minute, NAT IPs throttled.
const windowSeconds = 60

// rateSeconds is the span over which request and token rates are averaged.
const rateSeconds = 5

// window counts events in one-second slots over the last windowSeconds.
// Slot i holds the second whose Unix time ≡ i (mod windowSeconds); a slot
// whose stamp is stale counts as zero. The zero value is empty.
type window struct {
	sec [windowSeconds]int64
	val [windowSeconds]int64
}

// add adds v at time t.
func (w *window) add(t time.Time, v int64) {
	s := t.Unix()
	i := s % windowSeconds
	if w.sec[i] != s {
		w.sec[i], w.val[i] = s, 0
	}
	w.val[i] += v
}

// sum is the total of the n seconds ending with now's second (n ≤ windowSeconds).
func (w *window) sum(now time.Time, n int64) int64 {
	end := now.Unix()
	var total int64
	for i := range w.sec {
		if s := w.sec[i]; s > end-n && s <= end {
			total += w.val[i]
		}
	}
	return total
}
