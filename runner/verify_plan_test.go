package runner

import (
	"strings"
	"testing"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/record"
	"github.com/aiload/aiload/scenario"
)

// TestPlanVerify: each consumer's limit is found in the scenario's gateway
// config: a subscription's own product limit, one per-IP limit for every
// address behind it, a product shared by subscriptions copied so each gets
// its own; a consumer without enough data is left alone.
func TestPlanVerify(t *testing.T) {
	t.Parallel()
	mixed, err := scenario.Load("../scenarios/mixed-day.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rec := &analytics.Recommendation{Consumers: []analytics.ConsumerRecommendation{
		{Key: "support-sub", Product: "standard", RecommendedTPM: 90000},
		{Key: "127.0.0.2", Product: "office", RecommendedTPM: 30000},
		{Key: "127.0.0.3", Product: "office", RecommendedTPM: 34000},
		{Key: "research-agents", Product: "agents", Status: analytics.StatusNotEnoughData, RecommendedTPM: 100000},
	}}
	p := planVerify(mixed.Gateway, rec)
	if len(p.groups) != 2 {
		t.Fatalf("%d groups, want support and the office's addresses", len(p.groups))
	}
	support, office := p.groups[p.groupOf[0]], p.groups[p.groupOf[1]]
	if p.groupOf[1] != p.groupOf[2] || office.perKey != "ip" || office.start != 34000 ||
		office.describe() != "product office token_limits[0] (one limit for every ip key: searched on the busiest key's share)" {
		t.Errorf("office: groups %v, %+v (%s); want one per-IP group starting at the larger recommendation", p.groupOf, office, office.describe())
	}
	if support.describe() != "product standard tokens_per_minute" || support.perKey != "" {
		t.Errorf("support: %s", support.describe())
	}
	if p.groupOf[3] != -1 || !strings.Contains(p.why[3], "not enough data") {
		t.Errorf("research-agents: group %d, %q; want not verified", p.groupOf[3], p.why[3])
	}
	limits := make([]int64, len(p.groups))
	limits[p.groupOf[0]], limits[p.groupOf[1]] = 91000, 35000
	cfg := p.configWith(limits)
	for _, prod := range cfg.Products {
		switch prod.Name {
		case "standard":
			if prod.TokensPerMinute != 91000 {
				t.Errorf("standard: %d TPM, want 91000", prod.TokensPerMinute)
			}
		case "office":
			if prod.TokenLimits[0].TokensPerMinute != 35000 || prod.TokenLimits[0].CounterKey != "ip" {
				t.Errorf("office: %+v, want its per-IP limit at 35000", prod.TokenLimits[0])
			}
		case "agents":
			if prod.TokensPerMinute != 100000 {
				t.Errorf("agents: %d TPM, want the scenario's 100000", prod.TokensPerMinute)
			}
		}
	}
	if mixed.Gateway.Products[1].TokenLimits[0].TokensPerMinute != 40000 {
		t.Error("configWith changed the scenario's own config")
	}

	shared, err := scenario.Load("testdata/verify.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rec = &analytics.Recommendation{By: analytics.ByCounterKey, Consumers: []analytics.ConsumerRecommendation{
		{Key: "steady-sub", Product: "generous", RecommendedTPM: 40000},
		{Key: "chat-sub", Product: "generous", RecommendedTPM: 30000},
	}}
	p = planVerify(shared.Gateway, rec)
	limits = []int64{41000, 29000}
	cfg = p.configWith(limits)
	got := map[string]int64{}
	for _, s := range cfg.Subscriptions {
		for _, prod := range cfg.Products {
			if prod.Name == s.Product {
				got[s.ID] = prod.TokensPerMinute
			}
		}
	}
	if got["steady-sub"] != limits[p.groupOf[0]] || got["chat-sub"] != limits[p.groupOf[1]] || got["batch-sub"] != 5000000 {
		t.Errorf("per-subscription limits %v; want steady and chat apart, batch as written", got)
	}
	if i := p.consumer(&record.Record{SubscriptionID: "chat-sub", Product: "generous~chat-sub"}); i != 1 {
		t.Errorf("a chat-sub record belongs to consumer %d, want 1", i)
	}
}
