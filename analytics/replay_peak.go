package analytics

// peakWindow returns the most tokens the window could hold in any 60 s:
// each request's charge at the instant the gateway makes it (completion for
// apim without estimation; arrival, at the larger of reservation and usage,
// otherwise). At a limit above it nothing is refused by the token limit (a
// request's own charge is part of the peak), so the replay is answered
// without simulating. Events must be in arrival order.
func (rp *replayer) peakWindow() int64 {
	rp.prepare()
	ev, done := rp.events, rp.done
	reserve := func(e *event) int64 {
		if !rp.rule.reserves(e) {
			return 0
		}
		return rp.rule.demand(e).Reserve
	}
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
	rp.prepare()
	res := ReplayResult{LimitTPM: limit, Requests: int64(len(rp.events))}
	for i := range rp.blocks {
		rp.blocks[i] = blockCounts{}
	}
	for _, e := range rp.events {
		res.Tokens += int64(e.tokens)
		quota := e.flags&evQuota != 0
		if rp.blocks != nil {
			b := &rp.blocks[e.block]
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
