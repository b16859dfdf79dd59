package analytics

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
