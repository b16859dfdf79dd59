package analytics

// VerifiedLimit is what reruns of the scenario on the virtual clock
// measured for one consumer (runner.Verify fills it): the limit the reruns
// settled on and the share of first attempts refused there.
type VerifiedLimit struct {
	// TPM is the verified limit; 0 when the consumer could not be
	// verified (Note says why).
	TPM int64
	// Mean, Min and Max are the share of first attempts refused (429 or
	// 403) over the reruns at TPM.
	Mean, Min, Max float64
	// Reruns is how many reruns (seeds) the figures come from.
	Reruns int
	// Met is true when Mean is within the verification's tolerance of the
	// target.
	Met bool
	// Note says in words why the target is not met or the consumer was
	// not verified; "" otherwise.
	Note string
}

// LimitTPM is the limit to set: the verified one when reruns measured it,
// else the replay's estimate (RecommendedTPM).
func (c *ConsumerRecommendation) LimitTPM() int64 {
	if c.Verified != nil && c.Verified.TPM > 0 {
		return c.Verified.TPM
	}
	return c.RecommendedTPM
}

// ApplyVerification records what the reruns measured per consumer key and
// recomputes the tiers from the limits to set (LimitTPM), so a tier's TPM
// is the largest verified limit among its consumers. Consumers absent from
// v keep the replay's estimate.
func (r *Recommendation) ApplyVerification(v map[string]VerifiedLimit) {
	for i := range r.Consumers {
		c := &r.Consumers[i]
		if got, ok := v[c.Key]; ok {
			c.Verified = &got
		}
	}
	r.Tiers = nil
	r.tiers(RecommendOptions{TierNames: r.tierNames})
}
