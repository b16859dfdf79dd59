package runner

import "github.com/aiload/aiload/reports/recommendation"

// Report is the verification as aiload recommend's table shows it: per
// consumer, the limit settled on, the replay's estimate, the shares
// measured and the first attempts and retries per rerun. A nil
// verification gives nil.
func (v *Verification) Report() *recommendation.Verification {
	if v == nil {
		return nil
	}
	out := &recommendation.Verification{Seeds: v.Seeds, Target: v.Target, Tolerance: v.Tolerance, Rounds: v.Rounds,
		SimulatedDuration: v.SimulatedDuration, Consumers: make([]recommendation.VerifiedConsumer, len(v.Consumers))}
	for i, c := range v.Consumers {
		var first, retries int64
		for _, r := range c.Runs {
			first += r.First
			retries += r.Retries
		}
		n := int64(max(len(c.Runs), 1))
		out.Consumers[i] = recommendation.VerifiedConsumer{Key: c.Key, RecommendedTPM: c.RecommendedTPM,
			EstimateTPM: c.EstimateTPM, EstimateShare: c.EstimateShare, Mean: c.Mean, Min: c.Min, Max: c.Max, Met: c.Met,
			FirstPerRun: first / n, RetriesPerRun: retries / n, Note: c.Note}
	}
	return out
}
