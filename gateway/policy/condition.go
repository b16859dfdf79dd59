package policy

import (
	"fmt"
	"regexp"
	"strings"
)

// Condition is a parsed Boolean policy expression (choose/when's
// condition): a function of the request's facts.
type Condition struct {
	eval func(Facts) bool
	// src is the expression as written.
	src string
}

// Eval reports whether the condition holds for a request; the zero
// Condition always holds.
func (c Condition) Eval(f Facts) bool { return c.eval == nil || c.eval(f) }

// String is the expression as written.
func (c Condition) String() string { return c.src }

// ParseCondition parses a Boolean policy expression, @(…) or a constant
// (true, false). Its forms, combined with &&, ||, ! and parentheses:
//
//	a == b, a != b                     a and b: string values (as counter keys take them)
//	a.Equals("x"[, StringComparison.OrdinalIgnoreCase])
//	a.StartsWith("x"), a.EndsWith("x"), a.Contains("x")
//	String.IsNullOrEmpty(a)
//	context.Request.Headers.ContainsKey("name")
//	true, false, "true", "false"
//
// where a string value is any counter-key term (context.Subscription.Name,
// context.Product.Name, context.Request.Headers.GetValueOrDefault(…), a
// JWT claim, …) or a "+"-concatenation of them and literals. Anything else
// is an error naming the part.
func ParseCondition(s string) (Condition, error) {
	src := strings.TrimSpace(s)
	body := src
	if strings.HasPrefix(body, "@") {
		inner, ok := strings.CutPrefix(body, "@(")
		if !ok || !strings.HasSuffix(inner, ")") {
			return Condition{}, fmt.Errorf("condition %q: only single @(...) expressions are supported", src)
		}
		body = strings.TrimSuffix(inner, ")")
	}
	f, err := parseOr(body)
	if err != nil {
		return Condition{}, fmt.Errorf("condition %q: %w", src, err)
	}
	return Condition{eval: f, src: src}, nil
}

type boolFn func(Facts) bool

// splitOp splits s on the two-character operator op outside literals and
// parentheses.
func splitOp(s, op string) []string {
	var out []string
	start := 0
	scanUnquoted(s, func(i int, _ rune, depth int) bool {
		if depth == 0 && i >= start && strings.HasPrefix(s[i:], op) {
			out = append(out, s[start:i])
			start = i + len(op)
		}
		return true
	})
	return append(out, s[start:])
}

func parseOr(s string) (boolFn, error) {
	parts := splitOp(s, "||")
	fs := make([]boolFn, len(parts))
	for i, p := range parts {
		f, err := parseAnd(p)
		if err != nil {
			return nil, err
		}
		fs[i] = f
	}
	if len(fs) == 1 {
		return fs[0], nil
	}
	return func(x Facts) bool {
		for _, f := range fs {
			if f(x) {
				return true
			}
		}
		return false
	}, nil
}

func parseAnd(s string) (boolFn, error) {
	parts := splitOp(s, "&&")
	fs := make([]boolFn, len(parts))
	for i, p := range parts {
		f, err := parseUnary(p)
		if err != nil {
			return nil, err
		}
		fs[i] = f
	}
	if len(fs) == 1 {
		return fs[0], nil
	}
	return func(x Facts) bool {
		for _, f := range fs {
			if !f(x) {
				return false
			}
		}
		return true
	}, nil
}

var (
	reMethod   = regexp.MustCompile(`^(.+)\.(Equals|StartsWith|EndsWith|Contains)\(\s*` + strLit + `\s*(?:,\s*StringComparison\.(Ordinal|OrdinalIgnoreCase|InvariantCultureIgnoreCase|CurrentCultureIgnoreCase))?\s*\)$`)
	reHasHdr   = regexp.MustCompile(`^(?:context\.Request|request)\.Headers\.ContainsKey\(\s*` + strLit + `\s*\)$`)
	reNullOrEm = regexp.MustCompile(`^(?:String|string)\.IsNullOrEmpty\((.+)\)$`)
)

func parseUnary(s string) (boolFn, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("empty operand")
	}
	if rest, ok := strings.CutPrefix(s, "!"); ok && !strings.HasPrefix(rest, "=") {
		f, err := parseUnary(rest)
		if err != nil {
			return nil, err
		}
		return func(x Facts) bool { return !f(x) }, nil
	}
	if inner, ok := parenthesised(s); ok {
		return parseOr(inner)
	}
	for _, op := range []string{"==", "!="} {
		if parts := splitOp(s, op); len(parts) == 2 {
			a, err := parseValue(parts[0])
			if err != nil {
				return nil, err
			}
			b, err := parseValue(parts[1])
			if err != nil {
				return nil, err
			}
			eq := op == "=="
			return func(x Facts) bool { return (a.Resolve(x) == b.Resolve(x)) == eq }, nil
		}
	}
	switch s {
	case "true", `"true"`, `"True"`:
		return func(Facts) bool { return true }, nil
	case "false", `"false"`, `"False"`:
		return func(Facts) bool { return false }, nil
	}
	if m := reHasHdr.FindStringSubmatch(s); m != nil {
		name := unquote(m[1])
		return func(x Facts) bool {
			if x.Header == nil {
				return false
			}
			_, ok := x.Header(name)
			return ok
		}, nil
	}
	if m := reNullOrEm.FindStringSubmatch(s); m != nil {
		v, err := parseValue(m[1])
		if err != nil {
			return nil, err
		}
		return func(x Facts) bool { return v.Resolve(x) == "" }, nil
	}
	if m := reMethod.FindStringSubmatch(s); m != nil {
		return parseMethod(m)
	}
	return nil, fmt.Errorf("unsupported condition %q (supported: ==, != of values, .Equals/.StartsWith/.EndsWith/.Contains(\"…\"), Headers.ContainsKey(\"…\"), String.IsNullOrEmpty(…), true, false, with &&, ||, !)", s)
}

// parseMethod compiles value.Method("literal"[, StringComparison.X]).
func parseMethod(m []string) (boolFn, error) {
	v, err := parseValue(m[1])
	if err != nil {
		return nil, err
	}
	lit, fold := unquote(m[3]), strings.HasSuffix(m[4], "IgnoreCase")
	norm := func(s string) string {
		if fold {
			return strings.ToLower(s)
		}
		return s
	}
	test := map[string]func(a, b string) bool{
		"Equals": func(a, b string) bool { return a == b }, "StartsWith": strings.HasPrefix,
		"EndsWith": strings.HasSuffix, "Contains": strings.Contains,
	}[m[2]]
	return func(x Facts) bool { return test(norm(v.Resolve(x)), norm(lit)) }, nil
}

// parseValue parses a string value: counter-key terms concatenated.
func parseValue(s string) (CounterKey, error) {
	k := CounterKey{}
	if err := k.addTerms(strings.TrimSpace(s)); err != nil {
		return CounterKey{}, err
	}
	return k, nil
}
