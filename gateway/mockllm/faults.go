package mockllm

import (
	"context"
	"strconv"
	"time"
)

// admitPTU charges tokens to the PTU leaky bucket: the bucket holds at most
// PTUTPM tokens and drains PTUTPM/60 per second. It returns how long until
// the charge would fit when it does not.
//
//	level(now) = max(0, level(then) - (now-then)·PTUTPM/60s)
//	fits       = level(now) + tokens <= PTUTPM
//	wait       = (level(now) + tokens - PTUTPM) / (PTUTPM/60s)
//
// A request larger than the whole capacity waits for an empty bucket.
func (s *Server) admitPTU(tokens float64) (time.Duration, bool) {
	if s.cfg.PTUTPM <= 0 {
		return 0, true
	}
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	capacity := float64(s.cfg.PTUTPM)
	rate := capacity / time.Minute.Seconds()
	if !s.drained.IsZero() {
		s.bucket = max(0, s.bucket-now.Sub(s.drained).Seconds()*rate)
	}
	s.drained = now
	need := tokens
	if s.bucket+need <= capacity || (s.bucket == 0 && need > capacity) {
		s.bucket += need
		return 0, true
	}
	s.throttle++
	over := s.bucket + min(need, capacity) - capacity
	return time.Duration(over / rate * float64(time.Second)), false
}

// settlePTU takes tokens charged at arrival above a request's actual cost
// back out of the PTU bucket when the answer completes.
func (s *Server) settlePTU(over float64) {
	if s.cfg.PTUTPM <= 0 || over <= 0 {
		return
	}
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	rate := float64(s.cfg.PTUTPM) / time.Minute.Seconds()
	if !s.drained.IsZero() {
		s.bucket = max(0, s.bucket-now.Sub(s.drained).Seconds()*rate)
	}
	s.drained = now
	s.bucket = max(0, s.bucket-over)
}

// Throttled returns how many requests were answered 429 by the PTU ceiling.
func (s *Server) Throttled() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttle
}

func (s *Server) roll(rate float64) bool {
	if rate <= 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.Float64() < rate
}

// fault applies the configured faults: a slow first byte (a wait), then
// at most one of a reset, a hang (until the caller gives up) or a 500. It
// returns serve when none of them ends the request.
func (s *Server) fault(ctx context.Context) verdictKind {
	if s.roll(s.cfg.SlowFirstByteRate) && s.sleep(ctx, s.cfg.SlowFirstByte) != nil {
		return gone
	}
	switch {
	case s.roll(s.cfg.ResetRate):
		return reset
	case s.roll(s.cfg.TimeoutRate):
		<-ctx.Done()
		return gone
	case s.roll(s.cfg.ErrorRate):
		return failed
	}
	return serve
}

// sleep waits d, or until the caller gives up.
func (s *Server) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	return s.cfg.Sleep(ctx, d)
}

// sleepTimer waits d on a timer, or until ctx ends.
func sleepTimer(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// UtilizationHeader is the response header in which a provisioned (PTU)
// deployment reports how full it is, as Azure OpenAI sends it: a
// percentage with a trailing "%", e.g. "42.5%".
const UtilizationHeader = "azure-openai-deployment-utilization"

// Utilization returns the PTU bucket's level now as a share of its
// capacity in percent (above 100 only after a request larger than the
// whole capacity), and false for a pay-as-you-go mock, which has none.
func (s *Server) Utilization() (float64, bool) {
	if s.cfg.PTUTPM <= 0 {
		return 0, false
	}
	now := s.cfg.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	capacity := float64(s.cfg.PTUTPM)
	level := s.bucket
	if !s.drained.IsZero() {
		level = max(0, level-now.Sub(s.drained).Seconds()*capacity/time.Minute.Seconds())
	}
	return 100 * level / capacity, true
}

// setUtilization sets UtilizationHeader on h from the PTU bucket's level
// now; a pay-as-you-go mock sends none.
func (s *Server) setUtilization(h interface{ Set(name, value string) }) {
	if u, ok := s.Utilization(); ok {
		h.Set(UtilizationHeader, strconv.FormatFloat(u, 'f', 1, 64)+"%")
	}
}
