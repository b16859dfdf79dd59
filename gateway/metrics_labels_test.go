package gateway_test

import (
	"strings"
	"testing"
)

// TestMetricsTeamAndDimensionLabels: /metrics carries the team and every
// emit_token_metric dimension as labels; a dimension with more distinct
// values than gateway.metrics.max_label_values folds the excess into
// "other", and each folded observation is counted.
func TestMetricsTeamAndDimensionLabels(t *testing.T) {
	t.Parallel()
	be := newSpy(t, 20)
	e := start(t, `
metrics: {max_label_values: 2}
emit_token_metric:
  dimensions:
    - {name: Subscription ID}
    - {name: Tenant, value: '@(context.Request.Headers.GetValueOrDefault("x-tenant","none"))'}
products: [{name: p, token_limits: [{tokens_per_minute: 1000}]}]
subscriptions: [{id: s1, key: k1, product: p, team: research}]
`, be.srv.URL, nil)
	for _, tenant := range []string{"acme", "globex", "initech", "umbrella", "acme"} {
		if a := post(t, e.url, chatPath, "k1", chatBody(5), map[string]string{"x-tenant": tenant}); a.status != 200 {
			t.Fatalf("tenant %s: status %d", tenant, a.status)
		}
	}
	m := scrape(t, e.gw)
	for _, want := range []string{
		// acme and globex keep their own series; initech and umbrella are folded.
		`aiload_gateway_tokens_total{backend="mock",outcome="ok",product="p",subscription="s1",subscription_id="s1",team="research",tenant="acme",type="total"} 40`,
		`aiload_gateway_tokens_total{backend="mock",outcome="ok",product="p",subscription="s1",subscription_id="s1",team="research",tenant="globex",type="total"} 20`,
		`aiload_gateway_tokens_total{backend="mock",outcome="ok",product="p",subscription="s1",subscription_id="s1",team="research",tenant="other",type="total"} 40`,
		`aiload_gateway_requests_total{backend="mock",outcome="ok",product="p",status="200",subscription="s1",subscription_id="s1",team="research",tenant="other"} 2`,
		`aiload_gateway_label_values_folded_total{label="tenant"} 2`,
		`aiload_gateway_label_values_folded_total{label="team"} 0`,
		// 5 requests of 20 tokens against 1000 TPM in one window.
		`aiload_gateway_remaining_tokens{product="p",subscription="s1",team="research"} 900`,
		`aiload_gateway_semantic_cache_lookups_total{result="hit"} 0`,
		`aiload_gateway_semantic_cache_lookups_total{result="miss"} 0`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks\n  %s\n%s", want, grepLines(m, "aiload_gateway_tokens_total", "aiload_gateway_requests_total", "folded", "remaining"))
		}
	}
	if strings.Contains(m, `tenant="initech"`) || strings.Contains(m, `tenant="umbrella"`) {
		t.Errorf("/metrics has a series for a value past the cap:\n%s", grepLines(m, "tenant="))
	}
	if strings.Contains(m, "aiload_gateway_remaining_quota_tokens{") {
		t.Errorf("/metrics has a quota gauge without any quota configured")
	}
}

// TestMetricsTeamGuard: the team label is capped like a dimension.
func TestMetricsTeamGuard(t *testing.T) {
	t.Parallel()
	be := newSpy(t, 10)
	e := start(t, `
metrics: {max_label_values: 1}
products: [{name: p, token_limits: [{counter_key: subscription, token_quota: 1000, token_quota_period: Hourly}]}]
subscriptions:
  - {id: s1, key: k1, product: p, team: research}
  - {id: s2, key: k2, product: p, team: support}
`, be.srv.URL, nil)
	for _, k := range []string{"k1", "k2", "k2"} {
		if a := post(t, e.url, chatPath, k, chatBody(5), nil); a.status != 200 {
			t.Fatalf("key %s: status %d", k, a.status)
		}
	}
	m := scrape(t, e.gw)
	for _, want := range []string{
		`aiload_gateway_tokens_total{backend="mock",outcome="ok",product="p",subscription="s1",team="research",type="total"} 10`,
		`aiload_gateway_tokens_total{backend="mock",outcome="ok",product="p",subscription="s2",team="other",type="total"} 20`,
		`aiload_gateway_label_values_folded_total{label="team"} 2`,
		`aiload_gateway_remaining_quota_tokens{product="p",subscription="s2",team="other"} 980`,
		`aiload_gateway_remaining_quota_tokens{product="p",subscription="s1",team="research"} 990`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks\n  %s\n%s", want, grepLines(m, "aiload_gateway_tokens_total", "folded", "remaining"))
		}
	}
}

// grepLines keeps the lines of s that contain any of subs.
func grepLines(s string, subs ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, sub := range subs {
			if strings.Contains(l, sub) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
