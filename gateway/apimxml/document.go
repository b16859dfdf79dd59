package apimxml

import (
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/aiload/aiload/gateway"
)

// Document is a translated policy document: its statements per section, in
// order, with <base/> where the document put it.
type Document struct {
	File string
	// Sections maps inbound, backend, outbound and on-error to their
	// statements; a section the document lacks is absent.
	Sections map[string][]*Item
}

// Item is one statement of a section: <base/> or a policy the gateway
// enforces.
type Item struct {
	// Base marks <base/>: the enclosing scope's statements go here.
	Base bool
	File string
	Pos
	// Name is the element's name (llm-token-limit, validate-jwt, …).
	Name string
	// One of these is set on a policy statement.
	Limit     *gateway.TokenLimit
	JWT       *gateway.JWTConfig
	Emit      *gateway.EmitTokenMetric
	BackendID string
	Check     *gateway.CheckHeader
	MI        *managedIdentity
	Rates     []gateway.RateLimitByKey
	Quotas    []gateway.QuotaByKey
	// Retry is a backend section's <retry>.
	Retry *gateway.Retry
	// Header is an outbound set-header sending a variable.
	Header *headerVar
	// Lookup is a semantic cache lookup's cache; Store a store's duration.
	Lookup *gateway.SemanticCache
	Store  time.Duration
	// Stmt is a set-header or return-response the gateway runs in Section
	// (inbound or outbound), its When the condition of its branch (an
	// expression body, "" for none).
	Stmt    *gateway.Statement
	Section string
	// Vars names the variables a token limit sets, by kind
	// (remaining-tokens, …).
	Vars map[string]string
}

// itemSince makes the item of element e from what its translation added
// to the document's Policy since before.
func (t *translator) itemSince(before Policy, e *element) *Item {
	it := &Item{File: t.file, Pos: e.Pos, Name: e.Name}
	switch {
	case len(t.pol.TokenLimits) > len(before.TokenLimits):
		l := t.pol.TokenLimits[len(t.pol.TokenLimits)-1]
		it.Limit, it.Vars, t.pendingVars = &l, t.pendingVars, nil
	case t.pol.JWT != before.JWT:
		it.JWT = t.pol.JWT
	case t.pol.EmitTokenMetric != before.EmitTokenMetric:
		it.Emit = t.pol.EmitTokenMetric
	case t.pol.ManagedIdentity != before.ManagedIdentity:
		it.MI = t.pol.ManagedIdentity
	case len(t.pol.RateLimits) > len(before.RateLimits):
		it.Rates = t.pol.RateLimits[len(before.RateLimits):]
	case len(t.pol.Quotas) > len(before.Quotas):
		it.Quotas = t.pol.Quotas[len(before.Quotas):]
	case len(t.pol.CheckHeaders) > len(before.CheckHeaders):
		c := t.pol.CheckHeaders[len(t.pol.CheckHeaders)-1]
		it.Check = &c
	case t.pol.BackendID != before.BackendID:
		it.BackendID = t.pol.BackendID
	}
	return it
}

// namedRef matches a {{named-value}} reference.
var namedRef = regexp.MustCompile(`\{\{\s*([A-Za-z0-9._-]+)\s*\}\}`)

// namedValues replaces every {{name}} in attribute values and element
// text; an unknown name is an error at the attribute or element.
func (t *translator) namedValues(root *element) {
	sub := func(s string, p Pos) string {
		return namedRef.ReplaceAllStringFunc(s, func(ref string) string {
			name := namedRef.FindStringSubmatch(ref)[1]
			v, ok := t.value(name)
			if !ok {
				t.errorf(p, "named value {{%s}} is not defined: give it under apim.named_values or in the environment as %s", name, EnvName(name))
				return ref
			}
			return v
		})
	}
	for _, e := range walk(root) {
		for i := range e.Attrs {
			e.Attrs[i].Value = sub(e.Attrs[i].Value, e.Attrs[i].Pos)
		}
		e.Text = sub(e.Text, e.Pos)
	}
}

// EnvName is the environment variable a named value is read from when the
// config does not give it: its name in upper case, every character other
// than a letter or digit replaced by "_" (openai-key → OPENAI_KEY).
func EnvName(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			return r
		}
		return '_'
	}, name)
}

// NamedValues resolves a named value from values, else from the
// environment (the name as written, then EnvName(name)).
func NamedValues(values map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if v, ok := values[name]; ok {
			return v, true
		}
		if v, ok := os.LookupEnv(name); ok {
			return v, true
		}
		return os.LookupEnv(EnvName(name))
	}
}
