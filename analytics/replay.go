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
	block          uint16 // its bootstrap block, when the replayer counts blocks
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

// reserves reports whether e's demand can reserve at arrival (else it is
// charged at completion, need 1): strict mode, estimation, streams.
func (r replayRule) reserves(e *event) bool {
	return r.mode == policy.ModeStrict || r.estimate || e.flags&evStream != 0
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
	// blocks, when set before the first replay, receives per-block counts:
	// block (at - blockOrigin) / blockSpan, clamped to the blocks (at most
	// 65,536).
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
	if len(rp.blocks) > 0 {
		last := int64(len(rp.blocks) - 1)
		for i := range rp.events {
			e := &rp.events[i]
			e.block = uint16(min(max((e.atUS-rp.blockOrigin)/rp.blockSpan, 0), last))
		}
	}
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
	// Completions at one instant may settle in any order: no check comes
	// between them.
	slices.SortFunc(keys, func(a, b key) int { return cmp.Compare(a.at, b.at) })
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
	if !rp.rule.reserves(e) {
		w.add(p.atUS, int64(e.charge))
		return
	}
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
		b = int(e.block)
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
