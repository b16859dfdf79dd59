package apimxml

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/aiload/aiload/gateway"
)

// apis are the APIs the gateway serves: API Management's API scope.
var apis = []string{"openai", "azure-openai"}

// scopes are the documents of cfg.APIM, read and translated.
type scopes struct {
	global     *Document
	products   map[string]*Document
	apis       map[string]*Document
	operations map[string]*Document // by "api/operation"
}

// combo is one request kind: a subscription's product ("" for none), an
// API and an operation. Its policy is the operation's document, whose
// <base/> is the API's, whose <base/> is the product's, whose <base/> is
// the global one, as API Management composes scopes.
type combo struct{ product, api, op string }

// Resolve translates the policy documents and backends cfg.APIM names into
// cfg: token limits at the scope their composition gives them, validate-jwt,
// emit-token-metric and set-backend-service where every request gets them,
// backends and pools from the ARM JSON. Every problem comes back joined,
// at file:line:column; warnings list what the gateway does not emulate.
func Resolve(cfg *gateway.Config) ([]Warning, error) {
	src := cfg.APIM
	if src == nil || src.Translated {
		return nil, nil
	}
	r := &resolver{cfg: cfg, value: NamedValues(src.NamedValues)}
	sc := scopes{products: map[string]*Document{}, apis: map[string]*Document{}, operations: map[string]*Document{}}
	if src.Global != "" {
		sc.global = r.read(src.Global)
	}
	for _, name := range sortedKeys(src.Products) {
		sc.products[name] = r.read(src.Products[name])
		if productIndex(cfg, name) < 0 {
			cfg.Products = append(cfg.Products, gateway.Product{Name: name})
		}
	}
	for _, name := range sortedKeys(src.APIs) {
		if !slices.Contains(apis, name) {
			r.errs = append(r.errs, fmt.Errorf("apim.apis: API must be openai or azure-openai, got %q", name))
			continue
		}
		sc.apis[name] = r.read(src.APIs[name])
	}
	for _, name := range sortedKeys(src.Operations) {
		api, op, _ := strings.Cut(name, "/")
		if !slices.Contains(apis, api) || !slices.Contains(gateway.Operations, op) {
			r.errs = append(r.errs, fmt.Errorf("apim.operations: %q must be API/operation with API openai or azure-openai and operation one of %s",
				name, strings.Join(gateway.Operations, ", ")))
			continue
		}
		sc.operations[name] = r.read(src.Operations[name])
	}
	if src.Backends != "" {
		r.backends(r.path(src.Backends))
	}
	if len(r.errs) == 0 {
		r.apply(sc)
		r.placeRetry(sc)
	}
	src.Translated = true
	if cfg.Wire == "" {
		cfg.Wire = gateway.WireAPIM // policy documents: answers as API Management sends them
	}
	if len(r.errs) > 0 {
		return r.warnings, errors.Join(r.errs...)
	}
	return r.warnings, nil
}

// resolver collects what Resolve reads and its problems.
type resolver struct {
	cfg       *gateway.Config
	value     func(string) (string, bool)
	errs      []error
	warnings  []Warning
	backend   string // what a global set-backend-service names
	backendAt *Item
	pools     map[string][]poolMember // from the backends file
	vars      map[string]string       // set-variable definitions of every document
	// allBackends are the config's and the file's backends before a pool
	// chose its members (the semantic cache's embeddings backend may be
	// outside the pool).
	allBackends []gateway.Backend
}

func (r *resolver) path(p string) string {
	if filepath.IsAbs(p) || r.cfg.APIM.Dir == "" {
		return p
	}
	return filepath.Join(r.cfg.APIM.Dir, p)
}

// read reads and translates one document (nil when it cannot be read).
func (r *resolver) read(p string) *Document {
	p = r.path(p)
	src, err := os.ReadFile(p)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("read policy document: %w", err))
		return nil
	}
	if r.vars == nil {
		r.vars = map[string]string{}
	}
	t, err := translate(p, src, r.value, r.vars)
	if err != nil {
		r.errs = append(r.errs, err)
		return nil
	}
	r.warnings = append(r.warnings, t.warnings...)
	r.errs = append(r.errs, t.errs...)
	return &t.doc
}

// section is the composed section of c: the operation's statements with
// each <base/> replaced by the enclosing scope's.
func (sc scopes) section(c combo, name string) []*Item {
	chain := []*Document{sc.operations[c.api+"/"+c.op], sc.apis[c.api], sc.products[c.product], sc.global}
	var expand func(level int) []*Item
	expand = func(level int) []*Item {
		if level == len(chain) {
			return nil
		}
		doc := chain[level]
		if doc == nil {
			return expand(level + 1) // no document: as <base/> alone
		}
		items, ok := doc.Sections[name]
		if !ok {
			return expand(level + 1)
		}
		var out []*Item
		for _, it := range items {
			if it.Base {
				out = append(out, expand(level+1)...)
				continue
			}
			out = append(out, it)
		}
		return out
	}
	return expand(0)
}

// apply places every translated statement where the composition of the
// scopes makes it apply.
func (r *resolver) apply(sc scopes) {
	products := []string{""}
	for _, p := range r.cfg.Products {
		products = append(products, p.Name)
	}
	var combos []combo
	active := map[*Item][]combo{}
	var order []*Item
	for _, p := range products {
		for _, a := range apis {
			for _, o := range gateway.Operations {
				c := combo{p, a, o}
				combos = append(combos, c)
				for _, it := range append(sc.section(c, "inbound"), sc.section(c, "outbound")...) {
					if _, seen := active[it]; !seen {
						order = append(order, it)
					}
					active[it] = append(active[it], c)
				}
			}
		}
	}
	w := where{products: products, combos: len(combos)}
	r.headers(order, active)
	var jwt, emit, mi *Item
	for _, it := range order {
		if it.Stmt != nil {
			r.placeStmt(it, w, active[it])
			continue
		}
		if it.Limit == nil && it.JWT == nil && it.Emit == nil && it.BackendID == "" && it.Check == nil && it.MI == nil && it.Rates == nil && it.Quotas == nil {
			continue // set-variable, or an outbound set-header done above
		}
		scope := w.classify(active[it])
		if it.Limit != nil {
			r.placeLimit(it, scope)
			continue
		}
		if (it.Rates != nil || it.Quotas != nil) && scope.kind != "mixed" {
			r.placeCalls(it, scope)
			continue
		}
		if scope.kind != "all" {
			r.errs = append(r.errs, &Error{File: it.File, Pos: it.Pos, Msg: fmt.Sprintf(
				"<%s> applies here to %s only; aiload applies it to every request: give it in the global policy, or in every scope through <base/>", it.Name, scope.describe())})
			continue
		}
		switch {
		case it.JWT != nil && jwt != nil:
			r.errs = append(r.errs, &Error{File: it.File, Pos: it.Pos, Msg: fmt.Sprintf("a second <%s> applies to the same requests (the first is at %s:%d:%d): aiload takes one", it.Name, jwt.File, jwt.Line, jwt.Column)})
		case it.JWT != nil:
			jwt = it
			r.setJWT(it)
		case it.Emit != nil && emit != nil:
			r.errs = append(r.errs, &Error{File: it.File, Pos: it.Pos, Msg: fmt.Sprintf("a second <%s> applies to the same requests (the first is at %s:%d:%d): aiload takes one", it.Name, emit.File, emit.Line, emit.Column)})
		case it.Emit != nil:
			emit = it
			r.setEmit(it)
		case it.BackendID != "":
			r.setBackendID(it)
		case it.Check != nil:
			r.cfg.CheckHeaders = append(r.cfg.CheckHeaders, *it.Check)
		case it.MI != nil:
			mi = it
		}
	}
	if mi != nil { // once the pool is known
		r.useManagedIdentity(mi)
	}
	r.placeCaches(sc, w, combos)
	r.orderWarnings(sc, combos)
}

func (r *resolver) setJWT(it *Item) {
	if r.cfg.JWT != nil {
		r.errs = append(r.errs, &Error{File: it.File, Pos: it.Pos, Msg: "validate-jwt here and jwt: in the config: keep one"})
		return
	}
	r.cfg.JWT = it.JWT
}

func (r *resolver) setEmit(it *Item) {
	if r.cfg.EmitTokenMetric != nil {
		r.errs = append(r.errs, &Error{File: it.File, Pos: it.Pos, Msg: "emit-token-metric here and emit_token_metric: in the config: keep one"})
		return
	}
	r.cfg.EmitTokenMetric = it.Emit
}

func (r *resolver) setBackendID(it *Item) {
	if r.backendAt != nil && r.backend != it.BackendID {
		r.errs = append(r.errs, &Error{File: it.File, Pos: it.Pos, Msg: fmt.Sprintf("set-backend-service names %q where %s:%d:%d named %q for the same requests: aiload routes every request to one pool",
			it.BackendID, r.backendAt.File, r.backendAt.Line, r.backendAt.Column, r.backend)})
		return
	}
	r.backend, r.backendAt = it.BackendID, it
	if members, ok := r.pools[it.BackendID]; ok {
		r.usePool(members)
		return
	}
	w, err := setBackend(r.cfg, Policy{File: it.File, BackendID: it.BackendID, BackendAt: it.Pos}, true)
	r.warnings = append(r.warnings, w...)
	if err != nil {
		r.errs = append(r.errs, err)
	}
}

// headers makes each outbound set-header that sends a token limit's
// variable that limit's header, where both apply to the same requests.
func (r *resolver) headers(order []*Item, active map[*Item][]combo) {
	for _, h := range order {
		if h.Header == nil {
			continue
		}
		var found, placed bool
		var other *Item
		for _, l := range order {
			kind, ok := varKind(l.Vars, h.Header.Variable)
			if l.Limit == nil || !ok {
				continue
			}
			found = true
			if !slices.Equal(active[l], active[h]) {
				other = l
				continue // the same variable of a limit of other requests
			}
			placed = true
			switch kind {
			case "remaining-tokens":
				l.Limit.RemainingTokensHeaderName = h.Header.Name
			case "remaining-quota-tokens":
				l.Limit.RemainingQuotaTokensHeaderName = h.Header.Name
			case "tokens-consumed":
				l.Limit.TokensConsumedHeaderName = h.Header.Name
			default:
				r.errs = append(r.errs, &Error{File: h.File, Pos: h.Pos, Msg: fmt.Sprintf(
					"variable %q is set when the limit refuses a request, whose answer skips outbound: use retry-after-header-name", h.Header.Variable)})
			}
		}
		if found && !placed {
			r.errs = append(r.errs, &Error{File: h.File, Pos: h.Pos, Msg: fmt.Sprintf(
				"<set-header> sends variable %q to other requests than the token limit at %s:%d:%d sets it for: give both the same scopes", h.Header.Variable, other.File, other.Line, other.Column)})
		}
		if !found {
			r.errs = append(r.errs, &Error{File: h.File, Pos: h.Pos, Msg: fmt.Sprintf(
				"<set-header> sends variable %q, which no token limit's *-variable-name sets for these requests", h.Header.Variable)})
		}
	}
}

// varKind is the kind of the token-limit variable called name.
func varKind(vars map[string]string, name string) (string, bool) {
	for kind, v := range vars {
		if v == name {
			return kind, true
		}
	}
	return "", false
}

// usePool keeps the pool's members as the gateway's backends, with the
// pool's priorities and weights.
func (r *resolver) usePool(members []poolMember) {
	var out []gateway.Backend
	r.allBackends = r.cfg.Backends
	for _, m := range members {
		i := slices.IndexFunc(r.cfg.Backends, func(b gateway.Backend) bool { return b.Name == m.name })
		if i < 0 {
			continue // reported with the backends file
		}
		b := r.cfg.Backends[i]
		b.Priority, b.Weight = m.priority, m.weight
		out = append(out, b)
	}
	r.cfg.Backends = out
}

// placeLimit adds a token limit to the config at its scope.
func (r *resolver) placeLimit(it *Item, s scope) {
	l := *it.Limit
	switch s.kind {
	case "all":
		for _, a := range apis {
			api := apiFor(r.cfg, a)
			api.TokenLimits = append(api.TokenLimits, l)
		}
	case "product":
		i := productIndex(r.cfg, s.product)
		r.cfg.Products[i].TokenLimits = append(r.cfg.Products[i].TokenLimits, l)
	case "api":
		api := apiFor(r.cfg, s.api)
		api.TokenLimits = append(api.TokenLimits, l)
	case "operation":
		api := apiFor(r.cfg, s.api)
		i := slices.IndexFunc(api.Operations, func(o gateway.APIOperation) bool { return o.Name == s.op })
		if i < 0 {
			api.Operations = append(api.Operations, gateway.APIOperation{Name: s.op})
			i = len(api.Operations) - 1
		}
		api.Operations[i].TokenLimits = append(api.Operations[i].TokenLimits, l)
	default:
		r.errs = append(r.errs, &Error{File: it.File, Pos: it.Pos, Msg: fmt.Sprintf(
			"<%s> applies to %s: aiload applies token limits per product, API, operation or to all requests; add <base/> where a scope leaves it out", it.Name, s.describe())})
	}
}

// where knows the request kinds a composition was computed over.
type where struct {
	products []string
	combos   int
}

// scope is where a statement applies: all, product, api, operation, or
// "mixed" (no single scope).
type scope struct {
	kind, product, api, op string
	n, of                  int
}

func (s scope) describe() string {
	switch s.kind {
	case "product":
		return fmt.Sprintf("the subscriptions of product %s", s.product)
	case "api":
		return "API " + s.api
	case "operation":
		return fmt.Sprintf("operation %s of API %s", s.op, s.api)
	}
	return fmt.Sprintf("%d of the %d kinds of request (product × API × operation)", s.n, s.of)
}

// classify names the scope a set of request kinds is.
func (w where) classify(cs []combo) scope {
	if len(cs) == w.combos {
		return scope{kind: "all"}
	}
	same := func(f func(combo) string) bool {
		for _, c := range cs[1:] {
			if f(c) != f(cs[0]) {
				return false
			}
		}
		return true
	}
	perAPI := len(apis) * len(gateway.Operations)
	c := cs[0]
	switch {
	case same(func(c combo) string { return c.product }) && c.product != "" && len(cs) == perAPI:
		return scope{kind: "product", product: c.product}
	case same(func(c combo) string { return c.api }) && len(cs) == len(w.products)*len(gateway.Operations):
		return scope{kind: "api", api: c.api}
	case same(func(c combo) string { return c.api + "/" + c.op }) && len(cs) == len(w.products):
		return scope{kind: "operation", api: c.api, op: c.op}
	}
	return scope{kind: "mixed", n: len(cs), of: w.combos}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
