package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/aiload/aiload/gateway"
)

// otlpReceiver is an OTLP/HTTP metrics receiver on loopback: it decodes
// each export request's protobuf body and keeps it.
type otlpReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	got   []*colmetricspb.ExportMetricsServiceRequest
	paths []string
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	rc := &otlpReceiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		req := &colmetricspb.ExportMetricsServiceRequest{}
		if err == nil {
			err = proto.Unmarshal(body, req)
		}
		if err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, fmt.Sprintf("bad export: %s %s: %v", r.Method, r.Header.Get("Content-Type"), err), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.got = append(rc.got, req)
		rc.paths = append(rc.paths, r.URL.Path)
		rc.mu.Unlock()
		out, _ := proto.Marshal(&colmetricspb.ExportMetricsServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// exports is how many export requests arrived.
func (rc *otlpReceiver) exports() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

// point is one histogram data point of gen_ai.client.token.usage, flattened.
type point struct {
	attrs   map[string]string
	count   uint64
	sum     float64
	buckets []uint64
	bounds  []float64
	scope   string
	unit    string
	temp    metricspb.AggregationTemporality
	res     map[string]string
}

// usagePoints are the gen_ai.client.token.usage points of the last export
// (cumulative, so the last export holds the totals).
func (rc *otlpReceiver) usagePoints(t *testing.T) []point {
	t.Helper()
	return rc.points(t, "gen_ai.client.token.usage")
}

// points are the histogram points of the metric name in the last export.
func (rc *otlpReceiver) points(t *testing.T, name string) []point {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.got) == 0 {
		t.Fatal("the receiver got no export")
	}
	for _, p := range rc.paths {
		if p != "/v1/metrics" {
			t.Errorf("export posted to %s, want /v1/metrics", p)
		}
	}
	var out []point
	for _, rm := range rc.got[len(rc.got)-1].GetResourceMetrics() {
		res := kv(rm.GetResource().GetAttributes())
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				if m.GetName() != name {
					continue
				}
				h := m.GetHistogram()
				for _, dp := range h.GetDataPoints() {
					out = append(out, point{attrs: kv(dp.GetAttributes()), count: dp.GetCount(), sum: dp.GetSum(),
						buckets: dp.GetBucketCounts(), bounds: dp.GetExplicitBounds(), scope: sm.GetScope().GetName(),
						unit: m.GetUnit(), temp: h.GetAggregationTemporality(), res: res})
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i].attrs) < fmt.Sprint(out[j].attrs) })
	return out
}

func kv(attrs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, a := range attrs {
		m[a.GetKey()] = a.GetValue().GetStringValue()
	}
	return m
}

// semconvBounds are the GenAI semantic conventions' bucket boundaries for
// gen_ai.client.token.usage.
var semconvBounds = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}

// TestOTLPTokenUsage: traffic through the gateway is exported on shutdown
// as gen_ai.client.token.usage histogram points, one per token type and
// attribute set, with the GenAI semantic conventions' attributes, the
// emit-token-metric dimensions and the policy's namespace as the scope.
// Requests refused by the token limit used no tokens and are not counted.
func TestOTLPTokenUsage(t *testing.T) {
	t.Parallel()
	rc := newOTLPReceiver(t)
	be := newSpy(t, 30) // 10 prompt + 20 completion tokens an answer
	e := start(t, `
id: edge-7
otlp: {endpoint: `+rc.srv.URL+`, interval: 1h}
emit_token_metric:
  namespace: contoso-ai
  dimensions:
    - {name: Subscription ID}
    - {name: Tenant, value: '@(context.Request.Headers.GetValueOrDefault("x-tenant","none"))'}
products: [{name: p, token_limits: [{tokens_per_minute: 90}]}]
subscriptions: [{id: s1, key: k1, product: p, team: research}]
`, be.srv.URL, nil)
	azure := "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
	for i, c := range []struct {
		path, tenant string
		status       int
	}{
		{chatPath, "acme", 200}, {chatPath, "acme", 200}, {azure, "globex", 200},
		{chatPath, "acme", 429}, // all 90 tokens used: refused, uses nothing
	} {
		if a := post(t, e.url, c.path, "k1", chatBody(5), map[string]string{"x-tenant": c.tenant}); a.status != c.status {
			t.Fatalf("request %d: status %d, want %d", i, a.status, c.status)
		}
	}
	if n := rc.exports(); n != 0 {
		t.Fatalf("%d exports before the 1h interval or shutdown", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.gw.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	pts := rc.usagePoints(t)
	common := func(provider, model, tenant, typ string) map[string]string {
		return map[string]string{"gen_ai.operation.name": "chat", "gen_ai.provider.name": provider, "gen_ai.request.model": model,
			"gen_ai.token.type": typ, "aiload.team": "research", "Subscription ID": "s1", "Tenant": tenant}
	}
	want := []struct {
		attrs   map[string]string
		count   uint64
		sum     float64
		bucket  int // the one bucket holding every value
		buckets uint64
	}{
		{common("azure.ai.openai", "gpt-4o", "globex", "input"), 1, 10, 2, 1},
		{common("azure.ai.openai", "gpt-4o", "globex", "output"), 1, 20, 3, 1},
		{common("openai", "gpt-4o-mini", "acme", "input"), 2, 20, 2, 2},
		{common("openai", "gpt-4o-mini", "acme", "output"), 2, 40, 3, 2},
	}
	if len(pts) != len(want) {
		t.Fatalf("got %d points, want %d: %+v", len(pts), len(want), pts)
	}
	for _, w := range want {
		i := slices.IndexFunc(pts, func(p point) bool { return fmt.Sprint(p.attrs) == fmt.Sprint(w.attrs) })
		if i < 0 {
			t.Errorf("no point with attributes %v; got %v", w.attrs, pts)
			continue
		}
		p := pts[i]
		if p.count != w.count || p.sum != w.sum {
			t.Errorf("%v: count %d sum %v, want %d and %v", w.attrs, p.count, p.sum, w.count, w.sum)
		}
		if !slices.Equal(p.bounds, semconvBounds) || len(p.buckets) != len(semconvBounds)+1 || p.buckets[w.bucket] != w.buckets {
			t.Errorf("%v: bounds %v buckets %v, want the semantic conventions' bounds and %d in bucket %d", w.attrs, p.bounds, p.buckets, w.buckets, w.bucket)
		}
		if p.scope != "contoso-ai" || p.unit != "{token}" || p.temp != metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE {
			t.Errorf("%v: scope %q unit %q temporality %v, want contoso-ai, {token}, cumulative", w.attrs, p.scope, p.unit, p.temp)
		}
		if p.res["service.name"] != "aiload-gateway" || p.res["service.instance.id"] != "edge-7" {
			t.Errorf("resource %v, want service.name aiload-gateway and service.instance.id edge-7", p.res)
		}
	}
}

// TestOTLPServeFlushOnStop: `aiload gateway serve --otlp URL` exports what
// it counted when it is stopped (Ctrl-C cancels its context), long before
// the next periodic export would have.
func TestOTLPServeFlushOnStop(t *testing.T) {
	t.Parallel()
	rc := newOTLPReceiver(t)
	be := newSpy(t, 25)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "gateway.yaml")
	writeFile(t, cfgPath, `
backends: [{name: aoai, url: `+be.srv.URL+`, api_key: backend-secret}]
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: support}]
`)
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() {
		done <- gateway.Serve(ctx, gateway.ServeOptions{Config: cfgPath, Listen: "127.0.0.1:0", Admin: "127.0.0.1:0",
			Log: filepath.Join(dir, "tokens.jsonl"), OTLP: rc.srv.URL, OTLPInterval: time.Hour,
			Ready: func(api, _ string) { ready <- api }}, io.Discard)
	}()
	var api string
	select {
	case api = <-ready:
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	for range 3 {
		if a := post(t, "http://"+api, chatPath, "k1", chatBody(5), nil); a.status != 200 {
			t.Fatalf("status %d", a.status)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	pts := rc.usagePoints(t)
	var sums []string
	for _, p := range pts {
		sums = append(sums, fmt.Sprintf("%s=%d/%v@%s", p.attrs["gen_ai.token.type"], p.count, p.sum, p.scope))
	}
	if got, want := strings.Join(sums, " "), "input=3/30@API Management output=3/45@API Management"; got != want {
		t.Errorf("exported %s, want %s", got, want)
	}
}

// TestOTLPPeriodicExport: with a short interval the totals arrive while
// the gateway serves, without a shutdown.
func TestOTLPPeriodicExport(t *testing.T) {
	t.Parallel()
	rc := newOTLPReceiver(t)
	be := newSpy(t, 12)
	e := start(t, `
otlp: {endpoint: `+rc.srv.URL+`/v1/metrics, interval: 50ms}
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p}]
`, be.srv.URL, nil)
	t.Cleanup(func() { _ = e.gw.Shutdown(context.Background()) })
	if a := post(t, e.url, chatPath, "k1", chatBody(5), nil); a.status != 200 {
		t.Fatalf("status %d", a.status)
	}
	deadline := time.Now().Add(20 * time.Second)
	for rc.exports() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	pts := rc.usagePoints(t)
	if len(pts) != 2 || pts[0].sum != 10 || pts[1].sum != 2 {
		t.Fatalf("points %+v, want input 10 and output 2", pts)
	}
	if _, ok := pts[0].attrs["aiload.team"]; ok {
		t.Errorf("aiload.team set for a subscription without a team: %v", pts[0].attrs)
	}
}

// TestOTLPConfigErrors: a bad otlp section is a config error at its field.
func TestOTLPConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "gateway.yaml")
	writeFile(t, p, `
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p}]
otlp:
  endpoint: 127.0.0.1:4318
  interval: -1s
`)
	_, err := gateway.LoadConfig(p)
	for _, want := range []string{
		"gateway.yaml:5:13: otlp.endpoint: must be an absolute http(s) URL",
		"gateway.yaml:6:13: otlp.interval: must be >= 0",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
	// the string form is the endpoint
	writeFile(t, p, `
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p}]
otlp: 127.0.0.1:4318
`)
	_, err = gateway.LoadConfig(p)
	if want := "gateway.yaml:4:7: otlp.endpoint: must be an absolute http(s) URL"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %q", err, want)
	}
	// an unknown field of the object form is still an error
	writeFile(t, p, `
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p}]
otlp: {endpoint: http://127.0.0.1:4318, intervl: 5s}
`)
	if _, err = gateway.LoadConfig(p); err == nil || !strings.Contains(err.Error(), "intervl") {
		t.Errorf("error %v, want one naming the unknown field intervl", err)
	}
}

// TestOTLPOperationDuration: `otlp:` given as the endpoint URL alone turns
// the export on; every backend call is a gen_ai.client.operation.duration
// measurement in seconds with the GenAI attributes, a backend's refusal
// carries error.type (its status code), and requests the gateway answered
// itself (a 429 of the token limit) are not operations.
func TestOTLPOperationDuration(t *testing.T) {
	t.Parallel()
	rc := newOTLPReceiver(t)
	be := newSpy(t, 30)
	e := start(t, `
otlp: `+rc.srv.URL+`
products: [{name: p, token_limits: [{tokens_per_minute: 90}]}]
subscriptions: [{id: s1, key: k1, product: p, team: research}]
`, be.srv.URL, nil)
	for i, st := range []int{200, 200, 500} {
		be.status.Store(int64(st))
		if a := post(t, e.url, chatPath, "k1", chatBody(5), nil); a.status != st {
			t.Fatalf("request %d: status %d, want %d", i, a.status, st)
		}
	}
	be.status.Store(200)
	// 60 tokens used and the 500 charged its estimate: the limit refuses
	for post(t, e.url, chatPath, "k1", chatBody(5), nil).status != 429 {
		if be.hits.Load() > 10 {
			t.Fatal("the token limit never refused")
		}
	}
	calls := be.hits.Load()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.gw.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	pts := rc.points(t, "gen_ai.client.operation.duration")
	want := map[string]string{"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
		"gen_ai.request.model": "gpt-4o-mini", "aiload.team": "research"}
	var ok, failed uint64
	for _, p := range pts {
		errType, hasErr := p.attrs["error.type"]
		delete(p.attrs, "error.type")
		if fmt.Sprint(p.attrs) != fmt.Sprint(want) {
			t.Errorf("attributes %v, want %v (and error.type on failures)", p.attrs, want)
		}
		switch {
		case !hasErr:
			ok += p.count
		case errType == "500":
			failed += p.count
		default:
			t.Errorf("error.type %q, want 500", errType)
		}
		wantBounds := []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
		if p.unit != "s" || !slices.Equal(p.bounds, wantBounds) || p.sum <= 0 || p.sum > 30*float64(p.count) {
			t.Errorf("unit %q bounds %v sum %v for %d calls; want s, the semantic conventions' bounds, a plausible sum in seconds",
				p.unit, p.bounds, p.sum, p.count)
		}
	}
	if ok+failed != uint64(calls) || failed != 1 || ok < 2 {
		t.Errorf("durations: %d ok and %d with error.type 500, want one per backend call (%d), one of them failed", ok, failed, calls)
	}
}
