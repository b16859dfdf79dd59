package policy

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// KeySource is where one part of a counter key comes from.
type KeySource uint8

// Key sources.
const (
	FromLiteral      KeySource = iota // a fixed string (inside an expression)
	FromSubscription                  // the subscription id
	FromIP                            // the client IP address
	FromProduct                       // the product name
	FromAPI                           // the API name
	FromHeader                        // a request header (Name), or Default when absent
	FromClaim                         // a claim (Name) of the caller's JWT, or Default
	FromUser                          // the end user (record.user_id)
	FromOperation                     // the API operation (chat, responses, completions, embeddings)
)

// KeyPart is one part of a counter key.
type KeyPart struct {
	Source  KeySource
	Name    string // header or claim name; the literal of FromLiteral
	Default string // value when the header or claim is absent
}

// CounterKey is a parsed counter-key: parts whose values are concatenated.
// Short forms join their parts with ":"; expressions concatenate exactly.
type CounterKey struct {
	Parts []KeyPart
	sep   string
}

// Facts are what a counter key can be resolved from.
type Facts struct {
	SubscriptionID, ClientIP, Product, API string
	// UserID is the end user; Operation the API operation ("" reads as chat).
	UserID, Operation string
	// Header returns a request header's value and whether it was present.
	Header func(name string) (string, bool)
	// Claim returns a claim of the caller's JWT as a string and whether it
	// was present.
	Claim func(name string) (string, bool)
}

// Resolve returns the key's value for a request.
func (k CounterKey) Resolve(f Facts) string {
	vals := make([]string, len(k.Parts))
	for i, p := range k.Parts {
		vals[i] = p.value(f)
	}
	return strings.Join(vals, k.sep)
}

func (p KeyPart) value(f Facts) string {
	var v string
	var ok bool
	switch p.Source {
	case FromLiteral:
		return p.Name
	case FromSubscription:
		return f.SubscriptionID
	case FromIP:
		return f.ClientIP
	case FromProduct:
		return f.Product
	case FromAPI:
		return f.API
	case FromUser:
		return f.UserID
	case FromOperation:
		if f.Operation == "" {
			return "chat"
		}
		return f.Operation
	case FromHeader:
		if f.Header != nil {
			v, ok = f.Header(p.Name)
		}
	case FromClaim:
		if f.Claim != nil {
			v, ok = f.Claim(p.Name)
		}
	}
	if !ok {
		return p.Default
	}
	return v
}

// UsesClaims reports whether resolving the key reads the caller's JWT.
func (k CounterKey) UsesClaims() bool {
	for _, p := range k.Parts {
		if p.Source == FromClaim {
			return true
		}
	}
	return false
}

// ParseCounterKey parses a counter key. Short forms: subscription, ip,
// product, api, header:<name>, jwt:<claim>, and combinations joined by "+"
// (e.g. "subscription+header:x-user-id"). API Management expressions are
// accepted for the same values and may be concatenated with "+" and string
// literals:
//
//	@(context.Subscription.Id)           @(context.Subscription.Name)
//	@(context.Request.IpAddress)         @(context.Product.Name) / .Id
//	@(context.Api.Name) / .Id            @(context.Operation.Id) / .Name
//	@(context.User.Id)                   @(context.Subscription.Key) (one counter per subscription)
//	@(String.Concat(a, b, …))            (the same as a + b + …)
//	@(context.Request.Headers.GetValueOrDefault("x-user-id",""))   (also request.Headers…)
//	@(context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt()?.Subject)
//	@(context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt()?.Claims.GetValueOrDefault("oid",""))
//	(the token also as GetValueOrDefault("Authorization","").Split(' ').Last().AsJwt())
//
// Anything else is an error naming the unsupported part; an expression is
// never taken as a constant.
func ParseCounterKey(s string) (CounterKey, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "@") {
		return parseExpression(s)
	}
	if s == "" {
		return CounterKey{}, fmt.Errorf("counter key must be set")
	}
	k := CounterKey{sep: ":"}
	for _, f := range strings.Split(s, "+") {
		p, err := parseShort(strings.TrimSpace(f))
		if err != nil {
			return CounterKey{}, err
		}
		k.Parts = append(k.Parts, p)
	}
	return k, nil
}

func parseShort(f string) (KeyPart, error) {
	switch f {
	case "subscription":
		return KeyPart{Source: FromSubscription}, nil
	case "ip":
		return KeyPart{Source: FromIP}, nil
	case "product":
		return KeyPart{Source: FromProduct}, nil
	case "api":
		return KeyPart{Source: FromAPI}, nil
	}
	if name, ok := strings.CutPrefix(f, "header:"); ok && name != "" {
		return KeyPart{Source: FromHeader, Name: name}, nil
	}
	if name, ok := strings.CutPrefix(f, "jwt:"); ok && name != "" {
		return KeyPart{Source: FromClaim, Name: name}, nil
	}
	return KeyPart{}, fmt.Errorf("unsupported counter key %q (want subscription, ip, product, api, header:<name>, jwt:<claim> or an @(...) expression)", f)
}

const strLit = `"((?:[^"\\]|\\.)*)"`

var (
	reHeader  = regexp.MustCompile(`^(?:context\.Request|request)\.Headers\.GetValueOrDefault\(\s*` + strLit + `\s*,\s*` + strLit + `\s*\)$`)
	reJWT     = regexp.MustCompile(`^(?:context\.Request|request)\.Headers\.GetValueOrDefault\(\s*"Authorization"\s*,\s*""\s*\)(?:\.Split\(\s*' '\s*\)\.Last\(\))?\.AsJwt\(\)\?\.(.+)$`)
	reClaim   = regexp.MustCompile(`^Claims\.GetValueOrDefault\(\s*` + strLit + `\s*(?:,\s*` + strLit + `\s*)?\)$`)
	reLiteral = regexp.MustCompile(`^` + strLit + `$`)
	jwtProps  = map[string]string{"Subject": "sub", "Id": "jti", "Issuer": "iss"}
	members   = map[string]KeySource{
		"context.Subscription.Id": FromSubscription, "context.Subscription.Name": FromSubscription,
		"context.Request.IpAddress": FromIP,
		"context.Product.Name":      FromProduct, "context.Product.Id": FromProduct,
		"context.Api.Name": FromAPI, "context.Api.Id": FromAPI,
		// The key's value would put a credential into records and counter
		// stores: its counter is the subscription's, shared by both keys.
		"context.Subscription.Key": FromSubscription,
		"context.User.Id":          FromUser,
		"context.Operation.Id":     FromOperation, "context.Operation.Name": FromOperation,
	}
)

func parseExpression(s string) (CounterKey, error) {
	body, ok := strings.CutPrefix(s, "@(")
	if !ok || !strings.HasSuffix(body, ")") {
		return CounterKey{}, fmt.Errorf("unsupported counter key expression %q (only single @(...) expressions are supported)", s)
	}
	body = strings.TrimSuffix(body, ")")
	k := CounterKey{}
	if err := k.addTerms(body); err != nil {
		return CounterKey{}, fmt.Errorf("counter key expression %q: %w", s, err)
	}
	return k, nil
}

// addTerms adds the parts of a "+"-concatenation; String.Concat(a, b, …)
// concatenates its arguments the same way.
func (k *CounterKey) addTerms(body string) error {
	for _, term := range splitTerms(body, '+') {
		term = strings.TrimSpace(term)
		if inner, ok := parenthesised(term); ok {
			if err := k.addTerms(inner); err != nil {
				return err
			}
			continue
		}
		if args, ok := strings.CutPrefix(term, "String.Concat("); ok && strings.HasSuffix(args, ")") {
			for _, a := range splitTerms(strings.TrimSuffix(args, ")"), ',') {
				if err := k.addTerms(a); err != nil {
					return err
				}
			}
			continue
		}
		p, err := parseTerm(term)
		if err != nil {
			return err
		}
		k.Parts = append(k.Parts, p)
	}
	return nil
}

// parenthesised returns what one pair of parentheses around s holds.
func parenthesised(s string) (string, bool) {
	if !strings.HasPrefix(s, "(") || !strings.HasSuffix(s, ")") {
		return "", false
	}
	inner := s[1 : len(s)-1]
	one := true
	depth := scanUnquoted(inner, func(_ int, r rune, depth int) bool {
		one = r != ')' || depth > 0 // "(a) + (b)": two groups
		return one
	})
	return inner, one && depth == 0
}

// splitTerms splits on sep outside string and character literals and
// parentheses.
func splitTerms(s string, sep rune) []string {
	var out []string
	start := 0
	scanUnquoted(s, func(i int, r rune, depth int) bool {
		if r == sep && depth == 0 {
			out = append(out, s[start:i])
			start = i + 1
		}
		return true
	})
	return append(out, s[start:])
}

// scanUnquoted calls f with every rune of s outside string and character
// literals, its byte offset and the depth of parentheses before it, until
// f returns false. It returns the depth of parentheses where it stopped.
func scanUnquoted(s string, f func(i int, r rune, depth int) bool) int {
	var quote rune
	esc, depth := false, 0
	for i, r := range s {
		switch {
		case esc:
			esc = false
			continue
		case r == '\\' && quote != 0:
			esc = true
			continue
		case quote != 0:
			if r == quote {
				quote = 0
			}
			continue
		case r == '"' || r == '\'':
			quote = r
			continue
		}
		if !f(i, r, depth) {
			return depth
		}
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		}
	}
	return depth
}

func parseTerm(t string) (KeyPart, error) {
	if src, ok := members[t]; ok {
		return KeyPart{Source: src}, nil
	}
	if m := reLiteral.FindStringSubmatch(t); m != nil {
		return KeyPart{Source: FromLiteral, Name: unquote(m[1])}, nil
	}
	if m := reJWT.FindStringSubmatch(t); m != nil {
		if claim, ok := jwtProps[m[1]]; ok {
			return KeyPart{Source: FromClaim, Name: claim}, nil
		}
		if c := reClaim.FindStringSubmatch(m[1]); c != nil {
			return KeyPart{Source: FromClaim, Name: unquote(c[1]), Default: unquote(c[2])}, nil
		}
		return KeyPart{}, fmt.Errorf("unsupported JWT member %q (supported: Subject, Id, Issuer, Claims.GetValueOrDefault(\"name\",\"\"))", m[1])
	}
	if m := reHeader.FindStringSubmatch(t); m != nil {
		return KeyPart{Source: FromHeader, Name: unquote(m[1]), Default: unquote(m[2])}, nil
	}
	return KeyPart{}, fmt.Errorf("unsupported term %q", t)
}

func unquote(s string) string {
	if u, err := strconv.Unquote(`"` + s + `"`); err == nil {
		return u
	}
	return s
}
