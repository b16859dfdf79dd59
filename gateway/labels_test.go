package gateway

import (
	"slices"
	"testing"
)

func TestDimensionLabels(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		names, want []string
	}{
		// API Management's default dimension names become snake case.
		{[]string{"Subscription ID", "Client IP", "model"}, []string{"subscription_id", "client_ip", "model"}},
		// A clash with a fixed label or an earlier dimension gets dim_.
		{[]string{"Team", "team", "TEAM"}, []string{"dim_team", "dim_team_2", "dim_team_3"}},
		{[]string{"a-b", "a b"}, []string{"a_b", "dim_a_b"}},
		// Names that do not start with a letter, or have none.
		{[]string{"2nd region", "--", "sub.cost_center"}, []string{"dim_2nd_region", "dim_", "sub_cost_center"}},
	} {
		if got := dimensionLabels(c.names); !slices.Equal(got, c.want) {
			t.Errorf("dimensionLabels(%q) = %q, want %q", c.names, got, c.want)
		}
	}
}
