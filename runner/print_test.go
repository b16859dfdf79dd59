package runner

import (
	"strings"
	"testing"

	"github.com/aiload/aiload/analytics"
)

// TestPrintSubscriptionsPerKey: a subscription counted under several keys
// (a limit per NAT address) says its peak and limit are its busiest key's.
func TestPrintSubscriptionsPerKey(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	printSubscriptions(&out, []analytics.SubscriptionSummary{
		{SubscriptionID: "office-sub", Team: "ops", PeakTPM: 9800, LimitTPM: 10000, PeakKey: "127.0.0.3", Keys: 4},
		{SubscriptionID: "web-sub", Team: "web", PeakTPM: 500, LimitTPM: 60000, PeakKey: "web-sub", Keys: 1},
	})
	got := out.String()
	if !strings.Contains(got, "9800") || !strings.Contains(got, "per counter key (office-sub: busiest 127.0.0.3 of 4 keys)") || strings.Contains(got, "web-sub: busiest") {
		t.Errorf("summary table:\n%s", got)
	}
}
