package runner

import "testing"

// The table's per-run figures are the means over the reruns, rounded down.
func TestVerificationReport(t *testing.T) {
	t.Parallel()
	v := &Verification{Seeds: []uint64{1, 2}, Target: 0.01, Consumers: []ConsumerCheck{
		{Key: "a", RecommendedTPM: 1700, Runs: []Attempts{{First: 80, Retries: 3}, {First: 83, Retries: 6}}, Mean: 0.0125, Met: true},
		{Key: "b", Note: "too few requests"},
	}}
	r := v.Report()
	if c := r.Consumers[0]; c.FirstPerRun != 81 || c.RetriesPerRun != 4 || c.RecommendedTPM != 1700 || !c.Met || c.Mean != 0.0125 {
		t.Errorf("consumer a: %+v", c)
	}
	if c := r.Consumers[1]; c.FirstPerRun != 0 || c.Note != "too few requests" {
		t.Errorf("consumer b: %+v", c)
	}
	if (*Verification)(nil).Report() != nil {
		t.Errorf("a nil verification reports something")
	}
}
