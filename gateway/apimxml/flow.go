package apimxml

import (
	"strconv"
	"strings"

	"github.com/aiload/aiload/gateway"
	"github.com/aiload/aiload/gateway/policy"
)

// Control flow and the statements the gateway runs in order: choose/when/
// otherwise, set-header and return-response become the config's inbound
// and outbound statements, each under the condition of its branch (and of
// its scope, once composed).

// stmtItem makes the item of a statement under cond ("" for none).
func (t *translator) stmtItem(e *element, section string, s gateway.Statement, cond string) *Item {
	s.When = cond
	path := "gateway." + section + "[0]"
	cfg := gateway.Config{}
	if section == "inbound" {
		cfg.Inbound = []gateway.Statement{s}
	} else {
		cfg.Outbound = []gateway.Statement{s}
	}
	cfg.Defaults()
	t.fieldErrors(e, cfg.Validate(), path)
	return &Item{File: t.file, Pos: e.Pos, Name: e.Name, Stmt: &s, Section: section}
}

// headerOf translates set-header's attributes and values.
func (t *translator) headerOf(e *element) (gateway.SetHeader, bool) {
	a := t.attrs(e, "name", "exists-action")
	h := gateway.SetHeader{Name: a["name"].Value, ExistsAction: a["exists-action"].Value}
	ok := true
	for _, v := range []attr{a["name"], a["exists-action"]} {
		if strings.HasPrefix(strings.TrimSpace(v.Value), "@") {
			t.errorf(v.Pos, "%s on <%s>: policy expressions are not supported here", v.Name, e.Name)
			ok = false
		}
	}
	for _, c := range e.Children {
		if c.Name != "value" {
			t.errorf(c.Pos, "<set-header> takes <value> elements, not <%s>", c.Name)
			ok = false
			continue
		}
		v := c.Text
		if strings.HasPrefix(strings.TrimSpace(v), "@") {
			v = t.expandKey(attr{Name: "value", Value: v, Pos: c.Pos})
			if _, err := policy.ParseCounterKey(v); err != nil {
				t.errorf(c.Pos, "<set-header> value: %v", err)
				ok = false
			}
		}
		h.Values = append(h.Values, v)
	}
	return h, ok
}

// setHeaderStmt translates a set-header the gateway runs as a statement.
func (t *translator) setHeaderStmt(e *element, section, cond string) *Item {
	h, ok := t.headerOf(e)
	if !ok {
		return &Item{File: t.file, Pos: e.Pos, Name: e.Name}
	}
	return t.stmtItem(e, section, gateway.Statement{SetHeader: &h}, cond)
}

// returnResponse translates return-response: set-status, set-header and a
// literal set-body.
func (t *translator) returnResponse(e *element, section, cond string) *Item {
	none := &Item{File: t.file, Pos: e.Pos, Name: e.Name}
	if section != "inbound" {
		t.warnf(e.Pos, "<return-response> in %s is not emulated (aiload answers from inbound only): ignored", section)
		return none
	}
	if v, ok := t.attrs(e, "response-variable-name")["response-variable-name"]; ok {
		t.errorf(v.Pos, "response-variable-name is not emulated (no send-request makes a response): give set-status, set-header and set-body")
		return none
	}
	r := gateway.ReturnResponse{}
	for _, c := range e.Children {
		switch c.Name {
		case "set-status":
			a := t.attrs(c, "code", "reason")
			if v, ok := a["code"]; ok {
				r.Status = int(t.intAttr(v, c))
			}
			r.Reason = a["reason"].Value
		case "set-header":
			if h, ok := t.headerOf(c); ok {
				r.Headers = append(r.Headers, h)
			}
		case "set-body":
			if v, ok := t.attrs(c, "template", "xsi-nil", "parse-date")["template"]; ok {
				t.errorf(v.Pos, "set-body template=%q is not emulated: give the body as it is sent", v.Value)
			}
			if strings.HasPrefix(strings.TrimSpace(c.Text), "@") {
				t.errorf(c.Pos, "set-body with a policy expression is not emulated: give the body as it is sent")
			}
			r.Body = c.Text
		default:
			t.errorf(c.Pos, "<return-response> takes set-status, set-header and set-body, not <%s>", c.Name)
		}
	}
	return t.stmtItem(e, section, gateway.Statement{ReturnResponse: &r}, cond)
}

// choose translates choose: each branch's statements under the branch's
// condition (its when's, and no earlier when's) and cond.
func (t *translator) choose(section string, e *element, cond string) {
	t.noAttrs(e)
	var earlier []string
	whens := 0
	for _, b := range e.Children {
		var own string
		switch b.Name {
		case "when":
			whens++
			a := t.attrs(b, "condition")
			c, ok := a["condition"]
			if !ok {
				t.errorf(b.Pos, "<when> needs a condition")
				continue
			}
			own = t.condition(c)
		case "otherwise":
			t.noAttrs(b)
		default:
			t.errorf(b.Pos, "<choose> takes <when> and <otherwise>, not <%s>", b.Name)
			continue
		}
		branch := append([]string{}, earlier...)
		if own != "" {
			branch = append(branch, own)
			earlier = append(earlier, "!("+own+")")
		}
		for _, s := range b.Children {
			t.branchStatement(section, s, conj(cond, conj(branch...)))
		}
	}
	if whens == 0 {
		t.errorf(e.Pos, "<choose> needs at least one <when>")
	}
}

// condition translates a when's condition into the gateway's form (an
// expression body): variables read their definitions; a constant is true
// or false.
func (t *translator) condition(a attr) string {
	v := strings.TrimSpace(a.Value)
	if b, err := strconv.ParseBool(v); err == nil {
		return strconv.FormatBool(b)
	}
	if !strings.HasPrefix(v, "@(") || !strings.HasSuffix(v, ")") {
		t.errorf(a.Pos, "condition %q: give a Boolean constant or a single @(...) expression", a.Value)
		return "false"
	}
	body := "(" + t.expandVars(v[2:len(v)-1], a.Pos) + ")"
	if _, err := policy.ParseCondition("@" + body); err != nil {
		t.errorf(a.Pos, "%v", err)
		return "false"
	}
	return body
}

// branchStatement translates one statement inside a branch.
func (t *translator) branchStatement(section string, e *element, cond string) {
	switch {
	case e.Name == "choose":
		t.choose(section, e, cond)
	case e.Name == "set-header" && (section == "inbound" || section == "outbound"):
		t.doc.Sections[section] = append(t.doc.Sections[section], t.setHeaderStmt(e, section, cond))
	case e.Name == "return-response":
		t.doc.Sections[section] = append(t.doc.Sections[section], t.returnResponse(e, section, cond))
	default:
		t.warnf(e.Pos, "<%s> inside <choose> is not emulated: aiload runs only set-header, return-response and choose under a condition; ignored", e.Name)
	}
}

// conj is the conjunction of conditions ("" for none).
func conj(cs ...string) string {
	var parts []string
	for _, c := range cs {
		if c != "" {
			parts = append(parts, c)
		}
	}
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return "(" + strings.Join(parts, " && ") + ")"
}

// scopeCondition is the condition that selects the requests cs are, of
// those w was computed over ("" for all of them).
func scopeCondition(w where, cs []combo) string {
	s := w.classify(cs)
	is := func(member, v string) string { return member + " == " + strconv.Quote(v) }
	switch s.kind {
	case "all":
		return ""
	case "product":
		return is("context.Product.Name", s.product)
	case "api":
		return is("context.Api.Name", s.api)
	case "operation":
		return conj(is("context.Api.Name", s.api), is("context.Operation.Id", s.op))
	}
	var any []string
	for _, c := range cs {
		any = append(any, conj(is("context.Product.Name", c.product), is("context.Api.Name", c.api), is("context.Operation.Id", c.op)))
	}
	return "(" + strings.Join(any, " || ") + ")"
}

// placeStmt adds a statement to the config's section, under the condition
// of the requests it applies to.
func (r *resolver) placeStmt(it *Item, w where, cs []combo) {
	s := *it.Stmt
	if c := conj(scopeCondition(w, cs), s.When); c != "" {
		s.When = "@(" + c + ")"
	}
	if it.Section == "inbound" {
		r.cfg.Inbound = append(r.cfg.Inbound, s)
	} else {
		r.cfg.Outbound = append(r.cfg.Outbound, s)
	}
}

// orderWarnings lists an inbound return-response the composition places
// before a validate-jwt, check-header or token limit: aiload runs its
// statements after validate-jwt and check-header and before the limits.
func (r *resolver) orderWarnings(sc scopes, combos []combo) {
	warned := map[*Item]bool{}
	for _, c := range combos {
		items := sc.section(c, "inbound")
		for i, it := range items {
			if it.Stmt == nil || it.Stmt.ReturnResponse == nil || warned[it] {
				continue
			}
			for _, later := range items[:i] {
				if later.Limit != nil || len(later.Rates) > 0 || len(later.Quotas) > 0 || later.Lookup != nil {
					warned[it] = true
					r.warnAt(it, "<return-response> comes after <%s> at %s:%d:%d; aiload answers it before token limits, rate limits and the semantic cache, so they do not count or answer these requests", later.Name, later.File, later.Line, later.Column)
					break
				}
			}
			for _, earlier := range items[i+1:] {
				if (earlier.JWT != nil || earlier.Check != nil) && !warned[it] {
					warned[it] = true
					r.warnAt(it, "<return-response> comes before <%s> at %s:%d:%d; aiload runs validate-jwt and check-header first, so a request they refuse gets their answer", earlier.Name, earlier.File, earlier.Line, earlier.Column)
				}
			}
		}
	}
}
