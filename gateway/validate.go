package gateway

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/aiload/aiload/gateway/mockllm"
)

// FieldError is a validation error at a field path such as
// "gateway.subscriptions[1].product".
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

type problems []error

func (p *problems) add(path, format string, a ...any) {
	*p = append(*p, &FieldError{Path: path, Msg: fmt.Sprintf(format, a...)})
}

// Validate checks the configuration (after Defaults) and returns every
// problem found, joined; each is a *FieldError.
func (c *Config) Validate() error {
	var errs problems
	products := map[string]bool{}
	for i, p := range c.Products {
		path := fmt.Sprintf("gateway.products[%d]", i)
		switch {
		case p.Name == "":
			errs.add(path+".name", "must be set")
		case products[p.Name]:
			errs.add(path+".name", "duplicate product %q", p.Name)
		}
		products[p.Name] = true
		if p.TokensPerMinute < 0 {
			errs.add(path+".tokens_per_minute", "must be >= 0, got %d", p.TokensPerMinute)
		}
		for j, l := range p.TokenLimits {
			l.validate(&errs, fmt.Sprintf("%s.token_limits[%d]", path, j))
		}
	}
	for i, a := range c.APIs {
		path := fmt.Sprintf("gateway.apis[%d]", i)
		if a.Name != apiOpenAI && a.Name != apiAzure {
			errs.add(path+".name", "must be %s or %s, got %q", apiOpenAI, apiAzure, a.Name)
		}
		for j, l := range a.TokenLimits {
			l.validate(&errs, fmt.Sprintf("%s.token_limits[%d]", path, j))
		}
		for j, o := range a.Operations {
			opath := fmt.Sprintf("%s.operations[%d]", path, j)
			if !slices.Contains(Operations, o.Name) {
				errs.add(opath+".name", "must be one of %s, got %q", strings.Join(Operations, ", "), o.Name)
			}
			for k, l := range o.TokenLimits {
				l.validate(&errs, fmt.Sprintf("%s.token_limits[%d]", opath, k))
			}
		}
	}
	if c.APIM != nil {
		for name := range c.APIM.Products { // a product may be defined by its policy document alone
			products[name] = true
		}
	}
	c.validateSubscriptions(&errs, products)
	names := map[string]bool{}
	for i := range c.Backends {
		path := fmt.Sprintf("gateway.backends[%d]", i)
		c.Backends[i].validate(&errs, path)
		if names[c.Backends[i].Name] {
			errs.add(path+".name", "duplicate backend %q", c.Backends[i].Name)
		}
		names[c.Backends[i].Name] = true
	}
	c.validateCaches(&errs, names)
	for _, sec := range []struct {
		list     []Statement
		path     string
		outbound bool
	}{{c.Inbound, "gateway.inbound", false}, {c.Outbound, "gateway.outbound", true}} {
		if _, err := compileStatements(sec.list, sec.path, sec.outbound); err != nil {
			errs = append(errs, err.(interface{ Unwrap() []error }).Unwrap()...)
		}
	}
	if c.EmitTokenMetric != nil {
		for i, d := range c.EmitTokenMetric.Dimensions {
			if _, err := compileDimension(d); err != nil {
				errs.add(fmt.Sprintf("gateway.emit_token_metric.dimensions[%d]", i), "%v", err)
			}
		}
	}
	for i, r := range c.RateLimits {
		r.validate(&errs, fmt.Sprintf("gateway.rate_limits[%d]", i))
		if r.Product != "" && !products[r.Product] {
			errs.add(fmt.Sprintf("gateway.rate_limits[%d].product", i), "unknown product %q", r.Product)
		}
	}
	for i, q := range c.Quotas {
		q.validate(&errs, fmt.Sprintf("gateway.quotas[%d]", i))
		if q.Product != "" && !products[q.Product] {
			errs.add(fmt.Sprintf("gateway.quotas[%d].product", i), "unknown product %q", q.Product)
		}
	}
	for i, h := range c.CheckHeaders {
		h.validate(&errs, fmt.Sprintf("gateway.check_headers[%d]", i))
	}
	if c.Metrics != nil && c.Metrics.MaxLabelValues < 0 {
		errs.add("gateway.metrics.max_label_values", "must be >= 0 (0: the default, 100), got %d", c.Metrics.MaxLabelValues)
	}
	if c.OTLP != nil {
		for _, p := range c.OTLP.Validate() {
			errs.add("gateway.otlp."+p.Field, "%s", p.Msg)
		}
	}
	if c.SemanticCache != nil {
		c.SemanticCache.validate(&errs, "gateway.semantic_cache")
	}
	if c.JWT != nil {
		c.JWT.validate(&errs, "gateway.jwt")
	}
	if c.Identity != nil && c.Identity.Endpoint != "" {
		if u, err := url.Parse(c.Identity.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs.add("gateway.identity.endpoint", "must be an absolute http(s) URL, got %q", c.Identity.Endpoint)
		}
	}
	if c.TrustedProxyHops < 0 {
		errs.add("gateway.trusted_proxy_hops", "must be >= 0, got %d", c.TrustedProxyHops)
	}
	if c.Retry != nil {
		c.Retry.validate(&errs, "gateway.retry")
	}
	if c.Wire != "" && c.Wire != WireOpenAI && c.Wire != WireAPIM {
		errs.add("gateway.wire", "must be %s or %s, got %q", WireOpenAI, WireAPIM, c.Wire)
	}
	return errors.Join(errs...)
}

func (c *Config) validateSubscriptions(errs *problems, products map[string]bool) {
	ids, keys := map[string]bool{}, map[string]bool{}
	for i, s := range c.Subscriptions {
		path := fmt.Sprintf("gateway.subscriptions[%d]", i)
		if s.ID == "" {
			errs.add(path+".id", "must be set")
		} else if ids[s.ID] {
			errs.add(path+".id", "duplicate subscription %q", s.ID)
		}
		ids[s.ID] = true
		for field, k := range map[string]string{"key": s.Key, "secondary_key": s.SecondaryKey} {
			switch {
			case k == "" && field == "key":
				errs.add(path+".key", "must be set")
			case k != "" && keys[k]:
				errs.add(path+"."+field, "same key as another subscription key")
			}
			if k != "" {
				keys[k] = true
			}
		}
		if s.Product != "" && !products[s.Product] { // no product: only the APIs' limits apply
			errs.add(path+".product", "unknown product %q", s.Product)
		}
	}
}

func (l TokenLimit) validate(errs *problems, path string) {
	if _, err := compileLimit(l); err != nil {
		errs.addUnder(path, err)
	}
}

// addUnder adds joined *FieldErrors with paths relative to path.
func (p *problems) addUnder(path string, err error) {
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *FieldError
		if errors.As(e, &fe) {
			p.add(path+"."+fe.Path, "%s", fe.Msg)
		} else {
			p.add(path, "%v", e)
		}
	}
}

func (b Backend) validate(errs *problems, path string) {
	if b.URL != "" {
		if u, err := url.Parse(b.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs.add(path+".url", "must be an absolute http(s) URL, got %q", b.URL)
		}
	}
	if b.Tier != "ptu" && b.Tier != "payg" {
		errs.add(path+".tier", "must be ptu or payg, got %q", b.Tier)
	}
	b.validateAuth(errs, path)
	if b.Priority < 1 {
		errs.add(path+".priority", "must be >= 1 (1 is the highest), got %d", b.Priority)
	}
	if b.Weight < 1 {
		errs.add(path+".weight", "must be >= 1, got %d", b.Weight)
	}
	if b.Mock != nil {
		if err := b.Mock.Validate(); err != nil {
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var fe *mockllm.FieldError
				if errors.As(e, &fe) {
					errs.add(path+".mock."+fe.Field, "%s", fe.Msg)
				}
			}
		}
	}
	if cb := b.CircuitBreaker; cb != nil {
		if _, err := compileBreaker(cb); err != nil {
			errs.addUnder(path+".circuit_breaker", err)
		}
	}
}

// parseStatusRange parses "429" or "500-599".
func parseStatusRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(strings.TrimSpace(s), "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := lo, error(nil)
	if isRange {
		hi, err2 = strconv.Atoi(strings.TrimSpace(b))
	}
	if err1 != nil || err2 != nil || lo < 100 || hi > 599 || lo > hi {
		return 0, 0, fmt.Errorf("invalid status range %q (want e.g. 429 or 500-599)", s)
	}
	return lo, hi, nil
}
