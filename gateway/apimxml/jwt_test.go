package apimxml_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/aiload/aiload/gateway/apimxml"
)

const secret = "aiload-test-shared-secret-32-bytes-long" // base64 in testdata/jwt.xml

func token(t *testing.T, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func claims(scp string) jwt.MapClaims {
	return jwt.MapClaims{"iss": "https://login.example/tenant/v2.0", "aud": "api://aiload", "scp": scp, "oid": "o-1",
		"exp": time.Now().Add(time.Hour).Unix()}
}

// TestValidateJWTPolicy: validate-jwt from a policy document admits a
// token that satisfies it and refuses (401) one
// without the required claim and a request without a token.
func TestValidateJWTPolicy(t *testing.T) {
	t.Parallel()
	url, _ := serve(t, twoSubs, apimxml.PolicyFile{Scope: apimxml.ScopeAll, Path: "testdata/jwt.xml"})
	for _, tc := range []struct {
		name   string
		bearer string
		want   int
	}{
		{"valid", token(t, "k1", claims("chat embeddings")), 200},
		{"claim missing", token(t, "k1", claims("embeddings")), 401},
		{"no token", "", 401},
	} {
		h := map[string]string{"api-key": "key-a"}
		if tc.bearer != "" {
			h["Authorization"] = "Bearer " + tc.bearer
		}
		if resp := chat(t, url, h); resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
}

// TestOpenIDConfig: <openid-config url> names a discovery document; the
// gateway follows its jwks_uri to the signing keys.
func TestOpenIDConfig(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	idp := httptest.NewServer(mux)
	defer idp.Close()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"issuer":"https://login.example/tenant/v2.0","jwks_uri":"%s/keys"}`, idp.URL)
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"keys":[{"kty":"oct","kid":"k2","alg":"HS256","k":"`+base64.RawURLEncoding.EncodeToString([]byte(secret))+`"}]}`)
	})
	doc := filepath.Join(t.TempDir(), "oidc.xml")
	_ = os.WriteFile(doc, []byte(`<policies><inbound><base/>
  <validate-jwt header-name="Authorization"><openid-config url="`+idp.URL+`/.well-known/openid-configuration"/>
    <audiences><audience>api://aiload</audience></audiences></validate-jwt>
</inbound></policies>`), 0o600)
	url, _ := serve(t, twoSubs, apimxml.PolicyFile{Scope: apimxml.ScopeAll, Path: doc})
	if resp := chat(t, url, map[string]string{"api-key": "key-a", "Authorization": "Bearer " + token(t, "k2", claims("chat"))}); resp.StatusCode != 200 {
		t.Errorf("token signed with the discovered key: status %d, want 200", resp.StatusCode)
	}
	bad := claims("chat")
	bad["aud"] = "api://other"
	if resp := chat(t, url, map[string]string{"api-key": "key-a", "Authorization": "Bearer " + token(t, "k2", bad)}); resp.StatusCode != 401 {
		t.Errorf("other audience: status %d, want 401", resp.StatusCode)
	}
}
