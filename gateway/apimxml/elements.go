package apimxml

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/aiload/aiload/gateway"
)

// tokenLimitAttrs are llm-token-limit's (and azure-openai-token-limit's) attributes.
var tokenLimitAttrs = []string{"counter-key", "tokens-per-minute", "token-quota", "token-quota-period",
	"estimate-prompt-tokens", "retry-after-header-name", "retry-after-variable-name",
	"remaining-quota-tokens-header-name", "remaining-quota-tokens-variable-name",
	"remaining-tokens-header-name", "remaining-tokens-variable-name",
	"tokens-consumed-header-name", "tokens-consumed-variable-name"}

func (t *translator) tokenLimit(e *element) {
	t.noChildren(e)
	a := t.attrs(e, tokenLimitAttrs...)
	l := gateway.TokenLimit{
		RetryAfterHeaderName:           a["retry-after-header-name"].Value,
		RemainingTokensHeaderName:      a["remaining-tokens-header-name"].Value,
		RemainingQuotaTokensHeaderName: a["remaining-quota-tokens-header-name"].Value,
		TokensConsumedHeaderName:       a["tokens-consumed-header-name"].Value,
		TokenQuotaPeriod:               a["token-quota-period"].Value,
	}
	for _, req := range []string{"counter-key", "estimate-prompt-tokens"} {
		if _, ok := a[req]; !ok {
			t.errorf(e.Pos, "<%s> needs the %s attribute", e.Name, req)
		}
	}
	if k, ok := a["counter-key"]; ok {
		k.Value = t.expandKey(k)
		l.CounterKey = counterKey(k.Value)
	}
	for _, kind := range limitVarKinds {
		if v, ok := a[kind+"-variable-name"]; ok && v.Value != "" {
			t.limitVars[v.Value] = kind
			if t.pendingVars == nil {
				t.pendingVars = map[string]string{}
			}
			t.pendingVars[kind] = v.Value
		}
	}
	if v, ok := a["estimate-prompt-tokens"]; ok {
		l.EstimatePromptTokens = t.boolAttr(v, e)
	}
	if v, ok := a["tokens-per-minute"]; ok {
		l.TokensPerMinute = t.intAttr(v, e)
	}
	if v, ok := a["token-quota"]; ok {
		l.TokenQuota = t.intAttr(v, e)
	}
	cfg := gateway.Config{APIs: []gateway.API{{Name: "openai", TokenLimits: []gateway.TokenLimit{l}}}}
	cfg.Defaults()
	t.fieldErrors(e, cfg.Validate(), "gateway.apis[0].token_limits[0]")
	t.pol.TokenLimits = append(t.pol.TokenLimits, l)
}

// counterKey turns an attribute value into the gateway's counter-key: an
// expression stays one; a plain value is a constant, so every request
// shares one counter, as in API Management.
func counterKey(v string) string {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "@") {
		return v
	}
	return "@(" + strconv.Quote(v) + ")"
}

// noChildren reports child elements where a policy takes none.
func (t *translator) noChildren(e *element) {
	for _, c := range e.Children {
		t.errorf(c.Pos, "<%s> takes no <%s> element", e.Name, c.Name)
	}
}

// maxDimensions is how many dimensions an emit-token-metric policy takes:
// Azure Monitor allows 10 dimension keys a metric and API Management uses 5
// of them itself.
const maxDimensions = 5

func (t *translator) emitTokenMetric(e *element) {
	if t.pol.EmitTokenMetric != nil {
		t.errorf(e.Pos, "a second <%s>: aiload takes one emit-token-metric policy (first at line %d)", e.Name, t.pol.EmitAt.Line)
		return
	}
	// The namespace names the OTLP export's instrumentation scope.
	m := &gateway.EmitTokenMetric{}
	if ns, ok := t.attrs(e, "namespace", "value")["namespace"]; ok {
		if strings.HasPrefix(strings.TrimSpace(ns.Value), "@") {
			t.errorf(ns.Pos, "namespace on <%s> takes no policy expression", e.Name)
		}
		m.Namespace = ns.Value
	}
	n := 0
	for _, d := range e.Children {
		if d.Name != "dimension" {
			t.errorf(d.Pos, "<%s> takes <dimension> elements, not <%s>", e.Name, d.Name)
			continue
		}
		if n++; n > maxDimensions {
			t.errorf(d.Pos, "<%s> takes at most %d dimensions (Azure Monitor allows 10 dimension keys a metric and API Management uses 5 of them)", e.Name, maxDimensions)
			continue
		}
		a := t.attrs(d, "name", "value")
		if strings.EqualFold(a["name"].Value, "Location") && a["value"].Name == "" {
			t.warnf(d.Pos, "dimension Location is not emulated (a gateway of aiload has no Azure region): left out of records")
			continue
		}
		if v, ok := a["value"]; ok {
			a["value"] = attr{Name: v.Name, Value: t.expandKey(v), Pos: v.Pos}
		}
		m.Dimensions = append(m.Dimensions, gateway.Dimension{Name: a["name"].Value, Value: a["value"].Value})
		cfg := gateway.Config{EmitTokenMetric: &gateway.EmitTokenMetric{Dimensions: m.Dimensions[len(m.Dimensions)-1:]}}
		cfg.Defaults()
		t.fieldErrors(d, cfg.Validate(), "gateway.emit_token_metric.dimensions[0]")
	}
	t.pol.EmitTokenMetric, t.pol.EmitAt = m, e.Pos
}

func (t *translator) setBackendService(e *element) {
	t.noChildren(e)
	a := t.attrs(e, "backend-id", "base-url")
	if u, ok := a["base-url"]; ok {
		t.errorf(u.Pos, "set-backend-service base-url is not emulated: list the backend under the config's backends and name it with backend-id")
	}
	id, ok := a["backend-id"]
	if !ok {
		t.errorf(e.Pos, "<set-backend-service> needs backend-id")
		return
	}
	t.pol.BackendID, t.pol.BackendAt = id.Value, e.Pos
}

// validateJWTAttrs are validate-jwt's attributes.
var validateJWTAttrs = []string{"header-name", "query-parameter-name", "token-value", "failed-validation-httpcode",
	"failed-validation-error-message", "require-expiration-time", "require-scheme", "require-signed-tokens",
	"clock-skew", "output-token-variable-name"}

func (t *translator) validateJWT(e *element) {
	if t.pol.JWT != nil {
		t.errorf(e.Pos, "a second <validate-jwt>: aiload takes one (first at line %d)", t.pol.JWTAt.Line)
		return
	}
	a := t.attrs(e, validateJWTAttrs...)
	j := &gateway.JWTConfig{HeaderName: a["header-name"].Value, QueryParameterName: a["query-parameter-name"].Value,
		RequireScheme: a["require-scheme"].Value, FailedValidationErrorMessage: a["failed-validation-error-message"].Value}
	if v, ok := a["token-value"]; ok {
		t.errorf(v.Pos, "validate-jwt token-value is not emulated: give header-name or query-parameter-name")
	}
	if j.HeaderName != "" && j.QueryParameterName != "" {
		t.errorf(e.Pos, "<validate-jwt> takes header-name or query-parameter-name, not both")
	}
	if v, ok := a["failed-validation-httpcode"]; ok {
		j.FailedValidationHTTPCode = int(t.intAttr(v, e))
	}
	if v, ok := a["require-expiration-time"]; ok {
		b := t.boolAttr(v, e)
		j.RequireExpirationTime = &b
	}
	if v, ok := a["require-signed-tokens"]; ok && !t.boolAttr(v, e) {
		t.errorf(v.Pos, "require-signed-tokens=\"false\" is not emulated: the gateway accepts signed tokens only")
	}
	if v, ok := a["clock-skew"]; ok {
		j.ClockSkew = time.Duration(t.intAttr(v, e)) * time.Second
	}
	for _, c := range e.Children {
		t.jwtChild(j, c)
	}
	cfg := gateway.Config{JWT: j}
	cfg.Defaults()
	t.fieldErrors(e, cfg.Validate(), "gateway.jwt")
	t.pol.JWT, t.pol.JWTAt = j, e.Pos
}

// jwtChild translates one child element of validate-jwt.
func (t *translator) jwtChild(j *gateway.JWTConfig, c *element) {
	switch c.Name {
	case "openid-config":
		a := t.attrs(c, "url")
		if j.JWKSURL != "" {
			t.errorf(c.Pos, "aiload takes one <openid-config> per validate-jwt")
		}
		j.JWKSURL = a["url"].Value
	case "issuer-signing-keys":
		for _, k := range c.Children {
			if key, ok := t.signingKey(k); ok {
				j.Keys = append(j.Keys, key)
			}
		}
	case "audiences", "issuers":
		for _, v := range c.Children {
			if v.Name != strings.TrimSuffix(c.Name, "s") {
				t.errorf(v.Pos, "<%s> takes <%s> elements, not <%s>", c.Name, strings.TrimSuffix(c.Name, "s"), v.Name)
				continue
			}
			if c.Name == "audiences" {
				j.Audiences = append(j.Audiences, v.Text)
			} else {
				j.Issuers = append(j.Issuers, v.Text)
			}
		}
	case "required-claims":
		for _, cl := range c.Children {
			t.requiredClaim(j, cl)
		}
	case "decryption-keys":
		t.errorf(c.Pos, "<decryption-keys> is not emulated: the gateway validates signed (JWS) tokens only")
	default:
		t.errorf(c.Pos, "unknown element <%s> in <validate-jwt>", c.Name)
	}
}

// signingKey translates <key>: a base64 symmetric key (HS256) or an RSA
// modulus and exponent (RS256).
func (t *translator) signingKey(k *element) (gateway.JWTKey, bool) {
	if k.Name != "key" {
		t.errorf(k.Pos, "<issuer-signing-keys> takes <key> elements, not <%s>", k.Name)
		return gateway.JWTKey{}, false
	}
	a := t.attrs(k, "id", "certificate-id", "n", "e")
	key := gateway.JWTKey{Kid: a["id"].Value}
	n, e := a["n"], a["e"]
	switch {
	case a["certificate-id"].Name != "":
		t.errorf(a["certificate-id"].Pos, "certificate-id is not emulated (there is no certificate store): give the key's n and e, or a JWKS")
		return key, false
	case n.Name != "" || e.Name != "":
		nb, err1 := decodeB64(n.Value)
		eb, err2 := decodeB64(e.Value)
		if n.Name == "" || e.Name == "" || err1 != nil || err2 != nil || len(eb) == 0 {
			t.errorf(k.Pos, "<key> needs base64 n and e (an RSA key's modulus and exponent)")
			return key, false
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(new(big.Int).SetBytes(eb).Int64())}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.errorf(k.Pos, "<key>: %v", err)
			return key, false
		}
		key.Alg, key.PEM = "RS256", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	default:
		b, err := decodeB64(k.Text)
		if err != nil || len(b) == 0 {
			t.errorf(k.Pos, "<key> holds a base64 symmetric key, got %q", k.Text)
			return key, false
		}
		key.Alg, key.Secret = "HS256", string(b)
	}
	return key, true
}

// decodeB64 reads standard or URL-safe base64, padded or not.
func decodeB64(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	return base64.RawURLEncoding.DecodeString(s)
}

// requiredClaim translates one <claim> of required-claims.
func (t *translator) requiredClaim(j *gateway.JWTConfig, c *element) {
	if c.Name != "claim" {
		t.errorf(c.Pos, "<required-claims> takes <claim> elements, not <%s>", c.Name)
		return
	}
	a := t.attrs(c, "name", "match", "separator")
	name, ok := a["name"]
	if !ok {
		t.errorf(c.Pos, "<claim> needs a name")
		return
	}
	var values []string
	for _, v := range c.Children {
		if v.Name != "value" {
			t.errorf(v.Pos, "<claim> takes <value> elements, not <%s>", v.Name)
			continue
		}
		values = append(values, v.Text)
	}
	if m, ok := a["match"]; ok && m.Value != "all" && m.Value != "any" {
		t.errorf(m.Pos, "match must be all or any, got %q", m.Value)
	}
	if len(values) > 1 || a["separator"].Name != "" || a["match"].Value == "any" {
		if len(values) == 0 {
			t.errorf(c.Pos, "claim %q: match and separator need <value> elements", name.Value)
			return
		}
		j.RequiredClaimValues = append(j.RequiredClaimValues, gateway.ClaimRule{Name: name.Value, Match: a["match"].Value,
			Separator: a["separator"].Value, Values: values})
		return
	}
	if j.RequiredClaims == nil {
		j.RequiredClaims = map[string]string{}
	}
	j.RequiredClaims[name.Value] = strings.Join(values, "")
}
