package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/apimxml"
)

// emitAPIM writes one API Management policy document per recommended tier
// into dir: an llm-token-limit with the tier's TPM and monthly quota, keyed
// by product (--by product) or else by subscription.
func emitAPIM(w io.Writer, dir string, r *analytics.Recommendation) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("emit policies: %w", err)
	}
	key := "@(context.Subscription.Id)"
	if r.By == analytics.ByProduct {
		key = "@(context.Product.Name)"
	}
	for _, t := range r.Tiers {
		if t.TPM <= 0 && t.MonthlyQuota <= 0 {
			fmt.Fprintf(w, "%s: no limit recommended, no policy written\n", t.Name)
			continue
		}
		l := gateway.TokenLimit{CounterKey: key, TokensPerMinute: t.TPM, EstimatePromptTokens: r.EstimatePromptTokens}
		if t.MonthlyQuota > 0 {
			l.TokenQuota, l.TokenQuotaPeriod = t.MonthlyQuota, "Monthly"
		}
		path := filepath.Join(dir, strings.Map(fileSafe, t.Name)+".xml")
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("emit policies: %w", err)
		}
		comment := fmt.Sprintf("aiload recommend: product %s (%s), at most %.3g%% of first attempts refused", t.Name, strings.Join(t.Consumers, ", "), 100*r.TargetThrottle)
		err = apimxml.WritePolicy(f, comment, l)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("emit policies: %w", err)
		}
		fmt.Fprintf(w, "wrote %s: %d TPM, monthly quota %d (aiload gateway serve … --policy product:%s=%s)\n", path, t.TPM, t.MonthlyQuota, t.Name, path)
	}
	return nil
}

// fileSafe keeps letters, digits, '-', '_' and '.' of a file name.
func fileSafe(r rune) rune {
	if r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
		return r
	}
	return '_'
}
