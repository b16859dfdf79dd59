package apimxml

import (
	"strings"

	"github.com/aiload/aiload/gateway"
)

// entraLogin is Microsoft Entra ID's sign-in authority.
const entraLogin = "https://login.microsoftonline.com/"

// validateAzureADToken translates <validate-azure-ad-token>: validate-jwt
// against the tenant's OpenID configuration and issuers (v1 and v2
// tokens), client-application-ids checked against appid or azp,
// backend-application-ids and audiences as accepted audiences.
func (t *translator) validateAzureADToken(e *element) {
	if t.pol.JWT != nil {
		t.errorf(e.Pos, "a second token validation: aiload takes one validate-jwt or validate-azure-ad-token (first at line %d)", t.pol.JWTAt.Line)
		return
	}
	a := t.attrs(e, "tenant-id", "header-name", "failed-validation-httpcode", "failed-validation-error-message", "output-token-variable-name")
	tenant := strings.TrimSpace(a["tenant-id"].Value)
	if tenant == "" || strings.HasPrefix(tenant, "@") {
		t.errorf(e.Pos, "<validate-azure-ad-token> needs a tenant-id (a tenant id or domain, not an expression)")
		return
	}
	j := &gateway.JWTConfig{HeaderName: a["header-name"].Value, FailedValidationErrorMessage: a["failed-validation-error-message"].Value,
		JWKSURL: entraLogin + tenant + "/v2.0/.well-known/openid-configuration",
		Issuers: []string{entraLogin + tenant + "/v2.0", "https://sts.windows.net/" + tenant + "/"}}
	if v, ok := a["failed-validation-httpcode"]; ok {
		j.FailedValidationHTTPCode = int(t.intAttr(v, e))
	}
	for _, c := range e.Children {
		switch c.Name {
		case "client-application-ids", "backend-application-ids":
			for _, id := range c.Children {
				if id.Name != "application-id" {
					t.errorf(id.Pos, "<%s> takes <application-id> elements, not <%s>", c.Name, id.Name)
					continue
				}
				if c.Name == "client-application-ids" {
					j.ClientApplicationIDs = append(j.ClientApplicationIDs, id.Text)
				} else {
					j.Audiences = append(j.Audiences, id.Text, "api://"+id.Text)
				}
			}
		case "audiences", "required-claims", "decryption-keys":
			t.jwtChild(j, c)
		default:
			t.errorf(c.Pos, "unknown element <%s> in <validate-azure-ad-token>", c.Name)
		}
	}
	cfg := gateway.Config{JWT: j}
	cfg.Defaults()
	t.fieldErrors(e, cfg.Validate(), "gateway.jwt")
	t.pol.JWT, t.pol.JWTAt = j, e.Pos
}
