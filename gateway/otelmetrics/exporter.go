package otelmetrics

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/aiload/aiload/record"
)

// tokenBuckets are the bucket boundaries the GenAI semantic conventions
// give gen_ai.client.token.usage.
var tokenBuckets = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}

// durationBuckets are the bucket boundaries (seconds) the GenAI semantic
// conventions give gen_ai.client.operation.duration.
var durationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}

// Options configure New.
type Options struct {
	// Config is where and how often to export (Endpoint required).
	Config Config
	// Namespace is the llm-emit-token-metric policy's namespace: the
	// instrumentation scope (meter) name of the exported metrics (default
	// DefaultNamespace).
	Namespace string
	// GatewayID is the gateway instance: the resource's service.instance.id.
	GatewayID string
	// Logf receives failed exports (default: discarded).
	Logf func(format string, args ...any)
}

// Exporter turns token-metric records into gen_ai.client.token.usage and
// gen_ai.client.operation.duration measurements and exports them
// periodically over OTLP/HTTP. Safe for concurrent use.
type Exporter struct {
	provider *sdkmetric.MeterProvider
	usage    metric.Int64Histogram
	duration metric.Float64Histogram
	out      *reportingExporter
}

// New starts an exporter. It does not contact the collector: the first
// export happens after Config.Interval (or at Shutdown).
func New(o Options) (*Exporter, error) {
	u, err := metricsURL(o.Config.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("otlp endpoint: %w", err)
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	opts := []otlpmetrichttp.Option{otlpmetrichttp.WithEndpointURL(u.String()), otlpmetrichttp.WithTimeout(o.Config.timeout())}
	if len(o.Config.Headers) > 0 {
		opts = append(opts, otlpmetrichttp.WithHeaders(o.Config.Headers))
	}
	exp, err := otlpmetrichttp.New(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	out := &reportingExporter{Exporter: exp, logf: o.Logf, endpoint: u.Redacted()}
	reader := sdkmetric.NewPeriodicReader(out, sdkmetric.WithInterval(o.Config.interval()), sdkmetric.WithTimeout(o.Config.timeout()))
	res := resource.NewSchemaless(
		attribute.String("service.name", "aiload-gateway"),
		attribute.String("service.instance.id", o.GatewayID),
	)
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithResource(res))
	meter := provider.Meter(o.Namespace)
	usage, err := meter.Int64Histogram("gen_ai.client.token.usage",
		metric.WithUnit("{token}"),
		metric.WithDescription("Number of input and output tokens used."),
		metric.WithExplicitBucketBoundaries(tokenBuckets...))
	if err != nil {
		_ = provider.Shutdown(context.Background())
		return nil, fmt.Errorf("otlp histogram: %w", err)
	}
	duration, err := meter.Float64Histogram("gen_ai.client.operation.duration",
		metric.WithUnit("s"),
		metric.WithDescription("GenAI operation duration."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	if err != nil {
		_ = provider.Shutdown(context.Background())
		return nil, fmt.Errorf("otlp histogram: %w", err)
	}
	return &Exporter{provider: provider, usage: usage, duration: duration, out: out}, nil
}

// Write records the tokens and the backend calls of r (it is a
// record.Sink).
//
// Every backend attempt of r is one operation: its duration (from sending
// it to the end of its answer) goes into gen_ai.client.operation.duration
// with error.type set to the backend's status code when it was not a 2xx,
// or to "timeout" when the backend gave no status. A request the gateway
// answered itself (refused by a limit, served from the cache) called no
// model and has no duration.
//
// Only requests a backend answered with a 2xx count tokens, as those are
// the tokens billed: a request refused by a limit, or failed, used no
// tokens. Input tokens are recorded for every operation, output tokens for
// all but embeddings.
func (e *Exporter) Write(r *record.Record) error {
	ctx := context.Background()
	if r.Backend == "" {
		return nil
	}
	attrs := Attributes(r)
	attempts := r.BackendAttempts
	if len(attempts) == 0 {
		attempts = []record.Attempt{{Backend: r.Backend, Status: r.Status, LatencyMS: r.BackendLatencyMS}}
	}
	for _, a := range attempts {
		da := attrs[:len(attrs):len(attrs)]
		switch {
		case a.Status == 0:
			da = append(da, attribute.String("error.type", "timeout"))
		case a.Status/100 != 2:
			da = append(da, attribute.String("error.type", strconv.Itoa(a.Status)))
		}
		e.duration.Record(ctx, a.LatencyMS/1000, metric.WithAttributes(da...))
	}
	if r.Status/100 != 2 {
		return nil
	}
	e.usage.Record(ctx, r.PromptTokens, metric.WithAttributes(append(attrs, attribute.String("gen_ai.token.type", "input"))...))
	if r.Operation != "embeddings" {
		e.usage.Record(ctx, r.CompletionTokens, metric.WithAttributes(append(attrs[:len(attrs):len(attrs)], attribute.String("gen_ai.token.type", "output"))...))
	}
	return nil
}

var _ record.Sink = (*Exporter)(nil)

// Shutdown exports what was counted since the last export and stops the
// exporter; ctx bounds that last export. It returns the last export's
// error, if it failed.
func (e *Exporter) Shutdown(ctx context.Context) error {
	err := e.provider.Shutdown(ctx)
	return errors.Join(err, e.out.lastError())
}

// Attributes are the attributes of r's measurements, gen_ai.token.type
// and error.type aside: the GenAI semantic conventions' (gen_ai.operation.name,
// gen_ai.provider.name, gen_ai.request.model), the subscription's team as
// aiload.team, and every dimension of the record (the emit-token-metric
// policy's, and the subscription's metadata as sub.<name>) under its name.
func Attributes(r *record.Record) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 5+len(r.Dims))
	attrs = append(attrs,
		attribute.String("gen_ai.operation.name", operationName(r.Operation)),
		attribute.String("gen_ai.provider.name", providerName(r.API)))
	if r.Model != "" {
		attrs = append(attrs, attribute.String("gen_ai.request.model", r.Model))
	}
	if r.Team != "" {
		attrs = append(attrs, attribute.String("aiload.team", r.Team))
	}
	for k, v := range r.Dims {
		attrs = append(attrs, attribute.String(k, v))
	}
	return attrs
}

// operationName is the semantic conventions' gen_ai.operation.name of a
// record's operation: the Responses API is a chat operation too.
func operationName(op string) string {
	switch op {
	case "embeddings":
		return "embeddings"
	case "completions":
		return "text_completion"
	default: // chat, responses, and records written before operation existed
		return "chat"
	}
}

// providerName is gen_ai.provider.name for the API the caller used.
func providerName(api string) string {
	if api == "azure-openai" {
		return "azure.ai.openai"
	}
	return "openai"
}

// reportingExporter logs failed exports and remembers the last outcome.
// It reports success to the reader: with cumulative temporality the next
// export carries the totals again, so a failed one loses nothing.
type reportingExporter struct {
	sdkmetric.Exporter
	logf     func(string, ...any)
	endpoint string

	mu      sync.Mutex
	lastErr error
}

func (x *reportingExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	err := x.Exporter.Export(ctx, rm)
	x.mu.Lock()
	x.lastErr = err
	x.mu.Unlock()
	if err != nil {
		x.logf("otlp export to %s failed (the next export sends the totals again): %v", x.endpoint, err)
		err = nil
	}
	return err
}

func (x *reportingExporter) lastError() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.lastErr != nil {
		return fmt.Errorf("otlp export to %s: %w", x.endpoint, x.lastErr)
	}
	return nil
}
