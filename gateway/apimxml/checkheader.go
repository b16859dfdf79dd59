package apimxml

import (
	"strings"

	"github.com/aiload/aiload/gateway"
)

// checkHeader translates <check-header>.
func (t *translator) checkHeader(e *element) {
	a := t.attrs(e, "name", "failed-check-httpcode", "failed-check-error-message", "ignore-case")
	for _, req := range []string{"name", "failed-check-httpcode", "failed-check-error-message", "ignore-case"} {
		if _, ok := a[req]; !ok {
			t.errorf(e.Pos, "<check-header> needs the %s attribute", req)
		}
	}
	for _, v := range a {
		if strings.HasPrefix(strings.TrimSpace(v.Value), "@") {
			t.errorf(v.Pos, "%s on <check-header>: policy expressions are not supported here", v.Name)
		}
	}
	c := gateway.CheckHeader{Name: a["name"].Value, FailedCheckErrorMessage: a["failed-check-error-message"].Value}
	if v, ok := a["failed-check-httpcode"]; ok {
		c.FailedCheckHTTPCode = int(t.intAttr(v, e))
	}
	if v, ok := a["ignore-case"]; ok {
		c.IgnoreCase = t.boolAttr(v, e)
	}
	for _, v := range e.Children {
		if v.Name != "value" {
			t.errorf(v.Pos, "<check-header> takes <value> elements, not <%s>", v.Name)
			continue
		}
		c.Values = append(c.Values, v.Text)
	}
	cfg := gateway.Config{CheckHeaders: []gateway.CheckHeader{c}}
	cfg.Defaults()
	t.fieldErrors(e, cfg.Validate(), "gateway.check_headers[0]")
	t.pol.CheckHeaders = append(t.pol.CheckHeaders, c)
}
