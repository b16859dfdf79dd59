package apimxml_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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
		"roles": []any{"Writer"}, "groups": "eu,ai,us", "exp": time.Now().Add(time.Hour).Unix()}
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	c[k] = v
	return c
}

// TestValidateJWTPolicy: validate-jwt from a policy document admits a
// token that satisfies it (multi-value required claims included) and
// refuses (401) one
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
		{"none of the any-roles", token(t, "k1", with(claims("chat"), "roles", []any{"Admin"})), 401},
		{"one of the all-groups", token(t, "k1", with(claims("chat"), "groups", "ai")), 401},
		{"wrong scheme", "Token " + token(t, "k1", claims("chat")), 401},
	} {
		h := map[string]string{"api-key": "key-a"}
		if strings.HasPrefix(tc.bearer, "Token ") {
			h["Authorization"] = tc.bearer
		} else if tc.bearer != "" {
			h["Authorization"] = "Bearer " + tc.bearer
		}
		if resp := chat(t, url, h); resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	// The token limit is keyed by the token's oid claim: o-1 has used 12 of
	// its 20 tokens; one more request passes, the next gets 429; o-2 passes.
	bearer := func(oid string) map[string]string {
		return map[string]string{"api-key": "key-a", "Authorization": "Bearer " + token(t, "k1", with(claims("chat"), "oid", oid))}
	}
	for i, want := range []int{200, 429} {
		if resp := chat(t, url, bearer("o-1")); resp.StatusCode != want {
			t.Errorf("o-1 request %d: status %d, want %d", i+2, resp.StatusCode, want)
		}
	}
	if resp := chat(t, url, bearer("o-2")); resp.StatusCode != 200 {
		t.Errorf("o-2: status %d, want 200 (its own counter)", resp.StatusCode)
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

// TestJWTInQuery: query-parameter-name reads the token from the query; the
// parameter does not reach the backend.
func TestJWTInQuery(t *testing.T) {
	t.Parallel()
	doc := filepath.Join(t.TempDir(), "q.xml")
	_ = os.WriteFile(doc, []byte(`<policies><inbound><validate-jwt query-parameter-name="access_token">
  <issuer-signing-keys><key>`+base64.StdEncoding.EncodeToString([]byte(secret))+`</key></issuer-signing-keys></validate-jwt>
</inbound></policies>`), 0o600)
	url, queries := serve(t, twoSubs, apimxml.PolicyFile{Scope: apimxml.ScopeAll, Path: doc})
	if resp := chatQuery(t, url, "", map[string]string{"api-key": "key-a", "Authorization": "Bearer " + token(t, "", claims("chat"))}); resp.StatusCode != 401 {
		t.Errorf("token in the header only: status %d, want 401", resp.StatusCode)
	}
	if resp := chatQuery(t, url, "&access_token="+token(t, "", claims("chat")), map[string]string{"api-key": "key-a"}); resp.StatusCode != 200 {
		t.Fatalf("token in the query: status %d, want 200", resp.StatusCode)
	}
	if q := <-queries; q != "api-version=2024-10-21" {
		t.Errorf("backend got query %q, want only api-version", q)
	}
}
