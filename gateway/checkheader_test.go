package gateway_test

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/aiload/aiload/record"
)

// TestCheckHeaderAndClientApps: check-header refuses a request without the
// header or with a value not listed (its status and message); a token
// whose appid or azp is not among client_application_ids gets 401.
func TestCheckHeaderAndClientApps(t *testing.T) {
	t.Parallel()
	spy := newSpy(t, 10)
	e := start(t, `subscriptions: [{id: s1, key: k1, team: a}]
check_headers:
  - {name: x-tenant, values: [contoso, fabrikam], ignore_case: true, failed_check_httpcode: 403, failed_check_error_message: "Unknown tenant"}
jwt:
  keys: [{alg: HS256, secret: "`+hsSecret+`"}]
  client_application_ids: [app-1]
`, spy.srv.URL, nil)
	tok := func(claims jwt.MapClaims) string {
		claims["exp"] = t0.Add(time.Hour).Unix()
		return "Bearer " + sign(t, jwt.SigningMethodHS256, []byte(hsSecret), "", claims)
	}
	for _, tc := range []struct {
		name    string
		hdr     map[string]string
		status  int
		outcome record.Outcome
		mention string
	}{
		{"no header", map[string]string{"Authorization": tok(jwt.MapClaims{"appid": "app-1"})}, 403, record.OutcomeForbidden, "Unknown tenant"},
		{"value not listed", map[string]string{"x-tenant": "initech", "Authorization": tok(jwt.MapClaims{"appid": "app-1"})}, 403, record.OutcomeForbidden, "Unknown tenant"},
		{"v1 token of the app", map[string]string{"x-tenant": "CONTOSO", "Authorization": tok(jwt.MapClaims{"appid": "app-1"})}, 200, record.OutcomeOK, ""},
		{"v2 token of the app", map[string]string{"x-tenant": "fabrikam", "Authorization": tok(jwt.MapClaims{"azp": "app-1"})}, 200, record.OutcomeOK, ""},
		{"another app", map[string]string{"x-tenant": "contoso", "Authorization": tok(jwt.MapClaims{"azp": "app-2"})}, 401, record.OutcomeUnauthorized, `client application \"app-2\" is not allowed`},
	} {
		a := post(t, e.url, chatPath, "k1", chatBody(5), tc.hdr)
		if a.status != tc.status || !strings.Contains(string(a.body), tc.mention) {
			t.Errorf("%s: status %d body %s; want %d mentioning %q", tc.name, a.status, a.body, tc.status, tc.mention)
		}
		if r := e.sink.last(t); r.Outcome != tc.outcome {
			t.Errorf("%s: record outcome %s, want %s", tc.name, r.Outcome, tc.outcome)
		}
	}
}
