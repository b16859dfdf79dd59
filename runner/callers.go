package runner

import (
	"context"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/loadgen"
	"github.com/aiload/aiload/scenario"
)

// Callers returns how each persona of sc reacts to a 429, by persona name,
// for analytics.RecommendOptions.Callers: retry_after and backoff as
// written; degrade retries once after the Retry-After (with a smaller
// request); rotate_key retries on another key, which is another counter
// when the limit is keyed by subscription, so the replay counts it as
// giving up on this one; fail gives up.
func Callers(sc *scenario.Scenario) map[string]analytics.Caller {
	out := map[string]analytics.Caller{}
	for _, p := range sc.Personas {
		p.Defaults()
		c := analytics.Caller{OnThrottle: analytics.CallerRetryAfter, MaxRetries: *p.MaxRetries,
			BackoffInitial: p.Backoff.Initial.D(), BackoffMax: p.Backoff.Max.D(), Source: "scenario"}
		switch p.OnThrottle {
		case loadgen.ThrottleBackoff:
			c.OnThrottle = analytics.CallerBackoff
		case loadgen.ThrottleDegrade:
			c.MaxRetries = 1
		case loadgen.ThrottleRotate, loadgen.ThrottleFail:
			c.OnThrottle, c.MaxRetries = analytics.CallerFail, 0
		}
		out[p.Name] = c
	}
	return out
}

// RecordsCallers returns the callers of the scenario the records came
// from, for analytics.RecommendOptions.Callers: the scenario file given
// (--scenario), else the one the run folder's summary.json beside the
// database names; nil when neither is known (the records and --caller
// then say how callers react).
func RecordsCallers(ctx context.Context, db *analytics.DB, dbPath, scenarioFile string) (map[string]analytics.Caller, error) {
	if scenarioFile != "" {
		sc, err := scenario.Load(scenarioFile)
		if err != nil {
			return nil, err
		}
		return Callers(sc), nil
	}
	names, err := recordScenarios(ctx, db)
	if err != nil || len(names) == 0 {
		return nil, err
	}
	if sc, _ := scenarioBeside(dbPath, names); sc != nil {
		return Callers(sc), nil
	}
	return nil, nil
}
