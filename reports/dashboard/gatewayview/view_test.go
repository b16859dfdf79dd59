package gatewayview

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/record"
	"github.com/aiload/aiload/reports/dashboard"
)

// TestServe serves a gateway whose only backend fails, and
// checks the admin snapshot: named after the gateway, attached, the
// subscription row, the 5xx as events, the tripped breaker, and the
// records the log could not take.
func TestServe(t *testing.T) {
	t.Parallel()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"error":{"message":"down"}}`, http.StatusInternalServerError)
	}))
	defer backend.Close()
	cfg := gateway.Config{
		ID:            "gw-east",
		Products:      []gateway.Product{{Name: "std", TokensPerMinute: 5000}},
		Subscriptions: []gateway.Subscription{{ID: "s1", Key: "k1", Product: "std", Team: "research"}},
		Backends: []gateway.Backend{{Name: "east", URL: backend.URL,
			CircuitBreaker: &gateway.CircuitBreaker{FailureCount: 2, StatusRanges: []string{"500-599"}}}},
	}
	sink, admin, follow := Serve(cfg)
	full := record.SinkFunc(func(r *record.Record) error { // a log on a full disk
		_ = sink.Write(r)
		return record.ErrDropped
	})
	gw, err := gateway.New(cfg, "", gateway.Options{Sink: full})
	if err != nil {
		t.Fatal(err)
	}
	follow(gw)
	api := httptest.NewServer(gw)
	defer api.Close()
	adminSrv := httptest.NewServer(admin)
	defer adminSrv.Close()
	for range 3 {
		req, _ := http.NewRequest(http.MethodPost, api.URL+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("api-key", "k1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	s, err := (&dashboard.Poller{URL: adminSrv.URL}).Fetch(context.Background())
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if s.Scenario != "gw-east" || s.Phase != dashboard.PhaseAttached {
		t.Errorf("snapshot %q in phase %q; want gw-east attached", s.Scenario, s.Phase)
	}
	if len(s.Teams) != 1 || s.Teams[0].Team != "research" || s.Teams[0].TPMLimit != 5000 || s.Teams[0].Requests != 3 {
		t.Errorf("subscription rows %+v", s.Teams)
	}
	if s.Totals.RecordsDropped != 3 {
		t.Errorf("records dropped %d, want 3", s.Totals.RecordsDropped)
	}
	if len(s.Backends) != 1 || s.Backends[0].Breaker != dashboard.BreakerOpen || s.Backends[0].Trips != 1 {
		t.Errorf("backend rows %+v; want east with its breaker open after one trip", s.Backends)
	}
	var kinds []string
	for _, e := range s.Events {
		kinds = append(kinds, string(e.Kind)+": "+e.Text)
	}
	if joined := strings.Join(kinds, "\n"); !strings.Contains(joined, "breaker: east breaker open") || !strings.Contains(joined, "error: ") {
		t.Errorf("events:\n%s", joined)
	}
}
