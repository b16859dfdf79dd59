package calibrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/aiload/aiload/gateway/mockllm"
	"github.com/aiload/aiload/loadgen"
)

// Bounds of a calibration's load: it measures a deployment, it does not
// load-test it.
const (
	// DefaultRate is the default request rate, per second (30 a minute).
	DefaultRate = 0.5
	// MaxRate is the highest rate Run accepts, per second.
	MaxRate = 10.0
	// DefaultMaxRequests is the default cap on requests.
	DefaultMaxRequests = 300
	// MaxRequests is the highest cap Run accepts.
	MaxRequests = 5000
	// MaxDuration is the longest load Run accepts.
	MaxDuration = time.Hour
)

// Options configure one calibration.
type Options struct {
	// Target is the deployment's base URL (an Azure OpenAI resource, an
	// API Management gateway, or any OpenAI-compatible server).
	Target string
	// API is "azure" (default: /openai/deployments/{d}/chat/completions)
	// or "openai" (/v1/chat/completions with model d).
	API string
	// APIVersion is the Azure api-version (default loadgen's).
	APIVersion string
	// KeyEnv names the environment variable holding the key: sent in
	// KeyHeader for API azure (default api-key), as a bearer token for
	// API openai. Empty: no credentials.
	KeyEnv    string
	KeyHeader string
	// Deployment is the deployment (Azure) or model (OpenAI) called.
	Deployment string
	// Profile is the request shape: balanced (default), context or generation.
	Profile string
	// Duration bounds the load (default 5 minutes, at most MaxDuration).
	Duration time.Duration
	// Rate is requests per second, sent open loop, evenly spaced (default
	// DefaultRate, at most MaxRate).
	Rate float64
	// MaxRequests caps the requests sent (default DefaultMaxRequests, at
	// most MaxRequests).
	MaxRequests int
	// Out is the calibration file written (default calib.yaml).
	Out string
	// Seed makes prompt lengths and prefixes reproducible (default 1).
	Seed uint64
	// Timeout bounds one request (default 120 s).
	Timeout time.Duration
	// Drain is how long requests in flight may finish after the load ends
	// or is interrupted (default 30 s).
	Drain time.Duration
}

// UsageError is a problem with the options (exit status 2).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func (o *Options) defaults() {
	if o.API == "" {
		o.API = loadgen.APIAzure
	}
	if o.KeyHeader == "" && o.API == loadgen.APIAzure {
		o.KeyHeader = "api-key"
	}
	if o.Profile == "" {
		o.Profile = loadgen.ProfileBalanced
	}
	if o.Duration == 0 {
		o.Duration = 5 * time.Minute
	}
	if o.Rate == 0 {
		o.Rate = DefaultRate
	}
	if o.MaxRequests == 0 {
		o.MaxRequests = DefaultMaxRequests
	}
	if o.Out == "" {
		o.Out = "calib.yaml"
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Timeout == 0 {
		o.Timeout = 120 * time.Second
	}
	if o.Drain == 0 {
		o.Drain = 30 * time.Second
	}
}

// validate returns every problem of the options.
func (o *Options) validate() error {
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if u, err := url.Parse(o.Target); o.Target == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("--target: must be the deployment's absolute http(s) base URL, got %q", o.Target)
	}
	if o.Deployment == "" {
		bad("--deployment: must be set")
	}
	if !slices.Contains(loadgen.APIs, o.API) {
		bad("--api: must be %s, got %q", strings.Join(loadgen.APIs, " or "), o.API)
	}
	if !slices.Contains(loadgen.Profiles, o.Profile) {
		bad("--profile: must be %s, got %q", strings.Join(loadgen.Profiles, ", "), o.Profile)
	}
	if o.Duration < 0 || o.Duration > MaxDuration {
		bad("--duration: must be within (0, %s], got %s", MaxDuration, o.Duration)
	}
	if !(o.Rate > 0 && o.Rate <= MaxRate) {
		bad("--rate: must be within (0, %g] requests per second, got %g", MaxRate, o.Rate)
	}
	if o.MaxRequests < 1 || o.MaxRequests > MaxRequests {
		bad("--max-requests: must be within [1, %d], got %d", MaxRequests, o.MaxRequests)
	}
	if o.KeyEnv != "" {
		if v, ok := os.LookupEnv(o.KeyEnv); !ok || v == "" {
			bad("--key-env: environment variable %s is not set", o.KeyEnv)
		}
	}
	if len(errs) > 0 {
		return &UsageError{Msg: "calibrate: " + strings.Join(errs, "; ")}
	}
	return nil
}

// Result is what a calibration measured and where it went.
type Result struct {
	Calibration *mockllm.Calibration
	// Out is the file written.
	Out string
	// Sent is how many attempts were answered; Interrupted whether the
	// load was stopped before its end.
	Sent        int64
	Interrupted bool
}

// Run sends the calibration load and writes what it measured to
// opts.Out: a deployment's calibration (others already in the file are
// kept). Cancelling ctx (Ctrl-C) ends the load early; what was measured
// until then is written.
func Run(ctx context.Context, opts Options, progress io.Writer) (*Result, error) {
	opts.defaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if _, err := readExisting(opts.Out); err != nil {
		return nil, &UsageError{Msg: "calibrate: " + err.Error()}
	}
	rec := NewRecorder(opts.Seed)
	lo, requests := opts.loadOptions(rec)
	fmt.Fprintf(progress, "calibrate: %d %s requests to %s at %g/s (at most %s); Ctrl-C stops and writes what was measured\n",
		requests, opts.Profile, opts.Deployment, opts.Rate, opts.Duration)
	started := time.Now()
	res, err := loadgen.Run(ctx, lo)
	if err != nil {
		return nil, fmt.Errorf("calibrate: %w", err)
	}
	if rec.Count() == 0 {
		return nil, errors.New("calibrate: no request was answered: nothing to write")
	}
	src := mockllm.CalibrationSource{Target: opts.Target, Started: started.UTC().Format(time.RFC3339),
		Seconds: round3(res.Elapsed.Seconds()), Command: "calibrate"}
	cal := rec.Calibration(src, opts.Profile)
	if err := WriteFile(opts.Out, cal); err != nil {
		return nil, fmt.Errorf("calibrate: %w", err)
	}
	return &Result{Calibration: cal, Out: opts.Out, Sent: rec.Count(), Interrupted: res.Interrupted}, nil
}

// loadOptions is the calibration's load: one batch job of streamed
// requests of the profile's shape, sent open loop at the rate, never
// retried (a 429 is a measurement), and the number of requests.
func (o *Options) loadOptions(rec *Recorder) (loadgen.Options, int) {
	requests := min(o.MaxRequests, max(int(math.Ceil(o.Rate*o.Duration.Seconds())), 1))
	noRetries := 0
	p := loadgen.Persona{Name: "calibrate", Kind: loadgen.KindBatch, Stream: true, Profile: o.Profile,
		Requests: requests, Rate: loadgen.Rate(o.Rate), OnThrottle: loadgen.ThrottleFail, MaxRetries: &noRetries,
		Key: "calibrate"}
	p.Defaults()
	target := loadgen.Target{URL: o.Target, API: o.API, APIVersion: o.APIVersion, KeyHeader: o.KeyHeader,
		Timeout: loadgen.Duration(o.Timeout)}
	key := ""
	if o.KeyEnv != "" {
		if o.API == loadgen.APIOpenAI {
			target.BearerTokenEnv = o.KeyEnv
		} else {
			key = os.Getenv(o.KeyEnv)
		}
	}
	p.Keys = []loadgen.SubKey{{ID: "calibrate", Key: key}}
	// the job's last request is sent at (requests-1)/rate: the load lasts
	// the duration, or less when the cap is reached first
	return loadgen.Options{Scenario: "calibrate", Duration: o.Duration, Seed: o.Seed, Model: o.Deployment,
		Target: target, Personas: []loadgen.Persona{p}, Drain: o.Drain, Observe: rec.Observe}, requests
}
