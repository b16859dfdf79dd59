package apimxml

import (
	"regexp"
	"strconv"
	"strings"
)

// Policy variables. set-variable with a literal or an expression of the
// supported forms defines a variable; a later counter-key or dimension
// that reads it (context.Variables.GetValueOrDefault<T>("name", default),
// context.Variables["name"], (string)context.Variables["name"]) reads the
// defining expression instead, which is the same value: every supported
// form depends on the request only. The token-limit policies'
// *-variable-name attributes name variables that an outbound set-header
// can send (see headerVariables).

// varRead matches a read of a variable inside an expression.
var varRead = regexp.MustCompile(`(?:\(\s*string\s*\)\s*)?context\.Variables(?:\.GetValueOrDefault(?:<\s*[A-Za-z.]+\s*>)?\(\s*"([^"]+)"\s*(?:,\s*("(?:[^"\\]|\\.)*"))?\s*\)|\[\s*"([^"]+)"\s*\](?:\.ToString\(\))?)`)

// setVariable translates <set-variable name="…" value="…"/>.
func (t *translator) setVariable(e *element) {
	t.noChildren(e)
	a := t.attrs(e, "name", "value")
	name, ok := a["name"]
	if !ok || name.Value == "" {
		t.errorf(e.Pos, "<set-variable> needs a name")
		return
	}
	v := strings.TrimSpace(a["value"].Value)
	expr := strconv.Quote(v) // a literal
	if strings.HasPrefix(v, "@(") && strings.HasSuffix(v, ")") {
		expr = "(" + t.expandVars(v[2:len(v)-1], a["value"].Pos) + ")"
	} else if strings.HasPrefix(v, "@") {
		t.errorf(a["value"].Pos, "set-variable %s: only single @(...) expressions are supported", name.Value)
		return
	}
	if prev, ok := t.vars[name.Value]; ok && prev != expr {
		t.errorf(name.Pos, "variable %q is set twice with different values; aiload takes a variable's one definition", name.Value)
		return
	}
	t.vars[name.Value] = expr
}

// expandVars replaces variable reads in an expression body by the
// variables' definitions; a variable no set-variable defines is the read's
// default, or an error.
func (t *translator) expandVars(body string, p Pos) string {
	return varRead.ReplaceAllStringFunc(body, func(read string) string {
		m := varRead.FindStringSubmatch(read)
		name, def := m[1]+m[3], m[2]
		if v, ok := t.vars[name]; ok {
			return v
		}
		if def != "" {
			return def
		}
		if _, ok := t.limitVars[name]; ok {
			t.errorf(p, "variable %q is set by a token limit after admission; counter keys and dimensions cannot read it", name)
		} else {
			t.errorf(p, "variable %q is not set by a <set-variable> before this policy", name)
		}
		return read
	})
}

// expandKey expands the variable reads of an attribute value that is an
// expression.
func (t *translator) expandKey(a attr) string {
	v := strings.TrimSpace(a.Value)
	if strings.HasPrefix(v, "@(") && strings.HasSuffix(v, ")") && varRead.MatchString(v) {
		return "@(" + t.expandVars(v[2:len(v)-1], a.Pos) + ")"
	}
	return v
}

// limitVarKinds are the token-limit values a *-variable-name attribute
// names a variable for.
var limitVarKinds = []string{"remaining-tokens", "remaining-quota-tokens", "tokens-consumed", "retry-after"}

// headerVar is an outbound set-header whose value is a variable.
type headerVar struct {
	Name, Variable string
}

// wholeVarRead matches an expression that is one variable read.
var wholeVarRead = regexp.MustCompile(`^@\(\s*(` + varRead.String() + `)\s*\)$`)

// readsLimitVar reports whether an outbound set-header sends one variable
// that no set-variable defines (a token limit's, see setHeader).
func (t *translator) readsLimitVar(e *element) bool {
	if len(e.Children) != 1 {
		return false
	}
	m := wholeVarRead.FindStringSubmatch(strings.TrimSpace(e.Children[0].Text))
	if m == nil {
		return false
	}
	_, defined := t.vars[m[2]+m[4]]
	return !defined
}

// setHeader translates an outbound <set-header>: one that sends a token
// limit's variable becomes that limit's header; anything else is not
// emulated.
func (t *translator) setHeader(e *element) *Item {
	it := &Item{File: t.file, Pos: e.Pos, Name: e.Name}
	a := t.attrs(e, "name", "exists-action")
	var values []*element
	for _, c := range e.Children {
		if c.Name != "value" {
			t.errorf(c.Pos, "<set-header> takes <value> elements, not <%s>", c.Name)
			continue
		}
		values = append(values, c)
	}
	if act := a["exists-action"].Value; act == "delete" || len(values) != 1 {
		t.warnf(e.Pos, "<set-header> is not emulated here: aiload sends a token limit's variable (one <value>) as a response header, nothing else")
		return it
	}
	m := wholeVarRead.FindStringSubmatch(strings.TrimSpace(values[0].Text))
	if m == nil {
		t.warnf(values[0].Pos, "<set-header> value %q is not emulated: aiload sends a token limit's variable (context.Variables.GetValueOrDefault<int>(\"name\")) as a response header, nothing else", values[0].Text)
		return it
	}
	it.Header = &headerVar{Name: a["name"].Value, Variable: m[2] + m[4]}
	if it.Header.Name == "" {
		t.errorf(e.Pos, "<set-header> needs a name")
		it.Header = nil
	}
	return it
}
