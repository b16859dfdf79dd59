package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Request headers that tie the gateway's records to what the caller saw.
const (
	HeaderScenario = "X-Aiload-Scenario"
	HeaderPersona  = "X-Aiload-Persona"
	HeaderAttempt  = "X-Aiload-Attempt"
)

// Target is where the load goes.
type Target struct {
	// URL is the base URL of the gateway (or any compatible endpoint).
	URL string
	// API is "azure" (POST /openai/deployments/{model}/chat/completions) or
	// "openai" (POST /v1/chat/completions). Default "azure".
	API string
	// APIVersion is the api-version query parameter for API "azure"
	// (default 2024-10-21).
	APIVersion string
	// KeyHeader carries the subscription key (default Ocp-Apim-Subscription-Key).
	KeyHeader string
}

// Options configure one load run.
type Options struct {
	Scenario string
	Duration time.Duration
	Seed     uint64
	// Model is the default model of personas that name none.
	Model    string
	Target   Target
	Personas []Persona
	// Drain is how long in-flight requests may take to finish after the run
	// ends or is interrupted (default 30 s).
	Drain time.Duration
	// Client sends the requests (default: a client tuned for many
	// connections to one host).
	Client *http.Client
	// Progress, when set, is called every ProgressEvery (default 5 s) with
	// the totals so far, from a goroutine of Run's.
	Progress      func(elapsed time.Duration, totals PersonaStats)
	ProgressEvery time.Duration
}

// Result is what the load generator saw.
type Result struct {
	Started  time.Time      `json:"started"`
	Elapsed  time.Duration  `json:"elapsed_ns"`
	Personas []PersonaStats `json:"personas"`
	// Interrupted is true when the run was stopped before its duration.
	Interrupted bool `json:"interrupted"`
}

// Totals sums the per-persona counts.
func (r *Result) Totals() PersonaStats {
	var t PersonaStats
	for _, p := range r.Personas {
		t.Sent += p.Sent
		t.Responses += p.Responses
		t.OK += p.OK
		t.Throttled += p.Throttled
		t.Errors += p.Errors
		t.Retries += p.Retries
		t.GaveUp += p.GaveUp
		t.PromptTokens += p.PromptTokens
		t.CompletionTokens += p.CompletionTokens
	}
	return t
}

func (o *Options) defaults() {
	if o.Target.API == "" {
		o.Target.API = "azure"
	}
	if o.Target.APIVersion == "" {
		o.Target.APIVersion = "2024-10-21"
	}
	if o.Target.KeyHeader == "" {
		o.Target.KeyHeader = "Ocp-Apim-Subscription-Key"
	}
	if o.Drain <= 0 {
		o.Drain = 30 * time.Second
	}
	if o.Client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = 0
		tr.MaxIdleConnsPerHost = 1024
		o.Client = &http.Client{Transport: tr}
	}
}

// Run drives the personas against the target for the duration, or until
// ctx is cancelled. Either way it stops scheduling, lets in-flight requests
// finish (up to Drain) and returns what was seen.
func Run(ctx context.Context, opts Options) (*Result, error) {
	opts.defaults()
	if opts.Duration <= 0 {
		return nil, errors.New("run load: duration must be > 0")
	}
	if _, err := url.Parse(opts.Target.URL); err != nil || opts.Target.URL == "" {
		return nil, fmt.Errorf("run load: invalid target url %q", opts.Target.URL)
	}
	// sched ends scheduling at the deadline or on interrupt; inflight lets
	// requests already sent finish, cancelled only after the drain period.
	sched, stop := context.WithTimeout(ctx, opts.Duration)
	defer stop()
	inflight, cancelInflight := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelInflight()

	r := &runner{opts: opts, sched: sched, inflight: inflight}
	res := &Result{Started: time.Now().UTC()}
	cols := make([]*collector, len(opts.Personas))
	var users sync.WaitGroup
	for pi := range opts.Personas {
		p := &opts.Personas[pi]
		cols[pi] = newCollector(p)
		for u := 0; u < p.Count; u++ {
			rng := rand.New(rand.NewPCG(opts.Seed, uint64(pi)<<32|uint64(u)))
			users.Go(func() { r.user(p, u, rng, cols[pi]) })
		}
	}
	stopProgress := r.progress(res.Started, cols)
	<-sched.Done()
	stopProgress()
	res.Interrupted = ctx.Err() != nil
	drained := make(chan struct{})
	go func() { users.Wait(); r.reqs.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(opts.Drain):
		cancelInflight()
		<-drained
	}
	res.Elapsed = time.Since(res.Started)
	for _, c := range cols {
		res.Personas = append(res.Personas, c.snapshot())
	}
	return res, nil
}

// progress calls opts.Progress periodically until the returned func is called.
func (r *runner) progress(start time.Time, cols []*collector) (stop func()) {
	if r.opts.Progress == nil {
		return func() {}
	}
	every := r.opts.ProgressEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				res := Result{}
				for _, c := range cols {
					res.Personas = append(res.Personas, c.snapshot())
				}
				r.opts.Progress(time.Since(start), res.Totals())
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

type runner struct {
	opts     Options
	sched    context.Context
	inflight context.Context
	reqs     sync.WaitGroup
}

// user schedules one user's Poisson arrivals, open loop: each request
// starts at its intended time whether or not the previous one finished.
func (r *runner) user(p *Persona, idx int, rng *rand.Rand, c *collector) {
	next := time.Now()
	for {
		next = next.Add(time.Duration(rng.ExpFloat64() / p.Rate.PerSecond() * float64(time.Second)))
		if !sleepUntil(r.sched, next) {
			return
		}
		req := r.build(p, idx, rng)
		r.reqs.Go(func() { r.send(p, req, c) })
	}
}

// sleepUntil waits until t; false when ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// chatRequest is one request to send (and resend on 429).
type chatRequest struct {
	url  string
	key  string
	body []byte
}

func (r *runner) build(p *Persona, user int, rng *rand.Rand) chatRequest {
	model := p.Model
	if model == "" {
		model = r.opts.Model
	}
	body, _ := json.Marshal(map[string]any{
		"model": model,
		"messages": []map[string]string{
			{"role": "system", "content": "You are a helpful assistant."},
			{"role": "user", "content": PromptText(p.PromptTokens.Draw(rng))},
		},
		"max_tokens": p.CompletionTokens.Draw(rng),
		"user":       fmt.Sprintf("%s-%d", p.Name, user),
	})
	return chatRequest{url: r.endpoint(model), key: p.Key, body: body}
}

func (r *runner) endpoint(model string) string {
	base := strings.TrimRight(r.opts.Target.URL, "/")
	if r.opts.Target.API == "openai" {
		return base + "/v1/chat/completions"
	}
	return base + "/openai/deployments/" + url.PathEscape(model) + "/chat/completions?api-version=" + url.QueryEscape(r.opts.Target.APIVersion)
}

// send makes the attempts of one request: the first, then one retry after
// each 429's Retry-After while retries remain and the run is still on.
func (r *runner) send(p *Persona, req chatRequest, c *collector) {
	for attempt := 1; ; attempt++ {
		c.sent()
		o, wait := r.attempt(p, req, attempt)
		c.record(o)
		if o.status != http.StatusTooManyRequests {
			return
		}
		if attempt > *p.MaxRetries || !sleepUntil(r.sched, time.Now().Add(wait)) {
			c.add(func(s *PersonaStats) { s.GaveUp++ })
			return
		}
		c.add(func(s *PersonaStats) { s.Retries++ })
	}
}

// attempt sends once and returns the outcome and, for a 429, how long the
// server asked to wait (1 s when it did not say).
func (r *runner) attempt(p *Persona, req chatRequest, attempt int) (outcome, time.Duration) {
	hr, err := http.NewRequestWithContext(r.inflight, http.MethodPost, req.url, bytes.NewReader(req.body))
	if err != nil {
		return outcome{}, 0
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set(r.opts.Target.KeyHeader, req.key)
	hr.Header.Set(HeaderScenario, r.opts.Scenario)
	hr.Header.Set(HeaderPersona, p.Name)
	hr.Header.Set(HeaderAttempt, strconv.Itoa(attempt))
	start := time.Now()
	resp, err := r.opts.Client.Do(hr)
	if err != nil {
		return outcome{latency: time.Since(start)}, 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	o := outcome{status: resp.StatusCode, latency: time.Since(start)}
	if resp.StatusCode == http.StatusOK {
		var cr struct {
			Usage struct {
				PromptTokens     int64 `json:"prompt_tokens"`
				CompletionTokens int64 `json:"completion_tokens"`
			} `json:"usage"`
		}
		if json.Unmarshal(body, &cr) == nil {
			o.promptTokens, o.completionTokens = cr.Usage.PromptTokens, cr.Usage.CompletionTokens
		}
	}
	var wait time.Duration
	if resp.StatusCode == http.StatusTooManyRequests {
		ra := resp.Header.Get("Retry-After")
		o.retryAfter = ra != ""
		wait = time.Second
		if s, err := strconv.ParseFloat(ra, 64); err == nil && s >= 0 {
			wait = time.Duration(s * float64(time.Second))
		}
	}
	return o, wait
}

// PromptText returns filler text of about n tokens under the o200k and
// cl100k encodings (common one-token words).
func PromptText(n int64) string {
	words := [...]string{"please", "summarize", "the", "following", "report", "about", "quarterly", "sales", "and", "costs"}
	var b strings.Builder
	b.Grow(int(n) * 8)
	for i := int64(0); i < n; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[i%int64(len(words))])
	}
	return b.String()
}
