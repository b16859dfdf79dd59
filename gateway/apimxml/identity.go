package apimxml

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aiload/aiload/gateway"
)

// managedIdentity is what <authentication-managed-identity> asks: the
// backends get an Entra ID token of the gateway's managed identity.
type managedIdentity struct {
	ClientID string
}

// cognitiveServices are the resource values the gateway's tokens are for.
var cognitiveServices = []string{"https://cognitiveservices.azure.com", "https://cognitiveservices.azure.com/",
	"https://cognitiveservices.azure.com/.default"}

// authManagedIdentity translates <authentication-managed-identity>.
func (t *translator) authManagedIdentity(e *element) {
	t.noChildren(e)
	a := t.attrs(e, "resource", "client-id", "output-token-variable-name", "ignore-error")
	res, ok := a["resource"]
	switch {
	case !ok:
		t.errorf(e.Pos, "<authentication-managed-identity> needs a resource")
		return
	case !contains(cognitiveServices, strings.TrimSpace(res.Value)):
		t.errorf(res.Pos, "resource %q is not emulated: the gateway's backend tokens are for https://cognitiveservices.azure.com (Azure OpenAI)", res.Value)
		return
	}
	if v, ok := a["ignore-error"]; ok && t.boolAttr(v, e) {
		t.warnf(v.Pos, "ignore-error=\"true\" is not emulated: a request whose token cannot be had is answered with an error")
	}
	t.miVar = a["output-token-variable-name"].Value
	t.pol.ManagedIdentity = &managedIdentity{ClientID: a["client-id"].Value}
}

// bearerOfVar matches @("Bearer " + (string)context.Variables["name"]).
var bearerOfVar = regexp.MustCompile(`^@\(\s*"Bearer "\s*\+\s*(?:\(\s*string\s*\)\s*)?context\.Variables(?:\[\s*"([^"]+)"\s*\]|\.GetValueOrDefault(?:<\s*string\s*>)?\(\s*"([^"]+)"\s*\))\s*\)$`)

// sendsManagedToken reports whether an inbound set-header sends the
// managed identity's token as Authorization, which the backend
// authentication does.
func (t *translator) sendsManagedToken(e *element) bool {
	name, _ := e.attr("name")
	if t.miVar == "" || !strings.EqualFold(name.Value, "Authorization") || len(e.Children) != 1 {
		return false
	}
	m := bearerOfVar.FindStringSubmatch(strings.TrimSpace(e.Children[0].Text))
	return m != nil && m[1]+m[2] == t.miVar
}

// useManagedIdentity has every backend of the pool authenticate with the
// gateway's managed identity.
func (r *resolver) useManagedIdentity(it *Item) {
	for i := range r.cfg.Backends {
		b := &r.cfg.Backends[i]
		if b.Auth != gateway.AuthAPIKey || b.APIKey != "" || b.APIKeyEnv != "" || b.APIKeyFile != "" {
			r.errs = append(r.errs, &Error{File: it.File, Pos: it.Pos, Msg: fmt.Sprintf(
				"<authentication-managed-identity>: backend %s has its own credentials in the config or backends file: keep one", b.Name)})
			continue
		}
		b.Auth, b.ClientID = gateway.AuthManagedIdentity, it.MI.ClientID
	}
}
