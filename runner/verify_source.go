package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/scenario"
)

// CheckOptions say how aiload recommend verifies its limits.
type CheckOptions struct {
	// DBPath is the database the recommendation came from; the
	// summary.json beside it (a run folder) names the scenario file.
	DBPath string
	// ScenarioFile, when set, is the scenario to rerun (--scenario).
	ScenarioFile string
	// Seeds is how many reruns per search round (--verify-seeds).
	Seeds int
	// Unit is the step of limits (default 1,000 TPM).
	Unit int64
	// Rounds bounds the search (--verify-rounds; default 4).
	Rounds int
}

// CheckRecommendation verifies rec by rerunning the scenario its records
// came from (see Verify) and, when it ran, applies the verified limits to
// rec (its tiers then use them). When the records carry no scenario and none is
// given it returns nil and no note; when they name one it cannot find, or
// the scenario cannot be rerun on the virtual clock (an external target, a
// backend with a URL), it returns nil and says so in words. A scenario
// file that does not load is an error.
func CheckRecommendation(ctx context.Context, db *analytics.DB, rec *analytics.Recommendation, opts CheckOptions) (*Verification, string, error) {
	var sc *scenario.Scenario
	if opts.ScenarioFile != "" {
		var err error
		if sc, err = scenario.Load(opts.ScenarioFile); err != nil {
			return nil, "", err
		}
	} else {
		names, err := recordScenarios(ctx, db)
		if err != nil {
			return nil, "", err
		}
		if len(names) == 0 {
			return nil, "", nil // foreign logs: nothing to rerun unless --scenario is given
		}
		var why string
		if sc, why = scenarioBeside(opts.DBPath, names); sc == nil {
			return nil, why, nil
		}
	}
	v, err := Verify(ctx, VerifyOptions{Scenario: sc, Recommendation: rec, Seeds: VerifySeeds(sc.Seed, opts.Seeds), Unit: opts.Unit, MaxRounds: opts.Rounds})
	if err != nil && ctx.Err() == nil {
		// The limits stand on their own; say why they are not verified.
		return nil, "not verified: " + err.Error(), nil
	}
	if err == nil {
		rec.ApplyVerification(v.Limits())
	}
	return v, "", err
}

// Limits are the verified limits by consumer key, for
// analytics.Recommendation.ApplyVerification: the tiers and every limit to
// set then use what the reruns measured.
func (v *Verification) Limits() map[string]analytics.VerifiedLimit {
	out := make(map[string]analytics.VerifiedLimit, len(v.Consumers))
	for _, c := range v.Consumers {
		out[c.Key] = analytics.VerifiedLimit{TPM: c.RecommendedTPM, Mean: c.Mean, Min: c.Min, Max: c.Max,
			Reruns: len(c.Runs), Met: c.Met, Note: c.Note}
	}
	return out
}

// recordScenarios returns the scenario names the records carry.
func recordScenarios(ctx context.Context, db *analytics.DB) ([]string, error) {
	rows, err := db.SQL().QueryContext(ctx, `SELECT DISTINCT scenario FROM records WHERE coalesce(scenario, '') <> '' ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("verify: record scenarios: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("verify: record scenarios: %w", err)
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// scenarioBeside loads the scenario named by the summary.json beside the
// database at dbPath, with the run's seed and duration, or says why not.
func scenarioBeside(dbPath string, names []string) (*scenario.Scenario, string) {
	hint := fmt.Sprintf("the records came from scenario %s; pass --scenario FILE to rerun it (--verify-seeds 0 skips this)", strings.Join(names, ", "))
	if len(names) > 1 {
		return nil, fmt.Sprintf("not verified: the records came from %d scenarios (%s); pass --scenario FILE to rerun one", len(names), strings.Join(names, ", "))
	}
	path := filepath.Join(filepath.Dir(dbPath), "summary.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "not verified: " + hint
	} else if err != nil {
		return nil, fmt.Sprintf("not verified: read %s: %v; %s", path, err, hint)
	}
	var sf SummaryFile
	if err := json.Unmarshal(b, &sf); err != nil || sf.ScenarioFile == "" || sf.Scenario != names[0] {
		return nil, fmt.Sprintf("not verified: %s does not name the scenario file; %s", path, hint)
	}
	sc, err := scenario.Load(sf.ScenarioFile)
	if err != nil {
		return nil, fmt.Sprintf("not verified: %v; %s", err, hint)
	}
	if sf.Seed != 0 {
		sc.Seed = sf.Seed
	}
	if sf.Duration > 0 {
		sc.Duration = sf.Duration
	}
	return sc, ""
}
