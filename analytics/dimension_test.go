package analytics

import (
	"context"
	"strings"
	"testing"
)

// TestRecommendRejectsUnknownBy: a consumer dimension that does not exist
// is an error, not one consumer named "".
func TestRecommendRejectsUnknownBy(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	_, err := Recommend(context.Background(), db, RecommendOptions{By: "tenant"})
	if err == nil || !strings.Contains(err.Error(), `unknown dimension "tenant"`) {
		t.Errorf("Recommend(By: tenant) error = %v, want unknown dimension", err)
	}
	for _, d := range Dimensions() {
		if got, err := ParseDimension(string(d)); got != d || err != nil {
			t.Errorf("ParseDimension(%q) = %q, %v", d, got, err)
		}
	}
}

// TestParseGrouping: the columns a bill is split by, and what is refused.
func TestParseGrouping(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in, name, grp, dim, none, err string
	}{
		{"", "team", "team", "", "(no team)", ""},     // the default
		{"team", "team", "team", "", "(no team)", ""}, // the same, named
		{"subscription", "subscription", "subscription", "", "(no subscription)", ""},
		{"product", "product", "product", "", "(no product)", ""},
		{"user", "user", "user", "", "(no user)", ""},
		{"cost_center", "cost_center", "dims", "sub.cost_center", "(no cost_center)", ""}, // a subscription metadata key
		{"dims.region", "dims.region", "dims", "region", "(no dims.region)", ""},          // a dimension as recorded
		{"dims.sub.cost_center", "dims.sub.cost_center", "dims", "sub.cost_center", "(no dims.sub.cost_center)", ""},
		{"dims.", "", "", "", "", "want dims.<name>"},                 // no dimension named
		{"cost centre", "", "", "", "", "unknown grouping"},           // not a key
		{"'; DROP TABLE records", "", "", "", "", "unknown grouping"}, // nor this
	} {
		g, err := ParseGrouping(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseGrouping(%q) error = %v, want %q", c.in, err, c.err)
			}
			continue
		}
		grp, dim := g.sqlArgs()
		if err != nil || g.Name != c.name || grp != c.grp || dim != c.dim || g.None() != c.none {
			t.Errorf("ParseGrouping(%q) = %q (%s, %s, %s), %v; want %q (%s, %s, %s)", c.in, g.Name, grp, dim, g.None(), err, c.name, c.grp, c.dim, c.none)
		}
	}
	if !(Grouping{}).IsTeam() {
		t.Errorf("the zero Grouping does not split by team")
	}
}
