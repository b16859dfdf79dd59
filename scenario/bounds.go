package scenario

import (
	"fmt"
	"math"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/loadgen"
)

// Bounds on scenario values. A scenario outside them is refused by
// validation (file:line:column), because a run there would not finish, would
// exhaust memory, or could not be stopped in good time. docs/scenarios.md
// lists them.
const (
	// MaxDuration bounds duration, a batch job's at and every, a ramp's
	// over and a daily shape's day (a week: a virtual-clock run simulates
	// that in minutes).
	MaxDuration = 7 * 24 * time.Hour
	// MinEvery is the shortest interval at which a batch job may repeat.
	MinEvery = time.Second
	// MaxPersonas bounds the number of personas.
	MaxPersonas = 1000
	// MaxCount bounds a persona's count (users, agents or batch jobs).
	MaxCount = 10_000
	// MaxUsers bounds the sum of every persona's count.
	MaxUsers = 100_000
	// MaxRate bounds a persona's rate: conversations or pipelines per second
	// per user, or a batch job's requests per second.
	MaxRate = 10_000.0
	// MaxArrivalRate bounds the scenario's whole intended arrival rate, in
	// arrivals per second at the peak of each shape: Σ count × rate × peak
	// (conversations, pipelines and batch requests; for a batch job that
	// repeats before it ends, times the jobs that overlap).
	MaxArrivalRate = 10_000.0
	// MaxWorkers bounds the closed-loop batch workers, Σ count × concurrency.
	MaxWorkers = 10_000
	// MaxRequests bounds a batch job's requests.
	MaxRequests = 10_000_000
	// MaxContextTokens bounds context_tokens.
	MaxContextTokens = 10_000_000
	// MaxDistValue bounds every number of a token or turn distribution.
	MaxDistValue = 1e9
	// MaxThinkSeconds bounds every number of a think_time distribution (a day).
	MaxThinkSeconds = 86_400.0
	// MaxRetries bounds max_retries.
	MaxRetries = 100
	// MaxBackoff bounds backoff.initial and backoff.max.
	MaxBackoff = time.Hour
	// MaxSteps bounds an agent's steps, and MaxRepeat a step's repeat.
	MaxSteps  = 100
	MaxRepeat = 1000
	// MinBurstiness and MaxBurstiness bound a gamma arrival's shape k.
	MinBurstiness = 0.01
	MaxBurstiness = 100.0
	// MaxMultiplier bounds every multiplier of a shape (from, to, x, hours).
	MaxMultiplier = 1000.0
	// MaxFirstTokenDelay and MaxPerTokenDelay bound the mock's latency.
	MaxFirstTokenDelay = 10 * time.Minute
	MaxPerTokenDelay   = time.Second
	// MaxEmpiricalValues bounds the values of an empirical distribution.
	MaxEmpiricalValues = 1_000_000
	// MaxTimeout bounds target.timeout, one attempt's limit.
	MaxTimeout = time.Hour
	// MaxConnections bounds target.max_connections.
	MaxConnections = 100_000
)

// bounds returns every value of s outside the bounds above.
func (s *Scenario) bounds() []error {
	b := &bounder{}
	b.duration("duration", s.Duration, 0, MaxDuration)
	if s.ContextTokens > MaxContextTokens {
		b.bad("context_tokens", "at most %d, got %d", MaxContextTokens, s.ContextTokens)
	}
	if d := s.Mock.FirstTokenDelay; d != nil {
		b.duration("mock.first_token_delay", *d, 0, MaxFirstTokenDelay)
	}
	if d := s.Mock.PerTokenDelay; d != nil {
		b.duration("mock.per_token_delay", *d, 0, MaxPerTokenDelay)
	}
	if d := s.Mock.PerTokenDelayP95; d != nil {
		b.duration("mock.per_token_delay_p95", *d, 0, MaxPerTokenDelay)
	}
	b.duration("target.timeout", s.Target.Timeout, 0, MaxTimeout)
	if s.Target.MaxConnections > MaxConnections {
		b.bad("target.max_connections", "at most %d, got %d", MaxConnections, s.Target.MaxConnections)
	}
	if math.IsNaN(s.Mock.MinFraction) {
		b.bad("mock.min_fraction", "must be a number within [0, 1]")
	}
	for i, be := range s.Gateway.Backends {
		if m := be.Mock; m != nil {
			b.mock(fmt.Sprintf("gateway.backends[%d].mock", i), m)
		}
	}
	if len(s.Personas) > MaxPersonas {
		b.bad("personas", "at most %d personas, got %d", MaxPersonas, len(s.Personas))
	}
	var users, arrivals, workers float64 // float64: huge counts must not overflow
	for i := range s.Personas {
		p := &s.Personas[i]
		b.persona(fmt.Sprintf("personas[%d]", i), p)
		users += float64(p.Count)
		if finite(float64(p.Rate)) && finite(p.Shape.Peak()) {
			arrivals += float64(p.Count) * float64(p.Rate) * p.Shape.Peak() * overlap(p, s.Duration.D())
		}
		if p.Kind == loadgen.KindBatch && p.Rate == 0 {
			workers += float64(p.Count) * float64(p.Concurrency)
		}
	}
	if users > MaxUsers {
		b.bad("personas", "at most %d users in all (the sum of count), got %.0f", MaxUsers, users)
	}
	if arrivals > MaxArrivalRate {
		b.bad("personas", "at most %g arrivals/s in all (Σ count × rate × shape peak), got %.6g/s", MaxArrivalRate, arrivals)
	}
	if workers > MaxWorkers {
		b.bad("personas", "at most %d batch workers in all (Σ count × concurrency), got %.0f", MaxWorkers, workers)
	}
	return b.errs
}

// overlap is how many jobs of a batch persona that sends at a rate can
// run at once: a job lasts requests/rate and starts again every `every`
// (1 for other personas and for jobs that do not repeat).
func overlap(p *loadgen.Persona, run time.Duration) float64 {
	if p.Kind != loadgen.KindBatch || p.Every <= 0 || p.Rate <= 0 {
		return 1
	}
	job := float64(p.Requests) / float64(p.Rate) // seconds
	return max(1, math.Ceil(min(job, run.Seconds())/p.Every.D().Seconds()))
}

// bounder collects bound violations as field errors.
type bounder struct{ errs []error }

func (b *bounder) bad(path, format string, a ...any) {
	b.errs = append(b.errs, &loadgen.FieldError{Path: path, Msg: fmt.Sprintf(format, a...)})
}

// duration checks lo <= d <= hi (a negative d is left to validation).
func (b *bounder) duration(path string, d loadgen.Duration, lo, hi time.Duration) {
	if d.D() > hi || (d.D() >= 0 && d.D() < lo) {
		b.bad(path, "must be within [%v, %v], got %v", lo, hi, d.D())
	}
}

func (b *bounder) number(path string, v, hi float64, unit string) {
	if !finite(v) {
		b.bad(path, "must be a finite number, got %g", v)
	} else if v > hi {
		b.bad(path, "at most %g%s, got %g%s", hi, unit, v, unit)
	}
}

func (b *bounder) persona(prefix string, p *loadgen.Persona) {
	at := func(field string) string { return prefix + "." + field }
	if p.Count > MaxCount {
		b.bad(at("count"), "at most %d, got %d", MaxCount, p.Count)
	}
	b.number(at("rate"), float64(p.Rate), MaxRate, "/s")
	if p.Arrival == loadgen.ArrivalGamma && !(p.Burstiness >= MinBurstiness && p.Burstiness <= MaxBurstiness) {
		b.bad(at("burstiness"), "must be within [%g, %g], got %g", MinBurstiness, MaxBurstiness, p.Burstiness)
	}
	if p.Requests > MaxRequests {
		b.bad(at("requests"), "at most %d, got %d", MaxRequests, p.Requests)
	}
	if p.Concurrency > MaxWorkers {
		b.bad(at("concurrency"), "at most %d, got %d", MaxWorkers, p.Concurrency)
	}
	b.duration(at("at"), p.At, 0, MaxDuration)
	if p.Every != 0 {
		b.duration(at("every"), p.Every, MinEvery, MaxDuration)
	}
	if p.MaxRetries != nil && *p.MaxRetries > MaxRetries {
		b.bad(at("max_retries"), "at most %d, got %d", MaxRetries, *p.MaxRetries)
	}
	b.duration(at("slo.ttft"), p.SLO.TTFT, 0, MaxDuration)
	b.duration(at("slo.latency"), p.SLO.Latency, 0, MaxDuration)
	b.duration(at("backoff.initial"), p.Backoff.Initial, 0, MaxBackoff)
	b.duration(at("backoff.max"), p.Backoff.Max, 0, MaxBackoff)
	b.shape(at("shape"), p.Shape)
	b.dist(at("prompt_tokens"), p.PromptTokens, MaxDistValue)
	b.dist(at("completion_tokens"), p.CompletionTokens, MaxDistValue)
	b.dist(at("turns"), p.Turns, MaxDistValue)
	b.dist(at("think_time"), p.ThinkTime, MaxThinkSeconds)
	if len(p.Steps) > MaxSteps {
		b.bad(at("steps"), "at most %d steps, got %d", MaxSteps, len(p.Steps))
	}
	for j, st := range p.Steps {
		step := fmt.Sprintf("%s.steps[%d]", prefix, j)
		if st.Repeat > MaxRepeat {
			b.bad(step+".repeat", "at most %d, got %d", MaxRepeat, st.Repeat)
		}
		b.dist(step+".prompt_tokens", st.PromptTokens, MaxDistValue)
		b.dist(step+".completion_tokens", st.CompletionTokens, MaxDistValue)
	}
}

func (b *bounder) shape(path string, s loadgen.Shape) {
	b.number(path+".from", s.From, MaxMultiplier, "")
	b.number(path+".to", s.To, MaxMultiplier, "")
	b.number(path+".start_hour", s.StartHour, 24, "")
	b.duration(path+".over", s.Over, 0, MaxDuration)
	b.duration(path+".day", s.Day, 0, MaxDuration)
	for i, st := range s.Steps {
		b.number(fmt.Sprintf("%s.steps[%d].x", path, i), st.X, MaxMultiplier, "")
		b.duration(fmt.Sprintf("%s.steps[%d].at", path, i), st.At, 0, MaxDuration)
	}
	for i, x := range s.Hours {
		b.number(fmt.Sprintf("%s.hours[%d]", path, i), x, MaxMultiplier, "")
	}
}

// mock checks a backend's mock: its delays as the scenario's mock, its
// rates finite (validation checks their range).
func (b *bounder) mock(path string, m *mockllm.Config) {
	b.duration(path+".first_token_delay", loadgen.Duration(m.FirstTokenDelay), 0, MaxFirstTokenDelay)
	b.duration(path+".slow_first_byte", loadgen.Duration(m.SlowFirstByte), 0, MaxFirstTokenDelay)
	b.duration(path+".per_token_delay", loadgen.Duration(m.PerTokenDelay), 0, MaxPerTokenDelay)
	b.duration(path+".per_token_delay_p95", loadgen.Duration(m.PerTokenDelayP95), 0, MaxPerTokenDelay)
	for _, r := range []struct {
		name string
		v    float64
	}{{"error_rate", m.ErrorRate}, {"timeout_rate", m.TimeoutRate}, {"reset_rate", m.ResetRate},
		{"slow_first_byte_rate", m.SlowFirstByteRate}, {"min_fraction", m.MinFraction}, {"ptu_output_ratio", m.PTUOutputRatio}} {
		if !finite(r.v) {
			b.bad(path+"."+r.name, "must be a finite number, got %g", r.v)
		}
	}
}

// dist checks every number of d (and of its mixture components) against hi.
func (b *bounder) dist(path string, d loadgen.Dist, hi float64) {
	for _, f := range []struct {
		name string
		v    float64
	}{{"value", d.Value}, {"min", d.Min}, {"max", d.Max}, {"mean", d.Mean}, {"stddev", d.StdDev},
		{"median", d.Median}, {"p95", d.P95}, {"weight", d.Weight}} {
		b.number(path+"."+f.name, f.v, hi, "")
	}
	if len(d.Values) > MaxEmpiricalValues {
		b.bad(path+".values", "at most %d values, got %d", MaxEmpiricalValues, len(d.Values))
	}
	for i, v := range d.Values {
		if !finite(v) || v > hi {
			b.bad(fmt.Sprintf("%s.values[%d]", path, i), "must be a finite number of at most %g, got %g", hi, v)
			break
		}
	}
	for i, c := range d.Of {
		b.dist(fmt.Sprintf("%s.of[%d]", path, i), c, hi)
	}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// explicitZeros reports fields written as 0 whose 0 would otherwise mean
// "unset" and be replaced by the default: `duration: 0s` must not become
// 60 s, nor `count: 0` one user.
func explicitZeros(body ast.Node, s *Scenario) []error {
	b := &bounder{}
	if n, ok := topLevel(body, "duration"); ok && written(n) && s.Duration == 0 {
		b.bad("duration", "must be > 0 (leave it out for the default, 60s)")
	}
	if t, ok := topLevel(body, "target"); ok {
		if n, ok := topLevel(t, "timeout"); ok && written(n) && s.Target.Timeout == 0 {
			b.bad("target.timeout", "must be > 0 (leave it out for the default, 120s)")
		}
	}
	if n, ok := topLevel(body, "context_tokens"); ok && written(n) && s.ContextTokens == 0 {
		b.bad("context_tokens", "must be >= 1 (leave it out for the default, %d)", loadgen.DefaultContextTokens)
	}
	seq, ok := topLevel(body, "personas")
	if !ok {
		return b.errs
	}
	list, ok := seq.(*ast.SequenceNode)
	if !ok {
		return b.errs
	}
	for i, n := range list.Values {
		if i >= len(s.Personas) {
			break
		}
		if v, ok := topLevel(n, "count"); ok && written(v) && s.Personas[i].Count == 0 {
			b.bad(fmt.Sprintf("personas[%d].count", i), "must be >= 1 (leave it out for the default, 1)")
		}
	}
	return b.errs
}

// written reports whether n holds a value (not null or left empty).
func written(n ast.Node) bool { return n != nil && n.Type() != ast.NullType }
