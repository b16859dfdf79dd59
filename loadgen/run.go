package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/aiload/aiload/vclock"
)

// Options configure one load run.
type Options struct {
	// Scenario names the run; sent as x-aiload-scenario.
	Scenario string
	// Duration is how long arrivals are scheduled.
	Duration time.Duration
	// Seed makes arrivals and token lengths reproducible.
	Seed uint64
	// Model is the default model of personas that name none.
	Model string
	// ContextTokens clamps every token draw and bounds a conversation's
	// history (default DefaultContextTokens).
	ContextTokens int64
	Target        Target
	// Personas are the callers; each must have Keys resolved (at least one
	// SubKey, whose Key may be empty for targets that need none).
	Personas []Persona
	// Drain is how long in-flight requests may take to finish after the run
	// ends or is interrupted (default 30 s).
	Drain time.Duration
	// Transport, when set, sends every request (nat personas then share it
	// instead of binding their own source addresses; on a virtual Clock
	// their requests carry their address, see SourceAddr).
	Transport http.RoundTripper
	// LateThreshold is how late an attempt may start before it counts as a
	// late start (default 10 ms).
	LateThreshold time.Duration
	// Snapshots, when set, receives a Snapshot every SnapshotEvery (default
	// 1 s) and a final one (Final true). Sends never block: a snapshot the
	// receiver is not ready for is dropped. Run does not close the channel.
	Snapshots     chan<- Snapshot
	SnapshotEvery time.Duration
	// Shard, when set, runs only this machine's share of the users.
	Shard Shard
	// HistogramLog, when set, receives an HdrHistogram interval log (.hlog):
	// one corrected-latency histogram per persona per SnapshotEvery, tagged
	// with the persona name, values in nanoseconds.
	HistogramLog io.Writer
	// Clock, when set, runs the load on virtual time as a discrete-event
	// simulation: Run drives the clock (Clock.Run) from its current time
	// for Duration. Transport must then answer in process on the caller's
	// goroutine, blocking only in the clock's sleeps. Only the final
	// snapshot is sent; no interval histograms are logged; requests in
	// flight at the end complete (Drain does not apply).
	Clock *vclock.Clock
	// Gateway, when set, takes every request in process instead of
	// Transport (a simulation's gateway): no HTTP and no JSON. Messages go
	// with their texts' token counts, counted by Gateway.Tokens once per
	// model and text for the whole run, and answers come back whole.
	Gateway InProcess
	// Observe, when set, is called with every attempt once it is complete
	// (from the callers' goroutines, concurrently: it must be safe for
	// that and quick).
	Observe func(Observation)
}

// Result is what the load generator saw.
type Result struct {
	Scenario string    `json:"scenario"`
	Started  time.Time `json:"started"`
	// Elapsed is the wall time of the run, drain included.
	Elapsed time.Duration `json:"elapsed_ns"`
	// Duration is the scheduled duration.
	Duration time.Duration `json:"duration_ns"`
	Personas []Stats       `json:"personas"`
	// Subscriptions are the same attempts grouped by subscription.
	Subscriptions []Stats `json:"subscriptions"`
	// Interrupted is true when the run was stopped before its duration.
	Interrupted bool `json:"interrupted"`

	total *Stats // set by Run and MergeResults
}

// Totals returns the whole run's stats: the per-persona counts summed and,
// for a run this process made or merged, percentiles over every persona's
// merged histograms (a Result read back from JSON has counts only).
func (r *Result) Totals() Stats {
	if r.total != nil {
		return *r.total
	}
	return Sum("total", r.Personas)
}

func (o *Options) defaults() {
	o.Target.Defaults()
	if o.Drain <= 0 {
		o.Drain = 30 * time.Second
	}
	if o.LateThreshold <= 0 {
		o.LateThreshold = 10 * time.Millisecond
	}
	if o.SnapshotEvery <= 0 {
		o.SnapshotEvery = time.Second
	}
	if o.ContextTokens <= 0 {
		o.ContextTokens = DefaultContextTokens
	}
}

// engine is one run in progress.
type engine struct {
	opts     Options
	sched    context.Context // ends at the deadline or on interrupt
	inflight context.Context // cancelled only after the drain period
	tb       timebase
	start    time.Time
	bearer   string
	urls     sync.Map // model → endpoint URL
	reqs     waitGroup
	clients  map[string]*http.Client // by source address ("" = default)
	texts    *texts
	personas []*collector
	subs     map[string]*collector
	subOrder []string
	egress   int // nat source addresses handed out so far
}

// Run drives the personas against the target for the duration, or until
// ctx is cancelled. Either way it stops scheduling, lets in-flight requests
// finish (up to Drain) and returns what was seen.
func Run(ctx context.Context, opts Options) (*Result, error) {
	opts.defaults()
	if opts.Duration <= 0 {
		return nil, errors.New("run load: duration must be > 0")
	}
	if opts.Target.URL == "" {
		return nil, errNoTarget
	}
	if errs := opts.Target.Validate("target"); len(errs) > 0 {
		return nil, fmt.Errorf("run load: %w", errors.Join(errs...))
	}
	bearer, err := opts.Target.bearer()
	if err != nil {
		return nil, fmt.Errorf("run load: %w", err)
	}
	e := &engine{opts: opts, bearer: bearer, clients: map[string]*http.Client{}, subs: map[string]*collector{},
		texts: &texts{gw: opts.Gateway}}
	for i := range opts.Personas {
		if len(opts.Personas[i].Keys) == 0 {
			return nil, fmt.Errorf("run load: persona %q has no subscription key", opts.Personas[i].Name)
		}
	}
	if opts.Clock != nil {
		return e.runVirtual(ctx)
	}
	// the schedule is exactly [start, start+Duration): an arrival is in the
	// run or not whatever the microseconds between here and there, and a
	// ctx with an earlier deadline of its own only ends it sooner
	start := time.Now()
	sched, stop := context.WithDeadline(ctx, start.Add(opts.Duration))
	defer stop()
	inflight, cancelInflight := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelInflight()
	e.sched, e.inflight = sched, inflight
	e.tb, e.reqs = wallTime{sched}, newWorkers()
	e.start = start
	res := &Result{Scenario: opts.Scenario, Started: e.start.UTC(), Duration: opts.Duration}
	e.collectors()
	var users sync.WaitGroup
	srcs, err := e.launchAll(&users)
	if err != nil {
		stop()
		users.Wait()
		return nil, err
	}
	users.Go(func() { dispatch(sched, srcs) })
	snap := e.snapshots()
	<-sched.Done()
	res.Interrupted = ctx.Err() != nil
	drained := make(chan struct{})
	go func() { users.Wait(); e.reqs.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(opts.Drain):
		cancelInflight()
		<-drained
	}
	res.Elapsed = time.Since(e.start)
	for _, c := range e.clients {
		c.CloseIdleConnections()
	}
	final, err := snap.stop()
	res.Personas, res.Subscriptions, res.total = final.Personas, final.Subscriptions, &final.Total
	return res, err
}

// collectors makes the per-persona and per-subscription collectors.
func (e *engine) collectors() {
	for pi := range e.opts.Personas {
		p := &e.opts.Personas[pi]
		col := newCollector(p.Name, p.Kind, p.Team)
		col.since = e.start
		e.personas = append(e.personas, col)
		for _, k := range p.Keys {
			e.subCollector(k.ID)
		}
	}
}

// launchAll starts every persona's batch jobs in users and returns the
// arrival sources of the open-loop users.
func (e *engine) launchAll(users waitGroup) ([]*source, error) {
	var srcs []*source
	for pi := range e.opts.Personas {
		s, err := e.launch(users, pi, &e.opts.Personas[pi], e.personas[pi])
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, s...)
	}
	return srcs, nil
}

func (e *engine) subCollector(id string) *collector {
	if c, ok := e.subs[id]; ok {
		return c
	}
	c := newCollector(id, "", "")
	c.since = e.start
	e.subs[id] = c
	e.subOrder = append(e.subOrder, id)
	return c
}

// launch starts the batch jobs of persona p and returns the arrival
// sources of its open-loop users.
func (e *engine) launch(users waitGroup, pi int, p *Persona, col *collector) ([]*source, error) {
	var srcs []*source
	var nat []string
	if p.Kind == KindNAT && (e.opts.Clock != nil || e.opts.Transport == nil && e.opts.Target.loopback()) {
		for range p.EgressIPs {
			nat = append(nat, egressIP(e.egress))
			e.egress++
		}
	}
	for u := 0; u < p.Count; u++ {
		if !e.opts.Shard.has(u) {
			continue
		}
		rng := rand.New(rand.NewPCG(e.opts.Seed, uint64(pi)<<32|uint64(u)))
		src := ""
		if len(nat) > 0 {
			src = nat[u%len(nat)]
		}
		sub := p.Keys[u%len(p.Keys)]
		c := &call{p: p, col: col, sub: sub, subCol: e.subs[sub.ID], userID: fmt.Sprintf("%s-%d", p.Name, u), src: src,
			model: e.model(p), client: e.client(src), rng: rng, bearer: e.bearer}
		if p.UserJWT != nil {
			tok, err := p.UserJWT.sign(c.userID, e.start, e.start.Add(e.opts.Duration+e.opts.Drain+time.Hour))
			if err != nil {
				return nil, fmt.Errorf("run load: persona %s: %w", p.Name, err)
			}
			c.bearer = tok
		}
		switch p.Kind {
		case KindBatch:
			users.Go(func() { e.batch(c) })
		case KindAgent:
			srcs = append(srcs, e.agent(c))
		default:
			srcs = append(srcs, e.chatUser(c))
		}
	}
	return srcs, nil
}

func (e *engine) model(p *Persona) string {
	if p.Model != "" {
		return p.Model
	}
	return e.opts.Model
}

// client returns the HTTP client sourcing connections from addr.
func (e *engine) client(addr string) *http.Client {
	if c, ok := e.clients[addr]; ok {
		return c
	}
	var tr http.RoundTripper = e.opts.Transport
	if tr != nil && addr != "" {
		tr = sourceTransport{tr, addr}
	}
	if tr == nil {
		tr = newTransport(addr, e.opts.Target.MaxConnections)
	}
	c := &http.Client{Transport: tr}
	e.clients[addr] = c
	return c
}

// forUser returns a copy of c for another goroutine of the same user, with
// its own random source.
func (c *call) forUser(seed uint64, intended time.Time) *call {
	d := *c
	d.rng = rand.New(rand.NewPCG(seed, c.rng.Uint64()))
	d.intended = intended
	return &d
}
