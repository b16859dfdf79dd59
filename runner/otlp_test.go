package runner

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	colmetricspb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/aiload/aiload/record"
	"github.com/aiload/aiload/scenario"
)

// TestScenarioOTLP: a scenario's gateway.otlp exports the run's token
// usage, and the exported totals are the records' tokens of the requests a
// backend answered.
func TestScenarioOTLP(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var last *colmetricspb.ExportMetricsServiceRequest
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		req := &colmetricspb.ExportMetricsServiceRequest{}
		if err := proto.Unmarshal(b, req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		last = req
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer rc.Close()
	sc, err := scenario.Parse("otlp.yaml", []byte(`
name: otlp
duration: 2m
seed: 3
gateway:
  otlp: {endpoint: `+rc.URL+`}
  products: [{name: p, tokens_per_minute: 3000}]
  subscriptions: [{id: s1, key: k1, product: p, team: research}]
personas: [{name: p, subscription: s1, team: research, rate: 30/min, prompt_tokens: 100, completion_tokens: 50}]
`))
	if err != nil {
		t.Fatal(err)
	}
	sc.Clock = scenario.ClockVirtual
	var in, out, refused int64
	sink := record.SinkFunc(func(r *record.Record) error {
		if r.Backend != "" && r.Status/100 == 2 {
			in, out = in+r.PromptTokens, out+r.CompletionTokens
		} else {
			refused++
		}
		return nil
	})
	sim, err := Simulate(context.Background(), sc, sink, "otlp", nil)
	if err != nil || sim.ExportErr != nil {
		t.Fatalf("Simulate: %v, export: %v", err, sim.ExportErr)
	}
	if refused == 0 || in == 0 {
		t.Fatalf("want both answered and refused requests: %d input tokens answered, %d refused", in, refused)
	}
	got := map[string]float64{}
	mu.Lock()
	defer mu.Unlock()
	if last == nil {
		t.Fatal("nothing exported")
	}
	for _, rm := range last.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				for _, dp := range m.GetHistogram().GetDataPoints() {
					for _, a := range dp.GetAttributes() {
						if a.GetKey() == "gen_ai.token.type" {
							got[a.GetValue().GetStringValue()] += dp.GetSum()
						}
					}
				}
			}
		}
	}
	if got["input"] != float64(in) || got["output"] != float64(out) {
		t.Errorf("exported input %v output %v, records say %d and %d", got["input"], got["output"], in, out)
	}
}
