// Package apimxml reads Azure API Management policy documents
// (<policies><inbound>…</inbound>…</policies>) and translates the AI
// policies the gateway enforces into its Config: llm-token-limit and
// azure-openai-token-limit, validate-jwt, llm-emit-token-metric and
// azure-openai-emit-token-metric, set-backend-service. Elements the gateway
// does not enforce come back as warnings naming the element and its line;
// unknown or invalid attributes are errors at file:line:column.
package apimxml

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aiload/aiload/gateway"
)

// Policy is what one policy document asks of the gateway.
type Policy struct {
	// TokenLimits are the document's token limit policies, in order.
	TokenLimits []gateway.TokenLimit
	// JWT is its validate-jwt, if any.
	JWT *gateway.JWTConfig
	// EmitTokenMetric is its emit-token-metric policy, if any.
	EmitTokenMetric *gateway.EmitTokenMetric
	// ManagedIdentity is its authentication-managed-identity, if any.
	ManagedIdentity *managedIdentity
	// RateLimits are its rate-limit-by-key and rate-limit policies, in order.
	RateLimits []gateway.RateLimitByKey
	// Quotas are its quota-by-key and quota policies, in order.
	Quotas []gateway.QuotaByKey
	// CheckHeaders are its check-header policies, in order.
	CheckHeaders []gateway.CheckHeader
	// BackendID is set-backend-service's backend-id ("" without one).
	BackendID string
	// Retry is the backend section's <retry>, if any.
	Retry *gateway.Retry
	// RetryAt is where it is.
	RetryAt Pos

	// File is the document's path; JWTAt, EmitAt and BackendAt are where
	// those policies are in it.
	File                     string
	JWTAt, EmitAt, BackendAt Pos
}

// sections are the sections of a policy document.
var sections = map[string]bool{"inbound": true, "backend": true, "outbound": true, "on-error": true}

// translator collects what a document translates to and its problems.
type translator struct {
	file     string
	pol      Policy
	doc      Document
	errs     []error
	warnings []Warning
	// value resolves {{named-value}} references (nil: none are resolved).
	value func(name string) (string, bool)
	// vars are the set-variable definitions seen so far (shared by the
	// documents of one config); limitVars the token limits' variables.
	vars, limitVars map[string]string
	// pendingVars are the variables of the token limit just translated.
	pendingVars map[string]string
	// miVar is authentication-managed-identity's output-token-variable-name.
	miVar string
}

func (t *translator) errorf(p Pos, format string, a ...any) {
	t.errs = append(t.errs, &Error{File: t.file, Pos: p, Msg: fmt.Sprintf(format, a...)})
}

func (t *translator) warnf(p Pos, format string, a ...any) {
	t.warnings = append(t.warnings, Warning{File: t.file, Pos: p, Msg: fmt.Sprintf(format, a...)})
}

// ReadFile reads and translates the policy document at path.
func ReadFile(path string) (Policy, []Warning, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Policy{}, nil, fmt.Errorf("read policy document: %w", err)
	}
	return Parse(path, src)
}

// Parse translates a policy document; file names it in errors and
// warnings. Every problem comes back, joined; each is an *Error.
func Parse(file string, src []byte) (Policy, []Warning, error) {
	t, err := translate(file, src, nil, map[string]string{})
	if err != nil {
		return Policy{}, nil, err
	}
	for _, items := range t.doc.Sections {
		for _, it := range items {
			if it.Lookup != nil || it.Store > 0 || it.Stmt != nil {
				t.warnf(it.Pos, "<%s> is emulated for documents named under apim: (docs/apim.md), not for --policy: ignored", it.Name)
			}
		}
	}
	return t.pol, t.warnings, errors.Join(t.errs...)
}

// translate parses and translates a document; value resolves named values
// (nil: a {{name}} reference stays as written). The error is a malformed
// document's; the translator holds every other problem.
func translate(file string, src []byte, value func(string) (string, bool), vars map[string]string) (*translator, error) {
	root, err := parseXML(file, src)
	if err != nil {
		return nil, err
	}
	t := &translator{file: file, pol: Policy{File: file}, doc: Document{File: file, Sections: map[string][]*Item{}}, value: value,
		vars: vars, limitVars: map[string]string{}}
	if value != nil {
		t.namedValues(root)
	}
	if root.Name != "policies" {
		t.errorf(root.Pos, "root element is <%s>, want <policies>", root.Name)
		return t, nil
	}
	t.noAttrs(root)
	for _, s := range root.Children {
		if !sections[s.Name] {
			t.errorf(s.Pos, "unknown section <%s> (want inbound, backend, outbound or on-error)", s.Name)
			continue
		}
		t.noAttrs(s)
		t.doc.Sections[s.Name] = []*Item{}
		for _, e := range s.Children {
			t.statement(s.Name, e)
		}
	}
	return t, nil
}

// statement translates one policy element of a section.
func (t *translator) statement(section string, e *element) {
	translated := map[string]func(*element){
		"llm-token-limit":                 t.tokenLimit,
		"azure-openai-token-limit":        t.tokenLimit,
		"validate-jwt":                    t.validateJWT,
		"llm-emit-token-metric":           t.emitTokenMetric,
		"azure-openai-emit-token-metric":  t.emitTokenMetric,
		"set-backend-service":             t.setBackendService,
		"set-variable":                    t.setVariable,
		"check-header":                    t.checkHeader,
		"rate-limit-by-key":               t.rateLimitByKey,
		"rate-limit":                      t.rateLimit,
		"quota-by-key":                    t.quotaByKey,
		"quota":                           t.quota,
		"validate-azure-ad-token":         t.validateAzureADToken,
		"authentication-managed-identity": t.authManagedIdentity,
	}
	switch f, ok := translated[e.Name]; {
	case e.Name == "base":
		t.noAttrs(e)
		t.doc.Sections[section] = append(t.doc.Sections[section], &Item{Base: true, File: t.file, Pos: e.Pos, Name: e.Name})
	case e.Name == "set-header" && section == "inbound" && t.sendsManagedToken(e):
		// the backend authentication sends the token
	case slices.Contains(cacheLookups, e.Name) && section == "inbound":
		t.doc.Sections[section] = append(t.doc.Sections[section], t.cacheLookup(e))
	case slices.Contains(cacheStores, e.Name) && section == "outbound":
		t.doc.Sections[section] = append(t.doc.Sections[section], t.cacheStore(e))
	case slices.Contains(cacheLookups, e.Name) || slices.Contains(cacheStores, e.Name):
		t.errorf(e.Pos, "<%s> belongs in the %s section, not %s", e.Name, map[bool]string{true: "inbound", false: "outbound"}[slices.Contains(cacheLookups, e.Name)], section)
	case e.Name == "set-header" && section == "outbound" && t.readsLimitVar(e):
		t.doc.Sections[section] = append(t.doc.Sections[section], t.setHeader(e))
	case e.Name == "set-header" && (section == "inbound" || section == "outbound"):
		t.doc.Sections[section] = append(t.doc.Sections[section], t.setHeaderStmt(e, section, ""))
	case e.Name == "return-response":
		t.doc.Sections[section] = append(t.doc.Sections[section], t.returnResponse(e, section, ""))
	case e.Name == "choose":
		t.choose(section, e, "")
	case ok && section != "inbound":
		t.errorf(e.Pos, "<%s> belongs in the inbound section, not %s", e.Name, section)
	case ok:
		before := t.pol
		f(e)
		t.doc.Sections[section] = append(t.doc.Sections[section], t.itemSince(before, e))
	case e.Name == "forward-request" && section == "backend":
		if len(e.Attrs) > 0 {
			t.warnf(e.Pos, "<forward-request> attributes are not emulated (the config's backends set timeouts); the request is forwarded as without them")
		}
	case e.Name == "retry" && section == "backend":
		t.pol.Retry, t.pol.RetryAt = t.retry(e), e.Pos
		t.doc.Sections[section] = append(t.doc.Sections[section], &Item{File: t.file, Pos: e.Pos, Name: e.Name, Retry: t.pol.Retry})
	default:
		t.warnf(e.Pos, "<%s> is not emulated by aiload and is ignored", e.Name)
	}
}

// noAttrs reports every attribute of e as unknown.
func (t *translator) noAttrs(e *element) {
	for _, a := range e.Attrs {
		t.errorf(a.Pos, "unknown attribute %q on <%s>", a.Name, e.Name)
	}
}

// attrs checks e's attributes against known and returns them by name.
func (t *translator) attrs(e *element, known ...string) map[string]attr {
	out := map[string]attr{}
	for _, a := range e.Attrs {
		if !contains(known, a.Name) {
			t.errorf(a.Pos, "unknown attribute %q on <%s> (known: %s)", a.Name, e.Name, strings.Join(known, ", "))
			continue
		}
		out[a.Name] = a
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// boolAttr parses a true/false attribute.
func (t *translator) boolAttr(a attr, e *element) bool {
	switch strings.ToLower(strings.TrimSpace(a.Value)) {
	case "true":
		return true
	case "false":
		return false
	}
	t.errorf(a.Pos, "%s on <%s> must be true or false, got %q", a.Name, e.Name, a.Value)
	return false
}

// intAttr parses a whole-number attribute; expressions are refused.
func (t *translator) intAttr(a attr, e *element) int64 {
	v := strings.TrimSpace(a.Value)
	if strings.HasPrefix(v, "@") {
		t.errorf(a.Pos, "%s on <%s>: policy expressions are not supported here, give a number", a.Name, e.Name)
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.errorf(a.Pos, "%s on <%s> must be a whole number, got %q", a.Name, e.Name, a.Value)
	}
	return n
}

// fieldErrors places the gateway's validation of a translated policy at
// the attribute whose name matches the failing field (else at e).
func (t *translator) fieldErrors(e *element, err error, prefix string) {
	if err == nil {
		return
	}
	for _, fe := range err.(interface{ Unwrap() []error }).Unwrap() {
		var f *gateway.FieldError
		if !errors.As(fe, &f) {
			t.errorf(e.Pos, "<%s>: %v", e.Name, fe)
			continue
		}
		field, _ := strings.CutPrefix(f.Path, prefix)
		p := e.Pos
		if a, ok := e.attr(strings.ReplaceAll(strings.TrimPrefix(field, "."), "_", "-")); ok {
			p = a.Pos
		}
		t.errorf(p, "<%s>: %s", e.Name, yamlField.ReplaceAllStringFunc(f.Msg, func(s string) string { return strings.ReplaceAll(s, "_", "-") }))
	}
}

// yamlField matches the config's field names (token_quota_period) in the
// gateway's messages, to be given as attribute names (token-quota-period).
var yamlField = regexp.MustCompile(`\b[a-z]+(?:_[a-z]+)+\b`)
