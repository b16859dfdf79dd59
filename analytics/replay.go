package analytics

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/aiload/aiload/gateway/policy"
)

// event is one request of demand (a first attempt) as the replay needs it.
type event struct {
	atUS  int64 // arrival, Unix microseconds
	latUS int32 // arrival to completion, microseconds
	// tokens is the request's demand (total tokens; a refused record's
	// estimate); charge is what the gateway charges when it completes (the
	// usage of an answered request, 0 for a failed one).
	tokens, charge int32
	prompt         int32 // prompt tokens: the estimate reserved at arrival
	caller         uint16
	flags          uint8
}

// Event flags, as replay_events.sql packs them.
const (
	evStream  uint8 = 1 << iota // a stream: prompt tokens are always estimated
	evQuota                     // refused by a token quota (403) in the records: a limit the TPM does not change
	evRefused                   // refused by a token limit (429) in the records: its latency is not an answer's
	evFailed                    // answered with an error: the gateway charged nothing
)

// unpackEvent reads an event as replay_events.sql packs it.
func unpackEvent(at, tp, lfc int64) event {
	e := event{atUS: at, tokens: int32(tp >> 32), prompt: int32(tp & (1<<32 - 1)),
		latUS: int32(lfc >> 24), caller: uint16(lfc >> 8), flags: uint8(lfc)}
	if e.flags&evFailed == 0 {
		e.charge = e.tokens
	}
	return e
}

// ReplayResult is what a token limit would have done to recorded demand,
// with the callers' retries in the loop.
type ReplayResult struct {
	LimitTPM int64
	// Requests and Tokens are the demand replayed: first attempts and their
	// tokens.
	Requests, Tokens int64
	// ThrottledRequests and ThrottledTokens are the first attempts refused
	// (429 by the token limit, or 403 by a quota) and their tokens: the
	// share the target bounds.
	ThrottledRequests, ThrottledTokens int64
	// Retries are the retry attempts the callers sent after a 429, and
	// RetriesRefused those refused again.
	Retries, RetriesRefused int64
	// GaveUpRequests and GaveUpTokens are the requests never served: every
	// attempt refused (the caller gave up, or does not retry).
	GaveUpRequests, GaveUpTokens int64
}

// RequestShare is the share of requests whose first attempt was refused
// (0 when there were none).
func (r ReplayResult) RequestShare() float64 { return share(r.ThrottledRequests, r.Requests) }

// TokenShare is the share of demanded tokens in first attempts refused.
func (r ReplayResult) TokenShare() float64 { return share(r.ThrottledTokens, r.Tokens) }

// GaveUpShare is the share of requests never served.
func (r ReplayResult) GaveUpShare() float64 { return share(r.GaveUpRequests, r.Requests) }

// DeniedTokenShare is the share of demanded tokens never served.
func (r ReplayResult) DeniedTokenShare() float64 { return share(r.GaveUpTokens, r.Tokens) }

func share(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// replayRule is how the gateway's token limit treats requests: the mode,
// and whether prompt tokens are estimated at arrival (streams always are).
type replayRule struct {
	mode     policy.Mode
	estimate bool
}

// demand returns what e asks of the counter at arrival.
func (r replayRule) demand(e *event) policy.Demand {
	return policy.DemandFor(r.mode, r.estimate || e.flags&evStream != 0, int64(e.prompt), int64(e.tokens-e.prompt))
}

// pending is a completion to settle or a retry to send, ordered by time;
// at one instant completions come first, so a check sees every charge of
// that instant.
type pending struct {
	atUS    int64
	arrUS   int64 // completion: when the attempt was admitted (its reservation's instant)
	seq     int64 // completion: the reservation's entry in a native window
	ev      int32 // the request, index in the events
	attempt int16 // retry: its attempt number; 0 for a completion
}

func (p pending) before(q pending) bool {
	if p.atUS != q.atUS {
		return p.atUS < q.atUS
	}
	return p.attempt < q.attempt
}

// queue is a binary min-heap of pending work.
type queue []pending

func (h *queue) push(p pending) {
	*h = append(*h, p)
	s := *h
	for i := len(s) - 1; i > 0; {
		up := (i - 1) / 2
		if !s[i].before(s[up]) {
			break
		}
		s[i], s[up] = s[up], s[i]
		i = up
	}
}

func (h *queue) pop() pending {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && s[l].before(s[m]) {
			m = l
		}
		if r := l + 1; r < n && s[r].before(s[m]) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// blockCounts are the first attempts and refused first attempts of one
// block of time, for the bootstrap.
type blockCounts struct{ requests, refused int64 }

// replayer replays one consumer's events. Its buffers are reused across
// replays; not safe for concurrent use.
type replayer struct {
	events  []event
	callers []Caller
	rule    replayRule
	// q holds retries and the completions of retries and of attempts
	// answered at once; first attempts' completions come in done order.
	q queue
	// done lists the first attempts with a latency by completion time; a
	// replay walks it beside the arrivals, settling those it admitted
	// (admitted[i] == epoch), so most completions need no heap.
	done     []int32
	admitted []uint32
	epoch    uint32
	seqs     []int64 // native reservation of each admitted first attempt
	// blocks, when set, receives per-block counts: block
	// (at - blockOrigin) / blockSpan, clamped to the blocks.
	blocks                 []blockCounts
	blockOrigin, blockSpan int64
	// native replays on the window of replay_window.go instead of the
	// policy's (the same rule, without time.Time; TestNativeWindowAgrees
	// holds them equal): for the search and the bootstrap's extra limits.
	native bool
	w      replayWindow
}

// replay runs the events through the gateway's token limit of limit tokens
// per minute, at the gateway's own event times:
//
//   - apim with estimate-prompt-tokens off (policy.DemandFor: need 1,
//     reserve 0): the check at arrival passes while the 60 s window holds
//     fewer tokens than the limit; the usage is charged when the answer
//     completes (arrival + the recorded latency), so requests in flight
//     are not counted;
//   - apim with estimation on, and every stream: the estimated prompt must
//     fit and is reserved at arrival; at completion the reservation is
//     settled to the actual usage (policy.SlidingWindow.Adjust at the
//     arrival instant, as the gateway's store does);
//   - strict: prompt + max_tokens is reserved at arrival (records carry
//     the usage of answered requests, so the replay reserves their total
//     tokens) and settled at completion.
//
// A first attempt refused with 429 comes back as its caller would
// (Caller): after the Retry-After the gateway would send, after a backoff,
// or never. Retries are attempts of the same request: they are charged
// when served but are not demand. A record refused by a quota (403) stays
// refused: it is not retried (callers retry 429s only).
//
// The replay stops early, with the counts so far, once more than stopAbove
// first attempts were refused.
func (rp *replayer) replay(limit int64, stopAbove int64) ReplayResult {
	rp.prepare()
	res := ReplayResult{LimitTPM: limit, Requests: int64(len(rp.events))}
	w := &rp.w
	w.reset(rp.native)
	rng := rand.New(rand.NewPCG(uint64(limit), 0x5eed))
	rp.q = rp.q[:0]
	rp.epoch++
	for i := range rp.blocks {
		rp.blocks[i] = blockCounts{}
	}
	const never = math.MaxInt64
	ev, done := rp.events, rp.done
	next, d := 0, 0
	for {
		// The next completion of an admitted first attempt: skip those
		// refused (a first attempt not yet arrived completes after the
		// next arrival, since its latency is positive).
		for d < len(done) && int(done[d]) < next && rp.admitted[done[d]] != rp.epoch {
			d++
		}
		tA, tD, tQ := int64(never), int64(never), int64(never)
		if next < len(ev) {
			tA = ev[next].atUS
		}
		if d < len(done) {
			e := &ev[done[d]]
			tD = e.atUS + int64(e.latUS)
		}
		if len(rp.q) > 0 {
			tQ = rp.q[0].atUS
		}
		switch {
		case tA == never && tD == never && tQ == never:
			return res
		case tD <= tA && tD <= tQ:
			i := done[d]
			d++
			rp.settle(w, pending{atUS: tD, arrUS: ev[i].atUS, seq: rp.seqs[i], ev: i})
			continue
		case tQ <= tA:
			p := rp.q.pop()
			if p.attempt == 0 {
				rp.settle(w, p)
				continue
			}
			if !rp.attempt(w, p, limit, rng, &res) && res.ThrottledRequests > stopAbove {
				return res
			}
		default:
			p := pending{atUS: tA, ev: int32(next), attempt: 1}
			next++
			if !rp.attempt(w, p, limit, rng, &res) && res.ThrottledRequests > stopAbove {
				return res
			}
		}
	}
}

// prepare sorts the first attempts with a latency by completion time,
// once.
func (rp *replayer) prepare() {
	if rp.admitted != nil || len(rp.events) == 0 {
		return
	}
	rp.admitted = make([]uint32, len(rp.events))
	rp.seqs = make([]int64, len(rp.events))
	type key struct {
		at int64
		i  int32
	}
	keys := make([]key, 0, len(rp.events))
	for i, e := range rp.events {
		if e.latUS > 0 && e.flags&evQuota == 0 {
			keys = append(keys, key{e.atUS + int64(e.latUS), int32(i)})
		}
	}
	slices.SortFunc(keys, func(a, b key) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.i, b.i)) })
	rp.done = make([]int32, len(keys))
	for k, x := range keys {
		rp.done[k] = x.i
	}
}

// settle charges a completed attempt's usage, as the gateway's store does:
// a reservation is adjusted to the usage at its own instant; without one,
// the usage is charged now.
func (rp *replayer) settle(w *replayWindow, p pending) {
	e := &rp.events[p.ev]
	if r := rp.rule.demand(e).Reserve; r > 0 {
		w.adjust(p.arrUS, p.seq, int64(e.charge)-r)
		return
	}
	w.add(p.atUS, int64(e.charge))
}

// attempt decides one attempt and schedules what follows: its completion
// when admitted, its retry when refused and the caller retries. It reports
// whether the attempt was admitted.
func (rp *replayer) attempt(w *replayWindow, p pending, limit int64, rng *rand.Rand, res *ReplayResult) bool {
	e := &rp.events[p.ev]
	first := p.attempt == 1
	if first {
		res.Tokens += int64(e.tokens)
	} else {
		res.Retries++
	}
	var allowed bool
	var retryAfter time.Duration
	var dem policy.Demand
	if e.flags&evQuota == 0 {
		dem = rp.rule.demand(e)
		allowed, retryAfter = w.check(p.atUS, limit, dem.Need)
	}
	b := -1
	if first && rp.blocks != nil {
		b = int(min(max((p.atUS-rp.blockOrigin)/rp.blockSpan, 0), int64(len(rp.blocks)-1)))
		rp.blocks[b].requests++
	}
	if allowed {
		var seq int64
		if dem.Reserve > 0 {
			seq = w.add(p.atUS, dem.Reserve)
		}
		switch {
		case first && e.latUS > 0:
			rp.admitted[p.ev], rp.seqs[p.ev] = rp.epoch, seq // completes in done order
		case e.latUS == 0 && dem.Reserve == 0:
			w.add(p.atUS, int64(e.charge))
		default:
			rp.q.push(pending{atUS: p.atUS + int64(e.latUS), arrUS: p.atUS, seq: seq, ev: p.ev})
		}
		return true
	}
	if first {
		res.ThrottledRequests++
		res.ThrottledTokens += int64(e.tokens)
		if b >= 0 {
			rp.blocks[b].refused++
		}
	} else {
		res.RetriesRefused++
	}
	if e.flags&evQuota == 0 {
		if wait, ok := rp.callers[e.caller].next(int(p.attempt), retryAfter, rng); ok {
			rp.q.push(pending{atUS: p.atUS + wait.Microseconds(), ev: p.ev, attempt: p.attempt + 1})
			return false
		}
	}
	res.GaveUpRequests++
	res.GaveUpTokens += int64(e.tokens)
	return false
}

// peakWindow returns the most tokens the window could hold in any 60 s:
// each request's charge at the instant the gateway makes it (completion for
// apim without estimation; arrival, at the larger of reservation and usage,
// otherwise). At a limit above it nothing is refused by the token limit (a
// request's own charge is part of the peak), so the replay is answered
// without simulating. Events must be in arrival order.
func (rp *replayer) peakWindow() int64 {
	rp.prepare()
	ev, done := rp.events, rp.done
	reserve := func(e *event) int64 { return rp.rule.demand(e).Reserve }
	var peak, sum int64
	var win []wEntry
	head := 0
	add := func(at, tokens int64) {
		win = append(win, wEntry{at, tokens})
		sum += tokens
		for win[head].atUS+span <= at {
			sum -= win[head].tokens
			head++
		}
		peak = max(peak, sum)
		if head > 1024 && head > len(win)/2 {
			win, head = win[:copy(win, win[head:])], 0
		}
	}
	// Two streams in time order: charges at arrival (reservations, and
	// usage answered at once) and usage charged at completion (done order).
	i, d := 0, 0
	for {
		for i < len(ev) && (ev[i].flags&evQuota != 0 || ev[i].latUS > 0 && reserve(&ev[i]) == 0) {
			i++
		}
		for d < len(done) && reserve(&ev[done[d]]) > 0 {
			d++
		}
		switch {
		case i == len(ev) && d == len(done):
			return peak
		case d == len(done) || i < len(ev) && ev[i].atUS <= ev[done[d]].atUS+int64(ev[done[d]].latUS):
			e := &ev[i]
			i++
			if r := reserve(e); r > 0 {
				add(e.atUS, max(r, int64(e.charge), rp.rule.demand(e).Need))
			} else {
				add(e.atUS, int64(e.charge))
			}
		default:
			e := &ev[done[d]]
			d++
			add(e.atUS+int64(e.latUS), int64(e.charge))
		}
	}
}

// replayAbovePeak is replay, answered without simulation when the limit is
// above peak (peakWindow): only quota refusals remain.
func (rp *replayer) replayAbovePeak(limit, peak int64) ReplayResult {
	if limit <= peak {
		return rp.replay(limit, 1<<62)
	}
	res := ReplayResult{LimitTPM: limit, Requests: int64(len(rp.events))}
	for i := range rp.blocks {
		rp.blocks[i] = blockCounts{}
	}
	for _, e := range rp.events {
		res.Tokens += int64(e.tokens)
		quota := e.flags&evQuota != 0
		if rp.blocks != nil {
			b := &rp.blocks[min(max((e.atUS-rp.blockOrigin)/rp.blockSpan, 0), int64(len(rp.blocks)-1))]
			b.requests++
			if quota {
				b.refused++
			}
		}
		if quota {
			res.ThrottledRequests++
			res.ThrottledTokens += int64(e.tokens)
			res.GaveUpRequests++
			res.GaveUpTokens += int64(e.tokens)
		}
	}
	return res
}

// throttleBudget is the most of n requests that may be refused for a
// share of at most target, as ReplayResult.RequestShare compares it.
func throttleBudget(n int64, target float64) int64 {
	t := max(0, int64(target*float64(n)))
	for t < n && share(t+1, n) <= target {
		t++
	}
	for t >= 0 && share(t, n) > target {
		t--
	}
	return t
}
