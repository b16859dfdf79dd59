package gateway_test

import (
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/aiload/aiload/gateway"
)

// TestSubscriptionWithoutProduct: a subscription may name no product (as
// the docs allow): the config is valid, its calls pass with no product
// limit, and their records carry an empty product.
func TestSubscriptionWithoutProduct(t *testing.T) {
	t.Parallel()
	cfgYAML := "subscriptions: [{id: s1, key: k1, team: alpha}]\n"
	var cfg gateway.Config
	if err := yaml.Unmarshal([]byte(cfgYAML), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	// a product that is named must exist
	bad := cfg
	bad.Subscriptions = []gateway.Subscription{{ID: "s2", Key: "k2", Product: "gold"}}
	if err := bad.Validate(); err == nil {
		t.Errorf("a subscription naming an unknown product validated")
	}
	spy := newSpy(t, 100)
	e := start(t, cfgYAML, spy.srv.URL, nil)
	for range 3 {
		if a := post(t, e.url, "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21", "k1", chatBody(50), nil); a.status != 200 {
			t.Fatalf("status %d: %s", a.status, a.body)
		}
	}
	if r := e.sink.last(t); r.Team != "alpha" || r.Product != "" || r.LimitTPM != 0 {
		t.Errorf("record team %q product %q limit %d; want alpha, no product, no limit", r.Team, r.Product, r.LimitTPM)
	}
}
