// Package mockidentity is an offline stand-in for the two places a gateway
// gets Microsoft Entra ID tokens from: the Azure Instance Metadata Service
// (IMDS, managed identity) and the Entra ID token endpoint (client
// credentials). Tokens are RS256 JWTs signed with a key generated at start
// and published as a JSON Web Key Set, so a mock backend can check them as
// Azure OpenAI does (signature, audience, expiry).
package mockidentity

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Audience is the resource Azure OpenAI / Foundry tokens are issued for.
const Audience = "https://cognitiveservices.azure.com"

// Config shapes the mock identity endpoint.
type Config struct {
	// TokenLifetime is how long an issued token is valid (default 1h).
	TokenLifetime time.Duration
	// Tenant is the tenant in issued tokens' iss and tid (default a fixed GUID).
	Tenant string
	// ClientSecrets, when set, are the client credentials accepted by the
	// token endpoint (client id → secret); empty accepts any pair.
	ClientSecrets map[string]string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// DefaultTenant is the tenant of a Config without one.
const DefaultTenant = "00000000-0000-0000-0000-0000000000a1"

// Server issues and verifies tokens. Create it with New; it is an http.Handler.
type Server struct {
	cfg    Config
	key    *rsa.PrivateKey
	kid    string
	mux    *http.ServeMux
	issued atomic.Int64
}

var _ http.Handler = (*Server)(nil)

// signingKey is generated once per process and shared by every Server:
// the Azure SDK caches managed identity tokens process-wide, so a token one
// mock issued may be sent to a backend guarded by another (two runs in one
// process) and must verify there too.
var signingKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// New returns a mock identity endpoint signing with the process's mock key.
func New(cfg Config) (*Server, error) {
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = time.Hour
	}
	if cfg.Tenant == "" {
		cfg.Tenant = DefaultTenant
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	key, err := signingKey()
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	s := &Server{cfg: cfg, key: key, kid: "aiload-mock-1", mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /metadata/identity/oauth2/token", s.handleIMDS)
	s.mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.handleToken)
	s.mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.handleOpenID)
	s.mux.HandleFunc("GET /common/discovery/instance", s.handleInstance)
	s.mux.HandleFunc("GET /discovery/v2.0/keys", s.handleJWKS)
	s.mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.handleJWKS)
	return s, nil
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Issued is the number of tokens issued so far.
func (s *Server) Issued() int64 { return s.issued.Load() }

// issue signs a token for aud naming the caller's app id; it returns the
// token and its lifetime in whole seconds, counted down to the exp claim
// (which has whole seconds too), so a client never holds a token longer than
// the backend accepts it.
func (s *Server) issue(aud, appID string) (string, int64, error) {
	now := s.cfg.Now()
	exp := now.Add(s.cfg.TokenLifetime).Truncate(time.Second)
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"aud": aud, "iss": "https://sts.windows.net/" + s.cfg.Tenant + "/",
		"tid": s.cfg.Tenant, "appid": appID, "oid": appID, "sub": appID,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": exp.Unix(),
	})
	t.Header["kid"] = s.kid
	signed, err := t.SignedString(s.key)
	if err != nil {
		return "", 0, fmt.Errorf("sign token: %w", err)
	}
	s.issued.Add(1)
	return signed, int64(exp.Sub(now) / time.Second), nil
}

// handleIMDS answers as IMDS does: GET with Metadata: true and resource.
func (s *Server) handleIMDS(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Metadata") != "true" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Required metadata header not specified")
		return
	}
	resource := strings.TrimSuffix(r.URL.Query().Get("resource"), "/")
	if resource == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Required query variable 'resource' is missing")
		return
	}
	appID := r.URL.Query().Get("client_id")
	if appID == "" {
		appID = "system-assigned"
	}
	now := s.cfg.Now()
	tok, secs, err := s.issue(resource, appID)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	life := strconv.FormatInt(secs, 10)
	writeJSON(w, map[string]string{
		"access_token": tok, "client_id": appID, "expires_in": life, "ext_expires_in": life,
		"expires_on": strconv.FormatInt(now.Unix()+secs, 10), "not_before": strconv.FormatInt(now.Unix(), 10),
		"resource": resource, "token_type": "Bearer", "refresh_in": strconv.FormatInt(max(secs/2, 1), 10),
	})
}

// handleToken is Entra ID's v2.0 token endpoint for the client credentials grant.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: malformed form body")
		return
	}
	if g := r.PostForm.Get("grant_type"); g != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "AADSTS70003: grant type "+strconv.Quote(g)+" is not supported by the mock")
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if want, ok := s.cfg.ClientSecrets[id]; id == "" || (len(s.cfg.ClientSecrets) > 0 && (!ok || want != secret)) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
		return
	}
	var aud string
	for _, sc := range strings.Fields(r.PostForm.Get("scope")) {
		if strings.HasSuffix(sc, "/.default") {
			aud = strings.TrimSuffix(sc, "/.default")
		}
	}
	if aud == "" {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "AADSTS1002012: The provided value for scope is not valid; client credential flows must have a scope value with /.default")
		return
	}
	tok, secs, err := s.issue(aud, id)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	writeJSON(w, map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "refresh_in": max(secs/2, 1), "access_token": tok})
}

// handleOpenID is the tenant's discovery document; its endpoints are on
// the host the request came to.
func (s *Server) handleOpenID(w http.ResponseWriter, r *http.Request) {
	base := "https://" + r.Host + "/" + r.PathValue("tenant")
	if r.TLS == nil && r.Header.Get("X-Forwarded-Proto") == "" && !strings.Contains(r.Host, "login.microsoftonline.com") {
		base = "http://" + r.Host + "/" + r.PathValue("tenant")
	}
	writeJSON(w, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"issuer":                                "https://login.microsoftonline.com/" + r.PathValue("tenant") + "/v2.0",
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
	})
}

// handleInstance is Entra ID's instance discovery, answered for any authority.
func (s *Server) handleInstance(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{
		"tenant_discovery_endpoint": r.URL.Query().Get("authorization_endpoint"),
		"api-version":               "1.1",
		"metadata":                  []any{},
	})
}

// JWKS is the key set tokens are signed with.
func (s *Server) JWKS() map[string]any {
	pub := s.key.PublicKey
	enc := base64.RawURLEncoding.EncodeToString
	return map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": s.kid,
		"n": enc(pub.N.Bytes()), "e": enc(big.NewInt(int64(pub.E)).Bytes()),
	}}}
}

func (s *Server) handleJWKS(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.JWKS()) }

// Verify checks a token as Azure OpenAI does: RS256 signature by this
// server's key, audience Audience, not expired. The error never contains the token.
func (s *Server) Verify(token string) error {
	_, err := jwt.Parse(token, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != s.kid {
			return nil, errors.New("unknown signing key")
		}
		return &s.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(s.cfg.Now))
	if err != nil {
		return fmt.Errorf("invalid token: %w", err)
	}
	return nil
}

// unauthorized is Azure OpenAI's answer to a missing or bad bearer token.
const unauthorized = `{"error":{"code":"401","message":"Unauthorized. Access token is missing, invalid, audience is incorrect (https://cognitiveservices.azure.com), or have expired."}}`

// Require wraps next so that only requests carrying a bearer token that
// s.Verify accepts reach it; others get Azure OpenAI's 401. Rejected counts them.
func (s *Server) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || s.Verify(tok) != nil {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="https://login.microsoftonline.com/`+s.cfg.Tenant+`", error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(unauthorized))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
