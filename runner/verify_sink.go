package runner

import (
	"sync"

	"github.com/aiload/aiload/record"
)

// Attempts counts one consumer's requests in one rerun. A first attempt is
// a record with attempt 0 or 1; refused means status 429 or 403. Requests
// the gateway refused before any token limit (401, the JWT's 403, 400)
// are not demand and are not counted.
type Attempts struct {
	First          int64 `json:"first"`
	FirstRefused   int64 `json:"first_refused"`
	Retries        int64 `json:"retries"`
	RetriesRefused int64 `json:"retries_refused"`
}

// Share is the share of first attempts refused (0 without any).
func (a Attempts) Share() float64 {
	if a.First == 0 {
		return 0
	}
	return float64(a.FirstRefused) / float64(a.First)
}

// verifySink counts a rerun's attempts per consumer.
type verifySink struct {
	mu   sync.Mutex
	plan *verifyPlan
	got  []Attempts
}

var _ record.Sink = (*verifySink)(nil)

func newVerifySink(p *verifyPlan) *verifySink {
	return &verifySink{plan: p, got: make([]Attempts, len(p.groupOf))}
}

func (s *verifySink) Write(r *record.Record) error {
	switch r.Outcome {
	case record.OutcomeUnauthorized, record.OutcomeForbidden, record.OutcomeBadRequest:
		return nil
	}
	i := s.plan.consumer(r)
	if i < 0 {
		return nil
	}
	refused := r.Status == 429 || r.Status == 403
	s.mu.Lock()
	defer s.mu.Unlock()
	a := &s.got[i]
	if r.Attempt <= 1 {
		a.First++
		if refused {
			a.FirstRefused++
		}
		return nil
	}
	a.Retries++
	if refused {
		a.RetriesRefused++
	}
	return nil
}
