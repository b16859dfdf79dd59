package loadgen

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// batch starts the job at At and again Every, while the run lasts. Jobs
// may overlap when one outlasts the interval, as cron-started jobs do.
func (e *engine) batch(c *call) {
	for at := c.p.At.D(); at < e.opts.Duration; at += c.p.Every.D() {
		if !e.tb.sleepUntil(e.start.Add(at)) {
			return
		}
		job := c.forUser(e.opts.Seed, e.start.Add(at))
		e.reqs.Go(func() { e.job(job) })
		if c.p.Every <= 0 {
			return
		}
	}
}

// job sends the job's requests, at the target rate (open loop, request i
// intended at start + i/rate) or with a fixed number of workers (closed
// loop), and records how the job ended.
func (e *engine) job(c *call) {
	c.col.add(func(s *Stats) { s.Jobs.Started++ })
	start := c.intended
	var failed, cut atomic.Bool
	base := c.rng.Uint64() // each request draws from its own stream
	one := func(i int, intended time.Time) {
		r := *c
		r.rng = rand.New(rand.NewPCG(base, uint64(i)))
		r.intended = intended
		r.sub = c.p.Keys[i%len(c.p.Keys)]
		r.subCol = e.subs[r.sub.ID]
		n := c.p.PromptTokens.DrawTokens(r.rng, e.opts.ContextTokens)
		maxTok := c.p.CompletionTokens.DrawTokens(r.rng, e.opts.ContextTokens)
		msgs := e.fit(&r, []message{e.texts.system(&r), e.texts.user(&r, n)}, e.opts.ContextTokens-maxTok)
		if !e.run(&r, msgs, maxTok).ok {
			failed.Store(true)
		}
	}
	wg := e.tb.group()
	if c.p.Rate > 0 {
		gap := float64(time.Second) / c.p.Rate.PerSecond()
		for i := range c.p.Requests {
			t := start.Add(time.Duration(float64(i) * gap))
			if !e.tb.sleepUntil(t) {
				cut.Store(true)
				break
			}
			wg.Go(func() { one(i, t) })
		}
	} else {
		var next atomic.Int64
		for range c.p.Concurrency {
			wg.Go(func() {
				for i := int(next.Add(1) - 1); i < c.p.Requests; i = int(next.Add(1) - 1) {
					if !e.tb.scheduling() {
						cut.Store(true)
						return
					}
					one(i, e.tb.now())
				}
			})
		}
	}
	wg.Wait()
	c.col.add(func(s *Stats) {
		switch {
		case cut.Load():
			s.Jobs.Unfinished++
		case failed.Load():
			s.Jobs.Failed++
		default:
			s.Jobs.Completed++
		}
	})
	if !cut.Load() {
		c.col.duration(e.since(start))
	}
}
