package dashboard

import "github.com/aiload/aiload/record"

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
