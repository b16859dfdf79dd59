package runner

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/aiload/aiload/analytics"
	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/policy"
	"github.com/aiload/aiload/record"
)

// knob is one token limit of the rerun's gateway config whose
// tokens_per_minute verification sets: a product's shorthand (limit -1)
// or one of its token_limits.
type knob struct {
	product string
	limit   int
}

func (k knob) String() string {
	if k.limit < 0 {
		return fmt.Sprintf("product %s tokens_per_minute", k.product)
	}
	return fmt.Sprintf("product %s token_limits[%d]", k.product, k.limit)
}

// limitGroup is a set of consumers whose limits cannot be set apart: one
// per subscription-keyed limit, or every key of a per-key limit (client
// IP, user), which applies the same tokens per minute to each key.
type limitGroup struct {
	consumers []int // indexes into the recommendation's consumers
	knobs     []knob
	// perKey names the counter key when the limit is one policy applied
	// to every key value ("ip", "header:x-user-id"); empty for a limit of
	// the consumer's own.
	perKey string
	// start is where the search starts: the largest analytic
	// recommendation among the group's consumers.
	start int64
}

// verifyPlan is how a recommendation's consumers map onto the scenario's
// gateway config: the config to rerun (products shared by several
// subscriptions copied, one per subscription), the groups of consumers
// whose limit the search sets, and the consumers that cannot be verified.
type verifyPlan struct {
	cfg    gateway.Config
	by     analytics.Dimension
	groups []*limitGroup
	// groupOf is each consumer's group index, -1 when it is not verified.
	groupOf []int
	// why says, for a consumer not verified, why not.
	why []string
	// origProduct maps a product copy back to the product it was made from.
	origProduct map[string]string
	// index is each consumer's position by key.
	index map[string]int
}

// planVerify maps the consumers of rec onto cfg.
func planVerify(cfg gateway.Config, rec *analytics.Recommendation) *verifyPlan {
	p := &verifyPlan{cfg: cloneConfig(cfg), by: rec.By, origProduct: map[string]string{}, index: map[string]int{}}
	if p.by == "" {
		p.by = analytics.ByCounterKey
	}
	if p.by != analytics.ByProduct {
		p.splitSharedProducts()
	}
	n := len(rec.Consumers)
	p.groupOf, p.why = make([]int, n), make([]string, n)
	knobsOf := make([][]knob, n)
	perKey := make([]string, n)
	for i, c := range rec.Consumers {
		p.index[c.Key] = i
		if c.Status == analytics.StatusNotEnoughData {
			p.why[i] = "not enough data to size a limit; it keeps its current limit"
			continue
		}
		knobsOf[i], perKey[i], p.why[i] = p.knobsFor(c)
	}
	// Consumers that share a knob share a group (union-find over knobs).
	parent := make([]int, n)
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		if parent[i] != i {
			parent[i] = find(parent[i])
		}
		return parent[i]
	}
	owner := map[knob]int{}
	for i, ks := range knobsOf {
		for _, k := range ks {
			if j, ok := owner[k]; ok {
				parent[find(i)] = find(j)
			} else {
				owner[k] = i
			}
		}
	}
	byRoot := map[int]*limitGroup{}
	for i := range rec.Consumers {
		p.groupOf[i] = -1
		if len(knobsOf[i]) == 0 {
			continue
		}
		r := find(i)
		g := byRoot[r]
		if g == nil {
			g = &limitGroup{}
			byRoot[r] = g
			p.groups = append(p.groups, g)
		}
		p.groupOf[i] = slices.Index(p.groups, g)
		g.consumers = append(g.consumers, i)
		for _, k := range knobsOf[i] {
			if !slices.Contains(g.knobs, k) {
				g.knobs = append(g.knobs, k)
			}
		}
		g.perKey = cmp.Or(g.perKey, perKey[i])
		g.start = max(g.start, rec.Consumers[i].RecommendedTPM)
	}
	return p
}

// splitSharedProducts gives each subscription of a product shared by
// several subscriptions its own copy of the product, so that each can
// get its own tokens per minute. Products with a product-keyed limit
// (one counter for the whole product) stay shared.
func (p *verifyPlan) splitSharedProducts() {
	subs := map[string][]int{}
	for i, s := range p.cfg.Subscriptions {
		subs[s.Product] = append(subs[s.Product], i)
	}
	var extra []gateway.Product
	for _, prod := range p.cfg.Products {
		idx := subs[prod.Name]
		if len(idx) < 2 || productKeyed(prod) {
			continue
		}
		for _, i := range idx {
			s := &p.cfg.Subscriptions[i]
			cp := prod
			cp.TokenLimits = slices.Clone(prod.TokenLimits)
			cp.Name = prod.Name + "~" + s.ID
			p.origProduct[cp.Name] = prod.Name
			s.Product = cp.Name
			extra = append(extra, cp)
		}
	}
	p.cfg.Products = append(p.cfg.Products, extra...)
}

func productKeyed(prod gateway.Product) bool {
	for _, l := range prod.TokenLimits {
		if k, err := policy.ParseCounterKey(cmp.Or(l.CounterKey, "subscription")); err == nil {
			for _, part := range k.Parts {
				if part.Source == policy.FromProduct || part.Source == policy.FromAPI {
					return true
				}
			}
		}
	}
	return false
}

// knobsFor returns the limits that govern consumer c, the counter key
// when they are per-key limits, or why the consumer cannot be verified.
func (p *verifyPlan) knobsFor(c analytics.ConsumerRecommendation) ([]knob, string, string) {
	var subs []gateway.Subscription
	subKeyed := false // the consumer is one subscription's own counter
	for _, s := range p.cfg.Subscriptions {
		switch p.by {
		case analytics.ByCounterKey:
			if s.ID == c.Key {
				subs, subKeyed = []gateway.Subscription{s}, true
			}
		case analytics.BySubscription:
			if s.ID == c.Key {
				subs = append(subs, s)
			}
		case analytics.ByTeam:
			if s.Team == c.Key {
				subs = append(subs, s)
			}
		case analytics.ByProduct:
			if s.Product == c.Key {
				subs = append(subs, s)
			}
		default:
			return nil, "", fmt.Sprintf("a limit per %s is not a gateway setting", p.by)
		}
		if subKeyed {
			break
		}
	}
	if len(subs) == 0 && p.by == analytics.ByCounterKey && c.Product != "" {
		// a per-key counter (client IP, user): the product's per-key limit
		for _, s := range p.cfg.Subscriptions {
			if p.original(s.Product) == c.Product {
				subs = append(subs, s)
			}
		}
	}
	if len(subs) == 0 {
		return nil, "", "no subscription of the scenario's gateway matches it"
	}
	var ks []knob
	perKey := ""
	for _, s := range subs {
		prod := p.product(s.Product)
		if prod == nil {
			return nil, "", fmt.Sprintf("subscription %s has no product", s.ID)
		}
		k, key := pickKnob(*prod, subKeyed || p.by != analytics.ByCounterKey)
		if !slices.Contains(ks, k) {
			ks = append(ks, k)
		}
		perKey = cmp.Or(perKey, key)
	}
	return ks, perKey, ""
}

// pickKnob chooses the product's tokens-per-minute limit to set: its
// subscription-keyed limit when wantSub (the shorthand when there is
// none, added if need be), else its first per-key limit.
func pickKnob(prod gateway.Product, wantSub bool) (knob, string) {
	first, firstKey := -2, ""
	for i, l := range prod.TokenLimits {
		if l.TokensPerMinute <= 0 {
			continue
		}
		raw := cmp.Or(l.CounterKey, "subscription")
		k, err := policy.ParseCounterKey(raw)
		if err != nil {
			continue
		}
		isSub := len(k.Parts) == 1 && k.Parts[0].Source == policy.FromSubscription
		if isSub == wantSub && (isSub || first == -2) {
			if isSub {
				return knob{prod.Name, i}, ""
			}
			first, firstKey = i, raw
		}
	}
	if first >= 0 {
		return knob{prod.Name, first}, firstKey
	}
	return knob{prod.Name, -1}, ""
}

func (p *verifyPlan) product(name string) *gateway.Product {
	for i := range p.cfg.Products {
		if p.cfg.Products[i].Name == name {
			return &p.cfg.Products[i]
		}
	}
	return nil
}

// original is the product a copy was made from (name itself otherwise).
func (p *verifyPlan) original(name string) string {
	if o, ok := p.origProduct[name]; ok {
		return o
	}
	return name
}

// configWith is the rerun's gateway config with each group's limit set.
func (p *verifyPlan) configWith(limits []int64) gateway.Config {
	cfg := cloneConfig(p.cfg)
	for gi, g := range p.groups {
		for _, k := range g.knobs {
			for i := range cfg.Products {
				prod := &cfg.Products[i]
				if prod.Name != k.product {
					continue
				}
				if k.limit < 0 {
					prod.TokensPerMinute = limits[gi]
				} else {
					prod.TokenLimits[k.limit].TokensPerMinute = limits[gi]
				}
			}
		}
	}
	return cfg
}

// consumer returns the index of the consumer a rerun's record belongs to,
// or -1.
func (p *verifyPlan) consumer(r *record.Record) int {
	var key string
	switch p.by {
	case analytics.ByCounterKey:
		key = cmp.Or(r.CounterKey, r.SubscriptionID)
	case analytics.BySubscription:
		key = r.SubscriptionID
	case analytics.ByProduct:
		key = p.original(r.Product)
	case analytics.ByTeam:
		key = r.Team
	case analytics.ByModel:
		key = r.Model
	}
	if i, ok := p.index[key]; ok {
		return i
	}
	return -1
}

// cloneConfig copies the parts of cfg a rerun changes or a concurrent
// run's defaults touch, so that reruns never share them.
func cloneConfig(cfg gateway.Config) gateway.Config {
	cfg.Products = slices.Clone(cfg.Products)
	for i := range cfg.Products {
		cfg.Products[i].TokenLimits = slices.Clone(cfg.Products[i].TokenLimits)
	}
	cfg.APIs = slices.Clone(cfg.APIs)
	cfg.Subscriptions = slices.Clone(cfg.Subscriptions)
	cfg.Backends = slices.Clone(cfg.Backends)
	return cfg
}

// describe says in words which limit a group's search sets.
func (g *limitGroup) describe() string {
	parts := make([]string, len(g.knobs))
	for i, k := range g.knobs {
		parts[i] = k.String()
	}
	s := strings.Join(parts, ", ")
	if g.perKey != "" {
		s += fmt.Sprintf(" (one limit for every %s key: searched on the busiest key's share)", g.perKey)
	}
	return s
}
