package gateway_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/aiload/aiload/record"
)

const hsSecret = "0123456789abcdef0123456789abcdef-secret"

func pemOf(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func sign(t *testing.T, m jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestValidateJWT covers validate-jwt: HS256/RS256/ES256 keys from config,
// a JWKS file and a JWKS URL; issuer, audience, required claims, expiry with
// clock skew; alg none and algorithm confusion rejected with 401.
func TestValidateJWT(t *testing.T) {
	t.Parallel()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	dir := t.TempDir()
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "EC", "kid": "ec-file", "crv": "P-256", "x": b64(ecKey.X.FillBytes(make([]byte, 32))), "y": b64(ecKey.Y.FillBytes(make([]byte, 32)))},
	}})
	jwksFile := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwksFile, jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	urlJWKS, _ := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "rsa-url", "use": "sig", "n": b64(otherRSA.N.Bytes()), "e": b64(big.NewInt(int64(otherRSA.E)).Bytes())},
	}})
	jwksSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(urlJWKS) }))
	t.Cleanup(jwksSrv.Close)
	be := newSpy(t, 30)
	cfg := `
products: [{name: p, token_limits: [{counter_key: "jwt:sub", tokens_per_minute: 1000000}]}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
jwt:
  issuer: https://issuer.example
  issuers: [https://other-issuer.example]
  audiences: [api://aiload]
  clock_skew: 30s
  required_claims: {scp: chat}
  jwks_file: ` + jwksFile + `
  jwks_url: ` + jwksSrv.URL + `
  keys:
    - {kid: hs, alg: HS256, secret: "` + hsSecret + `"}
    - kid: rs
      alg: RS256
      pem: |
` + indentBy(pemOf(t, &rsaKey.PublicKey), "        ")
	e := start(t, cfg, be.srv.URL, nil)
	good := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": "https://issuer.example", "aud": "api://aiload", "sub": "user-7", "scp": "read chat",
			"exp": t0.Add(time.Hour).Unix()}
	}
	with := func(k string, v any) jwt.MapClaims { c := good(); c[k] = v; return c }
	without := func(k string) jwt.MapClaims { c := good(); delete(c, k); return c }
	rsPEM := []byte(pemOf(t, &rsaKey.PublicKey))
	for _, tc := range []struct {
		name  string
		token string
		want  int
	}{
		{"HS256 key from config", sign(t, jwt.SigningMethodHS256, []byte(hsSecret), "hs", good()), 200},
		{"RS256 PEM from config", sign(t, jwt.SigningMethodRS256, rsaKey, "rs", good()), 200},
		{"ES256 from the JWKS file", sign(t, jwt.SigningMethodES256, ecKey, "ec-file", good()), 200},
		{"RS256 from the JWKS URL", sign(t, jwt.SigningMethodRS256, otherRSA, "rsa-url", good()), 200},
		{"no kid: any key of the algorithm", sign(t, jwt.SigningMethodHS256, []byte(hsSecret), "", good()), 200},
		{"expired within the clock skew", sign(t, jwt.SigningMethodHS256, []byte(hsSecret), "hs", with("exp", t0.Add(-20*time.Second).Unix())), 200},
		{"expired beyond the clock skew", sign(t, jwt.SigningMethodHS256, []byte(hsSecret), "hs", with("exp", t0.Add(-time.Minute).Unix())), 401},
		{"no exp", sign(t, jwt.SigningMethodHS256, []byte(hsSecret), "hs", without("exp")), 401},
		{"wrong issuer", sign(t, jwt.SigningMethodHS256, []byte(hsSecret), "hs", with("iss", "https://evil.example")), 401},
		{"second accepted issuer", sign(t, jwt.SigningMethodHS256, []byte(hsSecret), "hs", with("iss", "https://other-issuer.example")), 200},
		{"wrong audience", sign(t, jwt.SigningMethodHS256, []byte(hsSecret), "hs", with("aud", "api://other")), 401},
		{"required claim missing", sign(t, jwt.SigningMethodHS256, []byte(hsSecret), "hs", without("scp")), 401},
		{"required claim without the value", sign(t, jwt.SigningMethodHS256, []byte(hsSecret), "hs", with("scp", "read")), 401},
		{"wrong secret", sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("x", 40)), "hs", good()), 401},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", good()), 401},
		// algorithm confusion: an HS256 token "signed" with the RSA public key.
		{"HS256 signed with the RS256 public key", sign(t, jwt.SigningMethodHS256, rsPEM, "rs", good()), 401},
		{"tampered payload", tamper(sign(t, jwt.SigningMethodHS256, []byte(hsSecret), "hs", good())), 401},
		{"no token", "", 401},
	} {
		hdr := map[string]string{}
		if tc.token != "" {
			hdr["Authorization"] = "Bearer " + tc.token
		}
		a := post(t, e.url, chatPath, "k1", chatBody(5), hdr)
		if a.status != tc.want {
			t.Errorf("%s: got %d (%s), want %d", tc.name, a.status, a.body, tc.want)
			continue
		}
		r := e.sink.last(t)
		if tc.want == 401 && (r.Outcome != record.OutcomeUnauthorized || !strings.Contains(string(a.body), "Unauthorized")) {
			t.Errorf("%s: outcome %s body %s", tc.name, r.Outcome, a.body)
		}
		if tc.want == 200 && (r.UserID != "user-7" || r.CounterKey != "user-7") {
			t.Errorf("%s: user_id %q counter_key %q, want the subject", tc.name, r.UserID, r.CounterKey)
		}
	}
	for _, h := range be.headers {
		if h.Get("Authorization") != "" {
			t.Fatalf("the caller's token reached the backend")
		}
	}
}

func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	p = []byte(strings.Replace(string(p), "user-7", "admin", 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(p)
	return strings.Join(parts, ".")
}

func indentBy(s, pad string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = pad + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestValidateJWTFailedValidation: failed-validation-httpcode and
// failed-validation-error-message replace the 401 and its reason.
func TestValidateJWTFailedValidation(t *testing.T) {
	t.Parallel()
	be := newSpy(t, 30)
	e := start(t, `
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
jwt:
  keys: [{alg: HS256, secret: "`+hsSecret+`"}]
  failed_validation_httpcode: 403
  failed_validation_error_message: Access denied.
`, be.srv.URL, nil)
	a := post(t, e.url, chatPath, "k1", chatBody(5), map[string]string{"Authorization": "Bearer x.y.z"})
	if r := e.sink.last(t); a.status != 403 || !strings.Contains(string(a.body), `"Access denied."`) || r.Outcome != record.OutcomeForbidden {
		t.Fatalf("status %d body %s outcome %s", a.status, a.body, r.Outcome)
	}
}

// TestJWKSUnavailableAtStart: a key set that cannot be fetched does not
// stop the gateway; tokens fail with the reason (not the key set's
// address, which goes to the gateway's log) until a later attempt (at
// most every 10 s) gets the keys.
func TestJWKSUnavailableAtStart(t *testing.T) {
	t.Parallel()
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	set, _ := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "k", "n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())}}})
	var up atomic.Bool
	var fetches atomic.Int64
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		if !up.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(set)
	}))
	t.Cleanup(idp.Close)
	be := newSpy(t, 30)
	e := start(t, `
products: [{name: p}]
subscriptions: [{id: s1, key: k1, product: p, team: t}]
jwt: {jwks_url: `+idp.URL+`}
`, be.srv.URL, nil)
	tok := "Bearer " + sign(t, jwt.SigningMethodRS256, key, "k", jwt.MapClaims{"sub": "u", "exp": t0.Add(time.Hour).Unix()})
	hdr := map[string]string{"Authorization": tok}
	if a := post(t, e.url, chatPath, "k1", chatBody(5), hdr); a.status != 401 || !strings.Contains(string(a.body), "signing keys could not be fetched") ||
		strings.Contains(string(a.body), strings.TrimPrefix(idp.URL, "http://")) {
		t.Fatalf("with the key set down: %d %s", a.status, a.body)
	}
	up.Store(true)
	post(t, e.url, chatPath, "k1", chatBody(5), hdr) // within 10 s of the last attempt: not fetched again
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d fetches within 10 s, want 1", n)
	}
	e.clock.Advance(10 * time.Second)
	if a := post(t, e.url, chatPath, "k1", chatBody(5), hdr); a.status != 200 {
		t.Fatalf("after the retry interval: %d %s", a.status, a.body)
	}
}
