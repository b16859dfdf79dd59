package loadgen

import (
	"fmt"
	"sync"
	"time"
)

// agent returns the agent's arrival source: each arrival starts a
// pipeline, open loop.
func (e *engine) agent(c *call) *source {
	b := &budget{remaining: -1}
	return &source{arr: newArrivals(c.p, c.rng, e.start, e.opts.Duration), fire: func(t time.Time) {
		run := c.forUser(e.opts.Seed, t)
		e.reqs.Go(func() { e.pipeline(run, b) })
	}}
}

// budget is what an agent last heard about its remaining tokens.
type budget struct {
	mu        sync.Mutex
	remaining int64 // -1: unknown
	limit     int64
}

func (b *budget) set(remaining, limit int64) {
	b.mu.Lock()
	b.remaining, b.limit = remaining, limit
	b.mu.Unlock()
}

// pause returns how long to wait before a step needing need tokens. With
// a sliding one-minute window, about limit/60 tokens free up per second, so
// a deficit of need−remaining tokens takes 60·deficit/limit seconds (at
// most a minute). Unknown budgets and limits never pause.
func (b *budget) pause(need int64) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.remaining < 0 || b.remaining >= need || b.limit <= 0 {
		return 0
	}
	deficit := min(need-b.remaining, b.limit)
	b.remaining = -1 // re-learn from the next answer
	return time.Duration(float64(time.Minute) * float64(deficit) / float64(b.limit))
}

// pipeline runs the steps in order; each step's prompt is the context so
// far plus the step's input. A step that does not succeed breaks the
// pipeline.
func (e *engine) pipeline(c *call, b *budget) {
	p := c.p
	stats := func(f func(*PipelineStats)) { c.col.add(func(s *Stats) { f(s.Pipelines) }) }
	stats(func(ps *PipelineStats) { ps.Started++ })
	start := c.intended
	var delay time.Duration
	degraded := false
	msgs := []message{e.texts.system(c)}
	ctxTokens := int64(6)
	first := true
	for si, step := range p.Steps {
		name := step.Name
		if name == "" {
			name = fmt.Sprintf("steps[%d]", si)
		}
		for range step.Repeat {
			in, out := step.PromptTokens, step.CompletionTokens
			if in.IsZero() {
				in = p.PromptTokens
			}
			if out.IsZero() {
				out = p.CompletionTokens
			}
			n := in.DrawTokens(c.rng, e.opts.ContextTokens)
			maxTok := out.DrawTokens(c.rng, e.opts.ContextTokens)
			msgs = e.fit(c, append(msgs, e.texts.user(c, n)), e.opts.ContextTokens-maxTok)
			ctxTokens += n
			if !first { // the first step is due at the arrival, the others on the previous answer
				c.intended = e.tb.now()
			}
			first = false
			if p.Proactive {
				if w := b.pause(ctxTokens + maxTok); w > 0 {
					stats(func(ps *PipelineStats) { ps.ProactivePauses++ })
					c.intended = c.intended.Add(w)
					delay += w
					if !e.tb.sleepUntil(c.intended) {
						e.endPipeline(c, start, delay, "", true)
						return
					}
				}
			}
			r := e.run(c, msgs, maxTok)
			delay += r.throttleDelay
			if r.remaining >= 0 {
				b.set(r.remaining, r.limit)
			}
			if !r.ok {
				e.endPipeline(c, start, delay, name, r.cut)
				return
			}
			degraded = degraded || r.degraded
			msgs = append(msgs, message{Role: "assistant", Content: r.content, tokens: r.usage.CompletionTokens, counted: r.counted})
			ctxTokens += r.usage.CompletionTokens
		}
	}
	if degraded {
		stats(func(ps *PipelineStats) { ps.Degraded++ })
	}
	e.endPipeline(c, start, delay, "", false)
}

// endPipeline records how a pipeline ended: completed (brokenAt empty,
// not cut), broken at a step, or cut by the end of the run.
func (e *engine) endPipeline(c *call, start time.Time, delay time.Duration, brokenAt string, cut bool) {
	ok := brokenAt == "" && !cut
	c.col.add(func(s *Stats) {
		ps := s.Pipelines
		ps.ThrottleDelaySeconds += delay.Seconds()
		switch {
		case ok:
			ps.Completed++
		case cut:
			ps.Unfinished++
		default:
			ps.Broken++
			if ps.BrokenAt == nil {
				ps.BrokenAt = map[string]int64{}
			}
			ps.BrokenAt[brokenAt]++
		}
	})
	if ok {
		c.col.duration(e.since(start))
	}
}
