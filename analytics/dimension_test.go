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
