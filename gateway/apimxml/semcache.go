package apimxml

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aiload/aiload/gateway"
)

// The semantic cache pair: llm-semantic-cache-lookup (inbound) and
// llm-semantic-cache-store (outbound), and their azure-openai- names,
// become the gateway's semantic_cache at the scope their composition
// gives them, with the lookup's position relative to the token limits.

// cacheLookups and cacheStores are the pair's element names.
var (
	cacheLookups = []string{"llm-semantic-cache-lookup", "azure-openai-semantic-cache-lookup"}
	cacheStores  = []string{"llm-semantic-cache-store", "azure-openai-semantic-cache-store"}
)

// cacheLookup translates a lookup into the cache it asks for (without the
// store's duration and the position, which composition gives).
func (t *translator) cacheLookup(e *element) *Item {
	it := &Item{File: t.file, Pos: e.Pos, Name: e.Name}
	a := t.attrs(e, "score-threshold", "embeddings-backend-id", "embeddings-backend-auth", "ignore-system-messages", "max-message-count")
	for _, req := range []string{"score-threshold", "embeddings-backend-id"} {
		if _, ok := a[req]; !ok {
			t.errorf(e.Pos, "<%s> needs the %s attribute", e.Name, req)
		}
	}
	for _, v := range a {
		if strings.HasPrefix(strings.TrimSpace(v.Value), "@") {
			t.errorf(v.Pos, "%s on <%s>: policy expressions are not supported here", v.Name, e.Name)
			return it
		}
	}
	c := &gateway.SemanticCache{EmbeddingsBackendID: a["embeddings-backend-id"].Value, EmbeddingsBackendAuth: a["embeddings-backend-auth"].Value}
	if v, ok := a["score-threshold"]; ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(v.Value), 64)
		if err != nil {
			t.errorf(v.Pos, "score-threshold on <%s> must be a number from 0.0 to 1.0, got %q", e.Name, v.Value)
		}
		c.ScoreThreshold = &f
	}
	if v, ok := a["ignore-system-messages"]; ok {
		c.IgnoreSystemMessages = t.boolAttr(v, e)
	}
	if v, ok := a["max-message-count"]; ok {
		c.MaxMessageCount = int(t.intAttr(v, e))
	}
	for _, v := range e.Children {
		if v.Name != "vary-by" {
			t.errorf(v.Pos, "<%s> takes <vary-by> elements, not <%s>", e.Name, v.Name)
			continue
		}
		key := t.expandKey(attr{Name: "vary-by", Value: v.Text, Pos: v.Pos})
		if !strings.HasPrefix(key, "@") {
			key = counterKey(key) // a constant partitions nothing, as in API Management
		}
		c.VaryBy = append(c.VaryBy, key)
	}
	// The gateway's validation, with a stand-in duration and backend.
	probe := *c
	probe.Duration = time.Minute
	cfg := gateway.Config{Products: []gateway.Product{{Name: "p", SemanticCache: &probe}},
		Backends: []gateway.Backend{{Name: cmpOr(c.EmbeddingsBackendID, "b")}}}
	cfg.Defaults()
	t.fieldErrors(e, cfg.Validate(), "gateway.products[0].semantic_cache")
	it.Lookup = c
	return it
}

// cacheStore translates a store: its duration in seconds.
func (t *translator) cacheStore(e *element) *Item {
	it := &Item{File: t.file, Pos: e.Pos, Name: e.Name}
	t.noChildren(e)
	a := t.attrs(e, "duration")
	d, ok := a["duration"]
	if !ok {
		t.errorf(e.Pos, "<%s> needs the duration attribute (seconds)", e.Name)
		return it
	}
	if n := t.intAttr(d, e); n <= 0 {
		t.errorf(d.Pos, "duration on <%s> must be a number of seconds > 0, got %q", e.Name, d.Value)
	} else {
		it.Store = time.Duration(n) * time.Second
	}
	return it
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// cachePlace is where composition puts one lookup: its requests, the store
// they get and whether a token limit precedes it.
type cachePlace struct {
	combos []combo
	store  *Item
	after  *Item // a token limit before the lookup
	before *Item // a token limit after it
}

// placeCaches makes every lookup, with the store of the same requests, the
// semantic cache of the scope it applies to.
func (r *resolver) placeCaches(sc scopes, w where, combos []combo) {
	places := map[*Item]*cachePlace{}
	warned := map[*Item]bool{}
	var order []*Item
	for _, c := range combos {
		lookup, limits := r.onlyOne(sc.section(c, "inbound"), func(it *Item) bool { return it.Lookup != nil })
		store, _ := r.onlyOne(sc.section(c, "outbound"), func(it *Item) bool { return it.Name != "" && slices.Contains(cacheStores, it.Name) })
		if lookup == nil {
			if store != nil && store.Store > 0 && !warned[store] {
				warned[store] = true
				r.warnAt(store, "<%s> without an <llm-semantic-cache-lookup> for the same requests stores nothing (%s, …): not emulated", store.Name, describeCombo(c))
			}
			continue
		}
		p := places[lookup]
		if p == nil {
			p = &cachePlace{store: store}
			places[lookup] = p
			order = append(order, lookup)
		}
		p.combos = append(p.combos, c)
		if p.store != store {
			r.errAt(lookup, "the lookup's requests get different <llm-semantic-cache-store> policies (%s): give them one", describeCombo(c))
		}
		for _, l := range limits {
			if l.before {
				p.after = l.it
			} else {
				p.before = l.it
			}
		}
	}
	for _, lookup := range order {
		r.placeCache(lookup, places[lookup], w)
	}
}

// limitAt is a token limit of a composed section and whether it comes
// before the item onlyOne found.
type limitAt struct {
	it     *Item
	before bool
}

// onlyOne finds the one item of a composed section that match says is the
// policy (an error at the second: the policy may be used once per
// section), and the token limits around it.
func (r *resolver) onlyOne(items []*Item, match func(*Item) bool) (*Item, []limitAt) {
	var found *Item
	var limits []limitAt
	for _, it := range items {
		switch {
		case it.Limit != nil:
			limits = append(limits, limitAt{it: it, before: found == nil})
		case match(it) && found != nil && found != it:
			r.errAt(it, "a second <%s> for the same requests (the first is at %s:%d:%d): the policy may be used once per section", it.Name, found.File, found.Line, found.Column)
		case match(it):
			found = it
		}
	}
	return found, limits
}

// placeCache adds the semantic cache of one lookup at its scope.
func (r *resolver) placeCache(lookup *Item, p *cachePlace, w where) {
	if p.store == nil || p.store.Store <= 0 {
		r.warnAt(lookup, "<%s> without an <llm-semantic-cache-store> in outbound for the same requests never finds an answer: not emulated, no lookup is made", lookup.Name)
		return
	}
	if p.after != nil && p.before != nil {
		r.errAt(lookup, "the lookup sits between the token limits at %s:%d:%d and %s:%d:%d: aiload places a lookup before every token limit or after all of them",
			p.after.File, p.after.Line, p.after.Column, p.before.File, p.before.Line, p.before.Column)
		return
	}
	c := *lookup.Lookup
	c.Duration = p.store.Store
	if p.after != nil {
		c.Position = gateway.CacheAfterLimit
	}
	r.embeddingsBackend(lookup, &c)
	s := w.classify(p.combos)
	switch s.kind {
	case "all":
		for _, a := range apis {
			r.setCache(lookup, &apiFor(r.cfg, a).SemanticCache, c)
		}
	case "product":
		r.setCache(lookup, &r.cfg.Products[productIndex(r.cfg, s.product)].SemanticCache, c)
	case "api":
		r.setCache(lookup, &apiFor(r.cfg, s.api).SemanticCache, c)
	case "operation":
		api := apiFor(r.cfg, s.api)
		i := slices.IndexFunc(api.Operations, func(o gateway.APIOperation) bool { return o.Name == s.op })
		if i < 0 {
			api.Operations = append(api.Operations, gateway.APIOperation{Name: s.op})
			i = len(api.Operations) - 1
		}
		r.setCache(lookup, &api.Operations[i].SemanticCache, c)
	default:
		products, ok := wholeProducts(p.combos)
		if !ok {
			r.errAt(lookup, "<%s> applies to %s: aiload places a semantic cache per product, API, operation or for all requests; add <base/> where a scope leaves it out", lookup.Name, s.describe())
			return
		}
		for _, name := range products {
			r.setCache(lookup, &r.cfg.Products[productIndex(r.cfg, name)].SemanticCache, c)
		}
	}
}

// wholeProducts names the products whose every request is among cs, when
// cs is exactly those (subscriptions without a product excluded).
func wholeProducts(cs []combo) ([]string, bool) {
	n := map[string]int{}
	var names []string
	for _, c := range cs {
		if c.product == "" {
			return nil, false
		}
		if n[c.product] == 0 {
			names = append(names, c.product)
		}
		n[c.product]++
	}
	for _, name := range names {
		if n[name] != len(apis)*len(gateway.Operations) {
			return nil, false
		}
	}
	return names, true
}

func (r *resolver) setCache(lookup *Item, at **gateway.SemanticCache, c gateway.SemanticCache) {
	if *at != nil && !cacheEqual(**at, c) {
		r.errAt(lookup, "semantic_cache in the config and <%s> for the same scope: keep one", lookup.Name)
		return
	}
	*at = &c
}

func cacheEqual(a, b gateway.SemanticCache) bool {
	at, bt := a.ScoreThreshold, b.ScoreThreshold
	a.ScoreThreshold, b.ScoreThreshold = nil, nil
	return fmt.Sprint(a) == fmt.Sprint(b) && (at == nil) == (bt == nil) && (at == nil || *at == *bt)
}

// embeddingsRoute matches a backend URL that is an embeddings deployment's
// route, as API Management's embeddings backends are written.
var embeddingsRoute = regexp.MustCompile(`^(.*?)/openai/deployments/([^/?]+)/embeddings/?(?:\?.*)?$`)

// embeddingsBackend makes the lookup's embeddings backend one of the
// gateway's: a URL naming the embeddings route gives the deployment, and a
// backend the pool left out comes back after every pool member, serving
// the embeddings deployment only.
func (r *resolver) embeddingsBackend(lookup *Item, c *gateway.SemanticCache) {
	find := func(list []gateway.Backend) int {
		return slices.IndexFunc(list, func(b gateway.Backend) bool { return b.Name == c.EmbeddingsBackendID })
	}
	i := find(r.cfg.Backends)
	if i < 0 {
		j := find(r.allBackends)
		if j < 0 {
			r.errAt(lookup, "embeddings-backend-id %q names no backend of the backends file or the config", c.EmbeddingsBackendID)
			return
		}
		b := r.allBackends[j]
		last := 1
		for _, m := range r.cfg.Backends {
			last = max(last, m.Priority)
		}
		b.Priority = last + 1
		r.cfg.Backends = append(r.cfg.Backends, b)
		i = len(r.cfg.Backends) - 1
		defer func() {
			if b := &r.cfg.Backends[i]; len(b.Deployments) == 0 {
				b.Deployments = []string{cmpOr(c.EmbeddingsDeployment, gateway.DefaultEmbeddingsDeployment)}
			}
		}()
	}
	b := &r.cfg.Backends[i]
	if m := embeddingsRoute.FindStringSubmatch(b.URL); m != nil {
		b.URL, c.EmbeddingsDeployment = m[1], m[2]
	}
}

func (r *resolver) errAt(it *Item, format string, a ...any) {
	r.errs = append(r.errs, &Error{File: it.File, Pos: it.Pos, Msg: fmt.Sprintf(format, a...)})
}

func (r *resolver) warnAt(it *Item, format string, a ...any) {
	r.warnings = append(r.warnings, Warning{File: it.File, Pos: it.Pos, Msg: fmt.Sprintf(format, a...)})
}

func describeCombo(c combo) string {
	p := "subscriptions without a product"
	if c.product != "" {
		p = "product " + c.product
	}
	return fmt.Sprintf("%s, API %s, operation %s", p, c.api, c.op)
}
