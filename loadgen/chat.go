package loadgen

import (
	"math"
	"math/rand/v2"
	"time"
)

// arrivals produces a user's intended start times: an arrival process at
// the persona's rate, scaled over the run by its shape.
type arrivals struct {
	p     *Persona
	rng   *rand.Rand
	start time.Time
	run   time.Duration
	last  time.Time
	first bool
}

func newArrivals(p *Persona, rng *rand.Rand, start time.Time, run time.Duration) *arrivals {
	return &arrivals{p: p, rng: rng, start: start, run: run, last: start, first: true}
}

// gap draws one inter-arrival time at rate events per second.
func (a *arrivals) gap(rate float64) time.Duration {
	var g float64
	switch a.p.Arrival {
	case ArrivalConstant:
		g = 1 / rate
		if a.first { // spread users evenly over the first gap
			g *= a.rng.Float64()
		}
	case ArrivalGamma:
		k := a.p.Burstiness
		g = gammaDraw(a.rng, k) / (k * rate)
	default:
		g = a.rng.ExpFloat64() / rate
	}
	a.first = false
	return time.Duration(min(g, 1e8) * float64(time.Second)) // ~3 years: beyond any run, without overflow
}

// next returns the next intended time. A shaped Poisson or gamma process
// is thinned: candidates come at the peak rate and each is kept with
// probability shape(t)/peak, which gives a non-homogeneous process with
// rate rate·shape(t). A constant process uses the rate at the last arrival.
func (a *arrivals) next() time.Time {
	base := a.p.Rate.PerSecond()
	peak := a.p.Shape.Peak()
	for {
		if a.p.Arrival == ArrivalConstant {
			x := a.p.Shape.At(a.last.Sub(a.start), a.run)
			if x <= 0 {
				a.last = a.last.Add(100 * time.Millisecond)
				if a.last.Sub(a.start) > a.run {
					return a.last
				}
				continue
			}
			a.last = a.last.Add(a.gap(base * x))
			return a.last
		}
		a.last = a.last.Add(a.gap(base * peak))
		el := a.last.Sub(a.start)
		if el > a.run || a.rng.Float64()*peak < a.p.Shape.At(el, a.run) {
			return a.last
		}
	}
}

// gammaDraw draws from Gamma(k, 1) (Marsaglia and Tsang; for k < 1 the
// boost Gamma(k+1)·U^(1/k)).
func gammaDraw(rng *rand.Rand, k float64) float64 {
	if k < 1 {
		return gammaDraw(rng, k+1) * math.Pow(rng.Float64(), 1/k)
	}
	d := k - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if math.Log(u) < 0.5*x*x+d-d*v+d*math.Log(v) {
			return d * v
		}
	}
}

// chatUser returns the user's arrival source: each arrival starts a
// conversation, open loop (a slow answer does not delay the next one).
func (e *engine) chatUser(c *call) *source {
	return &source{arr: newArrivals(c.p, c.rng, e.start, e.opts.Duration), fire: func(t time.Time) {
		conv := c.forUser(e.opts.Seed, t)
		e.reqs.Go(func() { e.conversation(conv) })
	}}
}

const systemPrompt = "You are a helpful assistant."

// conversation runs the turns of one conversation: each turn sends the
// whole history plus a new user message, after the user's think time.
// A turn that does not succeed ends the conversation.
func (e *engine) conversation(c *call) {
	turns := 1
	if !c.p.Turns.IsZero() {
		turns = int(c.p.Turns.DrawTokens(c.rng, 10000))
	}
	msgs := make([]message, 1, 1+2*min(turns, 32)) // the history's room, grown past 32 turns
	msgs[0] = e.texts.system(c)
	for t := range turns {
		if t > 0 {
			// the next turn is intended one think time after the answer
			c.intended = e.tb.now().Add(time.Duration(c.p.ThinkTime.Sample(c.rng) * float64(time.Second)))
			if !e.tb.sleepUntil(c.intended) {
				return
			}
		}
		n := c.p.PromptTokens.DrawTokens(c.rng, e.opts.ContextTokens)
		maxTok := c.p.CompletionTokens.DrawTokens(c.rng, e.opts.ContextTokens)
		msgs = e.fit(c, append(msgs, e.texts.user(c, n)), e.opts.ContextTokens-maxTok)
		r := e.run(c, msgs, maxTok)
		if !r.ok {
			return
		}
		msgs = append(msgs, message{Role: "assistant", Content: r.content, tokens: r.usage.CompletionTokens, counted: r.counted})
	}
}

// fit drops the oldest messages after the system message until the
// history fits budget tokens; a last message longer than the budget is cut.
func (e *engine) fit(c *call, msgs []message, budget int64) []message {
	total := int64(0)
	for _, m := range msgs {
		total += m.tokens
	}
	for total > budget && len(msgs) > 2 {
		total -= msgs[1].tokens
		msgs = append(msgs[:1], msgs[2:]...)
	}
	if total > budget && len(msgs) == 2 {
		n := max(budget-msgs[0].tokens, 1)
		m := e.texts.user(c, n)
		m.Role = msgs[1].Role
		msgs[1] = m
	}
	return msgs
}
