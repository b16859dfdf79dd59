package runner

import (
	"context"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/pricing"
	"github.com/aiload/aiload/scenario"
)

// RecordsPricing returns the pricing section of the scenario the records
// in db came from (scenarioFile when given, else the one the run folder's
// summary.json beside dbPath names) laid over the built-in prices, with
// where it came from; nil when there is no such scenario or it has no
// pricing section. Its PTU deployments say how a plan's PTUs are billed.
func RecordsPricing(ctx context.Context, db *analytics.DB, dbPath, scenarioFile string) (*pricing.Pricing, string, error) {
	var sc *scenario.Scenario
	if scenarioFile != "" {
		var err error
		if sc, err = scenario.Load(scenarioFile); err != nil {
			return nil, "", err
		}
	} else {
		names, err := recordScenarios(ctx, db)
		if err != nil || len(names) == 0 {
			return nil, "", err
		}
		if sc, _ = scenarioBeside(dbPath, names); sc == nil {
			return nil, "", nil
		}
	}
	if len(sc.Pricing) == 0 {
		return nil, "", nil
	}
	p, _, err := scenarioPricing(sc.Pricing)
	if err != nil {
		return nil, "", err
	}
	return p, "the pricing section of scenario " + sc.Name, nil
}
