package dashboard

import (
	"strings"

	"github.com/aiload/aiload/record"
)

// PriceFunc values an ok record's tokens in US dollars; ok is false when
// the model's price is unknown.
type PriceFunc func(r *record.Record) (usd float64, ok bool)

// Price is a pay-as-you-go price in US dollars per million tokens.
type Price struct {
	Input       float64
	CachedInput float64
	Output      float64
}

// Cost is the price of prompt tokens (cached of them at the cached rate)
// and completion tokens:
//
//	((prompt − cached)·Input + cached·CachedInput + completion·Output) / 1e6
func (p Price) Cost(prompt, cached, completion int64) float64 {
	cached = min(max(cached, 0), prompt)
	return (float64(prompt-cached)*p.Input + float64(cached)*p.CachedInput + float64(completion)*p.Output) / 1e6
}

// ListPrices are global-standard PAYG list prices per million tokens for
// common models (OpenAI list, which Azure Global Standard matches; data
// zone and regional deployments cost about 10% more).
func ListPrices() map[string]Price {
	return map[string]Price{
		"gpt-4o":       {Input: 2.50, CachedInput: 1.25, Output: 10.00},
		"gpt-4o-mini":  {Input: 0.15, CachedInput: 0.075, Output: 0.60},
		"gpt-4.1":      {Input: 2.00, CachedInput: 0.50, Output: 8.00},
		"gpt-4.1-mini": {Input: 0.40, CachedInput: 0.10, Output: 1.60},
		"gpt-4.1-nano": {Input: 0.10, CachedInput: 0.025, Output: 0.40},
		"gpt-5":        {Input: 1.25, CachedInput: 0.125, Output: 10.00},
		"gpt-5.1":      {Input: 1.25, CachedInput: 0.125, Output: 10.00},
	}
}

// PriceTable returns a PriceFunc that looks a record's model up in prices,
// exactly first, then by its longest listed prefix (so a dated deployment
// such as gpt-4o-mini-2024-07-18 gets gpt-4o-mini's price).
func PriceTable(prices map[string]Price) PriceFunc {
	return func(r *record.Record) (float64, bool) {
		p, ok := prices[r.Model]
		if !ok {
			best := ""
			for name := range prices {
				if strings.HasPrefix(r.Model, name) && len(name) > len(best) {
					best = name
				}
			}
			if best == "" {
				return 0, false
			}
			p = prices[best]
		}
		return p.Cost(r.PromptTokens, r.CachedTokens, r.CompletionTokens), true
	}
}
