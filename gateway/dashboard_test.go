package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aiload/aiload/gateway"
)

// grafanaDashboard is the part of docs/grafana-dashboard.json the test reads.
type grafanaDashboard struct {
	Title  string `json:"title"`
	Panels []struct {
		Title      string `json:"title"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

var metricName = regexp.MustCompile(`\baiload_gateway_[a-z0-9_]+`)

// TestGrafanaDashboard: docs/grafana-dashboard.json is valid JSON, every
// panel queries the dashboard's Prometheus, and every metric it queries
// is in the registry of a gateway that served traffic (`gateway serve`).
func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("docs/grafana-dashboard.json is not valid JSON: %v", err)
	}
	queried := map[string]bool{}
	for _, p := range d.Panels {
		if len(p.Targets) == 0 || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: %d targets, datasource %q; want queries of ${datasource}", p.Title, len(p.Targets), p.Datasource.UID)
		}
		for _, q := range p.Targets {
			for _, n := range metricName.FindAllString(q.Expr, -1) {
				queried[n] = true
			}
		}
	}
	for _, v := range d.Templating.List {
		for _, n := range metricName.FindAllString(v.Definition, -1) {
			queried[n] = true
		}
	}
	// What operators look for first must be there.
	for _, n := range []string{"aiload_gateway_tokens_total", "aiload_gateway_requests_total", "aiload_gateway_remaining_tokens",
		"aiload_gateway_circuit_open", "aiload_gateway_semantic_cache_lookups_total"} {
		if !queried[n] {
			t.Errorf("the dashboard does not query %s", n)
		}
	}
	have := servedMetricNames(t)
	for n := range queried {
		base := n
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(n, suffix); ok && have[b] {
				base = b
			}
		}
		if !have[base] {
			t.Errorf("the dashboard queries %s, which the gateway does not export (it has %v)", n, sortedKeys(have))
		}
	}
}

// servedMetricNames are the metric families of a gateway run by Serve
// after an answered request, a 429 and a quota.
func servedMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	be := newSpy(t, 30)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "gateway.yaml")
	writeFile(t, cfgPath, `
backends: [{name: aoai, url: `+be.srv.URL+`, api_key: backend-secret}]
products:
  - name: p
    token_limits:
      - {tokens_per_minute: 30}
      - {counter_key: subscription, token_quota: 1000, token_quota_period: Daily}
subscriptions: [{id: s1, key: k1, product: p, team: research}]
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready, done, built := make(chan string, 1), make(chan error, 1), make(chan *gateway.Gateway, 1)
	go func() {
		done <- gateway.Serve(ctx, gateway.ServeOptions{Config: cfgPath, Listen: "127.0.0.1:0", Admin: "127.0.0.1:0",
			Log: filepath.Join(dir, "tokens.jsonl"), Built: func(g *gateway.Gateway) { built <- g },
			Ready: func(api, _ string) { ready <- api }}, io.Discard)
	}()
	var api string
	select {
	case api = <-ready:
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	g := <-built
	for _, want := range []int{200, 429} {
		if a := post(t, "http://"+api, chatPath, "k1", chatBody(5), nil); a.status != want {
			t.Fatalf("status %d, want %d", a.status, want)
		}
	}
	mfs, err := g.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, mf := range mfs {
		have[mf.GetName()] = true
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	return have
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
