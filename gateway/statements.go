package gateway

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/aiload/aiload/gateway/chat"
	"github.com/aiload/aiload/gateway/policy"
	"github.com/aiload/aiload/record"
)

// Statement is one policy statement of the inbound or outbound section
// that the gateway runs in order: API Management's set-header or
// return-response, under a condition (choose/when). Exactly one of
// SetHeader and ReturnResponse is set.
type Statement struct {
	// When, if set, is a Boolean policy expression (@(…), see
	// policy.ParseCondition) the request must meet; unset: every request.
	When string `yaml:"when" json:"when,omitempty"`
	// SetHeader sets or deletes a header: inbound, of the request forwarded
	// to the backend; outbound, of the answer.
	SetHeader *SetHeader `yaml:"set_header" json:"set_header,omitempty"`
	// ReturnResponse answers the request without a backend (inbound only).
	ReturnResponse *ReturnResponse `yaml:"return_response" json:"return_response,omitempty"`
}

// SetHeader is API Management's set-header.
type SetHeader struct {
	Name string `yaml:"name" json:"name"`
	// ExistsAction is override (default: the header gets Values), skip (a
	// header already there is kept), append (Values are added to it) or
	// delete (the header is removed).
	ExistsAction string `yaml:"exists_action" json:"exists_action,omitempty"`
	// Values are literals or @(…) expressions (counter-key forms); several
	// are sent comma-separated.
	Values []string `yaml:"values" json:"values,omitempty"`
}

// ReturnResponse is API Management's return-response: the request is
// answered with Status (default 200), Headers and Body, and goes no
// further (no limit counts it, no backend sees it).
type ReturnResponse struct {
	Status int `yaml:"status" json:"status,omitempty"`
	// Reason is set-status's reason phrase. It is accepted but not sent:
	// HTTP/1.1 from Go always sends the status code's standard phrase.
	Reason  string      `yaml:"reason" json:"reason,omitempty"`
	Headers []SetHeader `yaml:"headers" json:"headers,omitempty"`
	// Body is sent as it is (a literal).
	Body string `yaml:"body" json:"body,omitempty"`
}

// Set-header actions.
const (
	HeaderOverride = "override"
	HeaderSkip     = "skip"
	HeaderAppend   = "append"
	HeaderDelete   = "delete"
)

// fixedHeaders cannot be set or deleted by a policy, as in API Management.
var fixedHeaders = map[string]bool{"Connection": true, "Content-Length": true, "Keep-Alive": true, "Transfer-Encoding": true}

// statement is a compiled Statement.
type statement struct {
	when   policy.Condition
	header *headerOp
	ret    *returnOp
}

type headerOp struct {
	name, action string
	values       []policy.CounterKey
}

type returnOp struct {
	status  int
	headers []headerOp
	body    []byte
}

// compileStatements checks and compiles a section's statements; outbound
// sections take set-header only. Errors are *FieldError under path.
func compileStatements(list []Statement, path string, outbound bool) ([]statement, error) {
	var errs problems
	var out []statement
	for i, s := range list {
		p := fmt.Sprintf("%s[%d]", path, i)
		var st statement
		if s.When != "" {
			c, err := policy.ParseCondition(s.When)
			if err != nil {
				errs.add(p+".when", "%v", err)
			}
			st.when = c
		}
		switch {
		case (s.SetHeader == nil) == (s.ReturnResponse == nil):
			errs.add(p, "give one of set_header and return_response")
		case s.SetHeader != nil:
			st.header = compileHeader(*s.SetHeader, p+".set_header", &errs)
		case outbound:
			errs.add(p+".return_response", "is emulated in the inbound section only")
		default:
			st.ret = compileReturn(*s.ReturnResponse, p+".return_response", &errs)
		}
		out = append(out, st)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func compileHeader(h SetHeader, path string, errs *problems) *headerOp {
	op := &headerOp{name: http.CanonicalHeaderKey(h.Name), action: cmp.Or(h.ExistsAction, HeaderOverride)}
	switch {
	case h.Name == "":
		errs.add(path+".name", "must be set")
	case strings.HasPrefix(h.Name, "@"):
		errs.add(path+".name", "policy expressions are not supported in a header name")
	case fixedHeaders[op.name]:
		errs.add(path+".name", "%s cannot be set or deleted by a policy", op.name)
	}
	switch op.action {
	case HeaderOverride, HeaderSkip, HeaderAppend:
		if len(h.Values) == 0 {
			errs.add(path+".values", "must list at least one value (exists_action %s)", op.action)
		}
	case HeaderDelete:
	default:
		errs.add(path+".exists_action", "must be override, skip, append or delete, got %q", h.ExistsAction)
	}
	for i, v := range h.Values {
		k, err := headerValue(v)
		if err != nil {
			errs.add(fmt.Sprintf("%s.values[%d]", path, i), "%v", err)
		}
		op.values = append(op.values, k)
	}
	return op
}

// headerValue compiles a value: an @(…) expression, else a literal.
func headerValue(v string) (policy.CounterKey, error) {
	if strings.HasPrefix(strings.TrimSpace(v), "@") {
		return policy.ParseCounterKey(v)
	}
	return policy.CounterKey{Parts: []policy.KeyPart{{Source: policy.FromLiteral, Name: v}}}, nil
}

func compileReturn(r ReturnResponse, path string, errs *problems) *returnOp {
	op := &returnOp{status: cmp.Or(r.Status, http.StatusOK), body: []byte(r.Body)}
	if op.status < 100 || op.status > 599 {
		errs.add(path+".status", "must be an HTTP status (100-599), got %d", r.Status)
	}
	for i, h := range r.Headers {
		if hp := compileHeader(h, fmt.Sprintf("%s.headers[%d]", path, i), errs); hp != nil {
			op.headers = append(op.headers, *hp)
		}
	}
	return op
}

// headerValues resolves op's values for x, comma-separated.
func (op *headerOp) value(f policy.Facts) string {
	vals := make([]string, len(op.values))
	for i, k := range op.values {
		vals[i] = k.Resolve(f)
	}
	return strings.Join(vals, ",")
}

// apply applies op to h; had reports the value the header had before the
// policy (the caller's, for a request header the gateway does not forward
// as it is).
func (op *headerOp) apply(h http.Header, f policy.Facts, had func(string) []string) {
	before := h.Values(op.name)
	if len(before) == 0 && had != nil {
		before = had(op.name)
	}
	switch op.action {
	case HeaderDelete:
		h.Del(op.name)
	case HeaderSkip:
		if len(before) > 0 {
			h[op.name] = append([]string(nil), before...)
			return
		}
		h.Set(op.name, op.value(f))
	case HeaderAppend:
		h.Set(op.name, strings.Join(append(append([]string(nil), before...), op.value(f)), ","))
	default:
		h.Set(op.name, op.value(f))
	}
}

// inbound runs the inbound statements: set-headers are kept for the
// request forwarded to the backend, and a return-response answers x
// (false: the pipeline stops).
func (g *Gateway) inbound(x *exchange) bool {
	if len(g.inboundStmts) == 0 {
		return true
	}
	f := g.facts(x)
	for i := range g.inboundStmts {
		st := &g.inboundStmts[i]
		if !st.when.Eval(f) {
			continue
		}
		if st.header != nil {
			x.upstream = append(x.upstream, upstreamHeader{op: st.header, value: st.header.value(f)})
			continue
		}
		g.returnResponse(x, st.ret, f)
		return false
	}
	return true
}

// upstreamHeader is an inbound set-header resolved for one request.
type upstreamHeader struct {
	op    *headerOp
	value string
}

// setUpstream applies x's inbound set-headers to the request h forwarded
// to a backend, after the gateway's own headers and credentials.
func (x *exchange) setUpstream(h http.Header) {
	for _, u := range x.upstream {
		op := *u.op
		op.values = []policy.CounterKey{{Parts: []policy.KeyPart{{Source: policy.FromLiteral, Name: u.value}}}}
		op.apply(h, policy.Facts{}, x.headerValues)
	}
}

// outbound applies the outbound statements to an answer's header.
func (g *Gateway) outbound(x *exchange, h headerSetter) {
	hh, ok := h.(http.Header)
	if len(g.outboundStmts) == 0 || !ok {
		return // in process, headers of policies change no figure
	}
	f := g.facts(x)
	for i := range g.outboundStmts {
		if st := &g.outboundStmts[i]; st.when.Eval(f) {
			st.header.apply(hh, f, nil)
		}
	}
}

// returnResponse answers x as a return-response says.
func (g *Gateway) returnResponse(x *exchange, r *returnOp, f policy.Facts) {
	x.rec.Status, x.rec.Outcome = r.status, record.OutcomeReturnResponse
	g.finish(x)
	if x.w == nil {
		x.answer.Status = r.status
		if r.status >= 400 {
			x.answer.Error = &chat.ErrorDetail{Message: string(r.body), Code: strconv.Itoa(r.status)}
		}
		return
	}
	h := x.w.Header()
	for i := range r.headers {
		r.headers[i].apply(h, f, nil)
	}
	if h.Get("Content-Type") == "" {
		h["Content-Type"] = nil // as given: net/http would guess one from the body
	}
	x.w.WriteHeader(r.status)
	_, _ = x.w.Write(r.body)
}
