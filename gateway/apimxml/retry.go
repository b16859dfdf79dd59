package apimxml

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/aiload/aiload/gateway"
)

// retry translates <retry> of the backend section into the gateway's
// Retry: its condition becomes the statuses it is true for, interval,
// max-interval and delta are seconds. The statements inside must be
// forward-request (sent to the pool again on each try).
func (t *translator) retry(e *element) *gateway.Retry {
	a := t.attrs(e, "condition", "count", "interval", "max-interval", "delta", "first-fast-retry")
	for _, name := range []string{"condition", "count", "interval"} {
		if _, ok := a[name]; !ok {
			t.errorf(e.Pos, "<retry> needs %s", name)
		}
	}
	r := &gateway.Retry{}
	if c, ok := a["count"]; ok {
		if r.Count = int(t.intAttr(c, e)); r.Count < 1 || r.Count > 50 {
			t.errorf(c.Pos, "<retry> count must be within [1, 50], got %d", r.Count)
		}
	}
	secs := func(name string) time.Duration {
		if v, ok := a[name]; ok {
			return time.Duration(t.intAttr(v, e)) * time.Second
		}
		return 0
	}
	r.Interval, r.MaxInterval, r.Delta = secs("interval"), secs("max-interval"), secs("delta")
	if v, ok := a["first-fast-retry"]; ok {
		r.FirstFastRetry = t.boolAttr(v, e)
	}
	if c, ok := a["condition"]; ok {
		codes, err := retryStatuses(c.Value)
		if err != nil {
			t.errorf(c.Pos, "<retry> condition: %v", err)
		}
		r.StatusCodes = codes
	}
	for _, ch := range e.Children {
		if ch.Name != "forward-request" {
			t.warnf(ch.Pos, "<%s> inside <retry> is not emulated: each try forwards the request to the pool", ch.Name)
		}
	}
	return r
}

// retryStatuses evaluates a retry condition, an expression over
// context.Response.StatusCode (== != < <= > >= with whole numbers, && || !
// and parentheses; context.Response.StatusReason.Contains("…") is false, as
// no backend's reason phrase names the gateway's pool), for every status
// from 100 to 599 and returns those it holds for as ranges ("429",
// "500-599").
func retryStatuses(cond string) ([]string, error) {
	src := strings.TrimSpace(cond)
	inner, ok := strings.CutPrefix(src, "@(")
	if !ok || !strings.HasSuffix(inner, ")") {
		return nil, fmt.Errorf("want a policy expression @(…) over context.Response.StatusCode, got %q", cond)
	}
	p := &condParser{src: inner[:len(inner)-1]}
	expr, err := p.parse()
	if err != nil {
		return nil, err
	}
	var out []string
	for lo := 100; lo <= 599; lo++ {
		if !expr(lo) {
			continue
		}
		hi := lo
		for hi+1 <= 599 && expr(hi+1) {
			hi++
		}
		if lo == hi {
			out = append(out, strconv.Itoa(lo))
		} else {
			out = append(out, fmt.Sprintf("%d-%d", lo, hi))
		}
		lo = hi
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%q holds for no status: nothing would be retried", cond)
	}
	return out, nil
}

// condParser parses a retry condition into a predicate on the status.
type condParser struct {
	src string
	pos int
}

type pred func(status int) bool

func (p *condParser) parse() (pred, error) {
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.skip(); p.pos < len(p.src) {
		return nil, fmt.Errorf("unexpected %q in the condition", p.src[p.pos:])
	}
	return e, nil
}

func (p *condParser) skip() {
	for p.pos < len(p.src) && unicode.IsSpace(rune(p.src[p.pos])) {
		p.pos++
	}
}

// eat consumes tok when it comes next.
func (p *condParser) eat(tok string) bool {
	p.skip()
	if strings.HasPrefix(p.src[p.pos:], tok) {
		p.pos += len(tok)
		return true
	}
	return false
}

func (p *condParser) or() (pred, error) {
	l, err := p.and()
	for err == nil && p.eat("||") {
		var r pred
		if r, err = p.and(); err == nil {
			l0 := l
			l = func(s int) bool { return l0(s) || r(s) }
		}
	}
	return l, err
}

func (p *condParser) and() (pred, error) {
	l, err := p.unary()
	for err == nil && p.eat("&&") {
		var r pred
		if r, err = p.unary(); err == nil {
			l0 := l
			l = func(s int) bool { return l0(s) && r(s) }
		}
	}
	return l, err
}

func (p *condParser) unary() (pred, error) {
	if p.skip(); strings.HasPrefix(p.src[p.pos:], "!") && !strings.HasPrefix(p.src[p.pos:], "!=") {
		p.pos++
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		return func(s int) bool { return !e(s) }, nil
	}
	if p.eat("(") {
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.eat(")") {
			return nil, fmt.Errorf("missing ) in the condition")
		}
		return e, nil
	}
	return p.comparison()
}

// comparison is context.Response.StatusCode OP number, a StatusReason
// test, or true/false.
func (p *condParser) comparison() (pred, error) {
	switch {
	case p.eat("true"):
		return func(int) bool { return true }, nil
	case p.eat("false"):
		return func(int) bool { return false }, nil
	case p.eat("context.Response.StatusReason.Contains("):
		if err := p.stringArg(); err != nil {
			return nil, err
		}
		return func(int) bool { return false }, nil
	case !p.eat("context.Response.StatusCode"):
		p.skip()
		return nil, fmt.Errorf("unsupported expression at %q: the condition may test context.Response.StatusCode (and StatusReason.Contains)", p.src[p.pos:])
	}
	for _, op := range []string{"==", "!=", ">=", "<=", ">", "<"} {
		if !p.eat(op) {
			continue
		}
		p.skip()
		start := p.pos
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
		}
		n, err := strconv.Atoi(p.src[start:p.pos])
		if err != nil {
			return nil, fmt.Errorf("want a status number after %s, got %q", op, p.src[start:])
		}
		return map[string]pred{
			"==": func(s int) bool { return s == n }, "!=": func(s int) bool { return s != n },
			">=": func(s int) bool { return s >= n }, "<=": func(s int) bool { return s <= n },
			">": func(s int) bool { return s > n }, "<": func(s int) bool { return s < n },
		}[op], nil
	}
	return nil, fmt.Errorf("want a comparison (== != < <= > >=) after context.Response.StatusCode")
}

// stringArg reads a quoted string argument and the closing parenthesis.
func (p *condParser) stringArg() error {
	p.skip()
	if p.pos >= len(p.src) || p.src[p.pos] != '"' {
		return fmt.Errorf("want a quoted string in StatusReason.Contains(…)")
	}
	end := strings.IndexByte(p.src[p.pos+1:], '"')
	if end < 0 {
		return fmt.Errorf("unterminated string in the condition")
	}
	p.pos += end + 2
	if !p.eat(")") {
		return fmt.Errorf("missing ) after StatusReason.Contains's argument")
	}
	return nil
}

// placeRetry takes the <retry> the composed backend sections give every
// request into the config; a <retry> that applies to some requests only is
// an error, as the gateway has one retry policy.
func (r *resolver) placeRetry(sc scopes) {
	products := []string{""}
	for _, p := range r.cfg.Products {
		products = append(products, p.Name)
	}
	active := map[*Item][]combo{}
	var order []*Item
	n := 0
	for _, p := range products {
		for _, a := range apis {
			for _, o := range gateway.Operations {
				n++
				for _, it := range sc.section(combo{p, a, o}, "backend") {
					if it.Retry == nil {
						continue
					}
					if _, seen := active[it]; !seen {
						order = append(order, it)
					}
					active[it] = append(active[it], combo{p, a, o})
				}
			}
		}
	}
	w := where{products: products, combos: n}
	for _, it := range order {
		switch scope := w.classify(active[it]); {
		case scope.kind != "all":
			r.errs = append(r.errs, &Error{File: it.File, Pos: it.Pos, Msg: fmt.Sprintf(
				"<retry> applies here to %s only; aiload has one retry policy for every request: give it in the global policy, or in every scope through <base/>", scope.describe())})
		case r.cfg.Retry != nil:
			r.errs = append(r.errs, &Error{File: it.File, Pos: it.Pos, Msg: "a second retry policy for the same requests (another <retry>, or retry: in the config): aiload takes one"})
		default:
			r.cfg.Retry = it.Retry
		}
	}
}
