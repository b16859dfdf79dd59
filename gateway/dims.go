package gateway

import (
	"fmt"
	"strings"

	"github.com/aiload/aiload/gateway/policy"
)

// dimension is a compiled llm-emit-token-metric dimension.
type dimension struct {
	name  string
	value func(g *Gateway, x *exchange) string
}

// defaultDims are the dimensions usable without a value.
var defaultDims = map[string]func(g *Gateway, x *exchange) string{
	"subscription id": func(_ *Gateway, x *exchange) string { return x.rec.SubscriptionID },
	"product id":      func(_ *Gateway, x *exchange) string { return x.rec.Product },
	"user id":         func(_ *Gateway, x *exchange) string { return x.rec.UserID },
	"api id":          func(_ *Gateway, x *exchange) string { return x.rec.API },
	"operation id":    func(_ *Gateway, x *exchange) string { return x.op() },
	"backend id":      func(_ *Gateway, x *exchange) string { return x.rec.Backend },
	"client ip":       func(_ *Gateway, x *exchange) string { return x.rec.ClientIP },
	"gateway id":      func(_ *Gateway, x *exchange) string { return x.rec.GatewayID },
	"model":           func(_ *Gateway, x *exchange) string { return x.rec.Model },
}

func compileDimension(d Dimension) (dimension, error) {
	if d.Name == "" {
		return dimension{}, fmt.Errorf("name: must be set")
	}
	if d.Value == "" {
		f, ok := defaultDims[strings.ToLower(d.Name)]
		if !ok {
			return dimension{}, fmt.Errorf("dimension %q has no value and is not a default dimension (Subscription ID, Product ID, User ID, API ID, Operation ID, Backend ID, Client IP, Gateway ID, Model)", d.Name)
		}
		return dimension{name: d.Name, value: f}, nil
	}
	k, err := policy.ParseCounterKey(d.Value)
	if err != nil {
		return dimension{}, fmt.Errorf("dimension %q: %w", d.Name, err)
	}
	return dimension{name: d.Name, value: func(g *Gateway, x *exchange) string { return k.Resolve(g.facts(x)) }}, nil
}

// dimensions evaluates the configured dimensions and the subscription's
// metadata ("sub.<name>") for the record.
func (g *Gateway) dimensions(x *exchange) map[string]string {
	if len(g.dims) == 0 && (x.sub == nil || len(x.sub.Metadata) == 0) {
		return nil
	}
	out := make(map[string]string, len(g.dims))
	for _, d := range g.dims {
		out[d.name] = d.value(g, x)
	}
	if x.sub != nil {
		for k, v := range x.sub.Metadata {
			out["sub."+k] = v
		}
	}
	return out
}
