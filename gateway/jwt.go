package gateway

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/aiload/aiload/gateway/policy"
)

// jwksRefetchEvery bounds how often an unknown kid refetches jwks_url, as
// API Management refetches its openid-config at most every 5 minutes.
const jwksRefetchEvery = 5 * time.Minute

// jwksRetryEvery bounds how often a jwks_url that failed is tried again.
const jwksRetryEvery = 10 * time.Second

// supportedAlgs are the signing algorithms validate-jwt accepts; "none"
// never is.
var supportedAlgs = []string{"HS256", "RS256", "ES256"}

// verifyKey is one key bound to one algorithm: a token is only checked
// against keys of its own algorithm, so an RSA public key can never be
// used as an HMAC secret (algorithm confusion).
type verifyKey struct {
	kid, alg string
	key      any
}

// jwtValidator is validate-jwt.
type jwtValidator struct {
	cfg    JWTConfig
	clock  policy.Clock
	client *http.Client
	parser *jwt.Parser

	mu        sync.Mutex
	keys      []verifyKey
	fetchedAt time.Time // last successful fetch of jwks_url
	triedAt   time.Time // last attempt
	fetchErr  error     // of the last attempt
}

func (c *JWTConfig) validate(errs *problems, path string) {
	if len(c.Keys) == 0 && c.JWKSFile == "" && c.JWKSURL == "" {
		errs.add(path+".keys", "set keys, jwks_file or jwks_url")
	}
	for i, k := range c.Keys {
		if _, err := k.parse(); err != nil {
			errs.add(fmt.Sprintf("%s.keys[%d]", path, i), "%v", err)
		}
	}
	if c.ClockSkew < 0 {
		errs.add(path+".clock_skew", "must be >= 0")
	}
	if u, err := url.Parse(c.JWKSURL); c.JWKSURL != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		errs.add(path+".jwks_url", "must be an absolute http(s) URL, got %q", c.JWKSURL)
	}
	for i, r := range c.RequiredClaimValues {
		p := fmt.Sprintf("%s.required_claim_values[%d]", path, i)
		if r.Name == "" {
			errs.add(p+".name", "must be set")
		}
		if r.Match != "" && r.Match != "all" && r.Match != "any" {
			errs.add(p+".match", "must be all or any, got %q", r.Match)
		}
		if len(r.Values) == 0 {
			errs.add(p+".values", "must list at least one value")
		}
	}
	if code := c.FailedValidationHTTPCode; code != 0 && (code < 400 || code > 499) {
		errs.add(path+".failed_validation_httpcode", "must be a 4xx status, got %d", code)
	}
}

func (k JWTKey) parse() (verifyKey, error) {
	v := verifyKey{kid: k.Kid, alg: k.Alg}
	pem := []byte(k.PEM)
	if k.PEMFile != "" {
		b, err := os.ReadFile(k.PEMFile)
		if err != nil {
			return v, fmt.Errorf("read pem_file: %w", err)
		}
		pem = b
	}
	var err error
	switch k.Alg {
	case "HS256":
		if len(k.Secret) < 32 {
			return v, errors.New("HS256 secret must be at least 32 bytes")
		}
		v.key = []byte(k.Secret)
	case "RS256":
		v.key, err = jwt.ParseRSAPublicKeyFromPEM(pem)
	case "ES256":
		v.key, err = jwt.ParseECPublicKeyFromPEM(pem)
	default:
		return v, fmt.Errorf("alg must be one of %s, got %q", strings.Join(supportedAlgs, ", "), k.Alg)
	}
	if err != nil {
		return v, fmt.Errorf("%s pem: %w", k.Alg, err)
	}
	return v, nil
}

func newJWTValidator(cfg JWTConfig, clock policy.Clock, client *http.Client) (*jwtValidator, error) {
	v := &jwtValidator{cfg: cfg, clock: clock, client: client}
	for _, k := range cfg.Keys {
		vk, err := k.parse()
		if err != nil {
			return nil, err
		}
		v.keys = append(v.keys, vk)
	}
	if cfg.JWKSFile != "" {
		b, err := os.ReadFile(cfg.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("read jwks_file: %w", err)
		}
		ks, err := parseJWKS(b)
		if err != nil {
			return nil, fmt.Errorf("jwks_file: %w", err)
		}
		v.keys = append(v.keys, ks...)
	}
	if cfg.JWKSURL != "" {
		// An unreachable key set does not stop the gateway: tokens fail
		// until a later attempt (at most every jwksRetryEvery) succeeds.
		_ = v.fetch(context.Background())
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(supportedAlgs), jwt.WithTimeFunc(clock.Now), jwt.WithLeeway(cfg.ClockSkew)}
	if cfg.RequireExpirationTime == nil || *cfg.RequireExpirationTime {
		opts = append(opts, jwt.WithExpirationRequired())
	}

	if len(cfg.Audiences) > 0 {
		opts = append(opts, jwt.WithAudience(cfg.Audiences...))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// fetch loads jwks_url, keeping the configured and file keys, and notes
// the attempt.
func (v *jwtValidator) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := v.load(ctx)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.triedAt, v.fetchErr = v.clock.Now(), err
	if err == nil {
		v.fetchedAt = v.triedAt
	}
	return err
}

// due reports whether jwks_url may be fetched again for an unknown key.
func (v *jwtValidator) due() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.clock.Now()
	if v.fetchErr != nil {
		return now.Sub(v.triedAt) >= jwksRetryEvery
	}
	return now.Sub(v.fetchedAt) >= jwksRefetchEvery
}

func (v *jwtValidator) load(ctx context.Context) error {
	b, err := v.get(ctx, v.cfg.JWKSURL)
	if err != nil {
		return err
	}
	// An OpenID Connect discovery document (API Management's openid-config)
	// names the key set's URL.
	var doc struct {
		Keys    json.RawMessage `json:"keys"`
		JWKSURI string          `json:"jwks_uri"`
	}
	if json.Unmarshal(b, &doc) == nil && doc.Keys == nil && doc.JWKSURI != "" {
		if b, err = v.get(ctx, doc.JWKSURI); err != nil {
			return err
		}
	}
	ks, err := parseJWKS(b)
	if err != nil {
		return fmt.Errorf("jwks_url: %w", err)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.keys = slices.DeleteFunc(v.keys, func(k verifyKey) bool { return strings.HasPrefix(k.kid, "\x00url:") })
	for _, k := range ks {
		k.kid = "\x00url:" + k.kid
		v.keys = append(v.keys, k)
	}
	return nil
}

// get reads a key set (or discovery document) from url.
func (v *jwtValidator) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks_url: %w", err)
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch jwks_url: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch jwks_url: status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("fetch jwks_url: %w", err)
	}
	return b, nil
}

// candidates returns the keys a token of alg and kid may be checked with.
func (v *jwtValidator) candidates(alg, kid string) []any {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []any
	for _, k := range v.keys {
		id := strings.TrimPrefix(k.kid, "\x00url:")
		if k.alg == alg && (kid == "" || id == "" || id == kid) {
			out = append(out, k.key)
		}
	}
	return out
}

// validate checks the request's token and returns its claims.
func (v *jwtValidator) validate(ctx context.Context, header, query func(name string) string) (map[string]any, error) {
	raw, err := v.token(header, query)
	if err != nil {
		return nil, err
	}
	claims := jwt.MapClaims{}
	_, err = v.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) { return v.keyFor(ctx, t) })
	if err != nil {
		return nil, err
	}
	if err := v.issuer(claims); err != nil {
		return nil, err
	}
	if err := v.requiredClaims(claims); err != nil {
		return nil, err
	}
	return claims, nil
}

// token reads the token from the query parameter or header, checking the
// header's scheme.
func (v *jwtValidator) token(header, query func(name string) string) (string, error) {
	if q := v.cfg.QueryParameterName; q != "" {
		if raw := strings.TrimSpace(query(q)); raw != "" {
			return raw, nil
		}
		return "", &missingTokenError{fmt.Sprintf("no token in the %s query parameter", q)}
	}
	name := cmp.Or(v.cfg.HeaderName, "Authorization")
	raw := strings.TrimSpace(header(name))
	if raw == "" {
		return "", &missingTokenError{fmt.Sprintf("no token in the %s header", name)}
	}
	scheme := v.cfg.RequireScheme
	if scheme == "" && strings.EqualFold(name, "Authorization") {
		scheme = "Bearer"
	}
	if scheme == "" {
		return raw, nil
	}
	s, tok, ok := strings.Cut(raw, " ")
	if !ok || !strings.EqualFold(s, scheme) {
		return "", fmt.Errorf("the %s header must use the %s scheme", name, scheme)
	}
	return strings.TrimSpace(tok), nil
}

func (v *jwtValidator) keyFor(ctx context.Context, t *jwt.Token) (any, error) {
	alg, _ := t.Header["alg"].(string)
	kid, _ := t.Header["kid"].(string)
	keys := v.candidates(alg, kid)
	if len(keys) == 0 && v.cfg.JWKSURL != "" && v.due() {
		if err := v.fetch(ctx); err == nil {
			keys = v.candidates(alg, kid)
		}
	}
	switch len(keys) {
	case 0:
		v.mu.Lock()
		ferr := v.fetchErr
		v.mu.Unlock()
		if ferr != nil {
			return nil, &privateError{public: fmt.Sprintf("no %s key with kid %q (the signing keys could not be fetched)", alg, kid), err: ferr}
		}
		return nil, fmt.Errorf("no %s key with kid %q", alg, kid)
	case 1:
		return keys[0], nil
	}
	set := jwt.VerificationKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k)
	}
	return set, nil
}

// issuer checks iss against issuer and issuers, when any is configured.
func (v *jwtValidator) issuer(c jwt.MapClaims) error {
	want := v.cfg.Issuers
	if v.cfg.Issuer != "" {
		want = append([]string{v.cfg.Issuer}, want...)
	}
	if len(want) == 0 {
		return nil
	}
	iss, _ := c["iss"].(string)
	if !slices.Contains(want, iss) {
		return fmt.Errorf("token has invalid issuer %q", iss)
	}
	return nil
}

// requiredClaims checks required_claims: present, and containing the value
// when one is given (string equal, space-separated list or array member).
func (v *jwtValidator) requiredClaims(c jwt.MapClaims) error {
	for name, want := range v.cfg.RequiredClaims {
		got, ok := c[name]
		if !ok {
			return fmt.Errorf("required claim %q is missing", name)
		}
		if want != "" && !claimHas(got, want) {
			return fmt.Errorf("required claim %q does not contain %q", name, want)
		}
	}
	if ids := v.cfg.ClientApplicationIDs; len(ids) > 0 {
		app, _ := c["appid"].(string)
		if app == "" {
			app, _ = c["azp"].(string)
		}
		if !slices.Contains(ids, app) {
			return fmt.Errorf("token's client application %q is not allowed", app)
		}
	}
	for _, r := range v.cfg.RequiredClaimValues {
		got, ok := c[r.Name]
		if !ok {
			return fmt.Errorf("required claim %q is missing", r.Name)
		}
		have := claimValues(got, r.Separator)
		n := 0
		for _, want := range r.Values {
			if slices.Contains(have, want) {
				n++
			}
		}
		if (r.Match == "any" && n == 0) || (r.Match != "any" && n < len(r.Values)) {
			return fmt.Errorf("required claim %q does not contain %s of %q", r.Name, cmp.Or(r.Match, "all"), r.Values)
		}
	}
	return nil
}

// claimValues lists a claim's values: an array's members, or a string split
// at sep (at spaces without one).
func claimValues(v any, sep string) []string {
	var out []string
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			out = append(out, fmt.Sprint(e))
		}
	case string:
		if sep == "" {
			return strings.Fields(t)
		}
		for _, p := range strings.Split(t, sep) {
			out = append(out, strings.TrimSpace(p))
		}
	default:
		out = append(out, fmt.Sprint(t))
	}
	return out
}

func claimHas(v any, want string) bool {
	switch t := v.(type) {
	case string:
		return t == want || slices.Contains(strings.Fields(t), want)
	case []any:
		for _, e := range t {
			if fmt.Sprint(e) == want {
				return true
			}
		}
	}
	return fmt.Sprint(v) == want
}

// jwk is one JSON Web Key (RFC 7517) of type RSA, EC (P-256) or oct.
type jwk struct {
	Kty, Kid, Alg, Use string
	N, E, Crv, X, Y, K string
}

// parseJWKS reads a JSON Web Key Set; keys without alg get RS256 (RSA),
// ES256 (EC P-256) or HS256 (oct). Keys for encryption are skipped.
func parseJWKS(b []byte) ([]verifyKey, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	var out []verifyKey
	for i, k := range set.Keys {
		if k.Use == "enc" {
			continue
		}
		vk, err := k.verifyKey()
		if err != nil {
			return nil, fmt.Errorf("keys[%d] (kid %q): %w", i, k.Kid, err)
		}
		out = append(out, vk)
	}
	return out, nil
}

func (k jwk) verifyKey() (verifyKey, error) {
	b64 := func(s string) *big.Int {
		b, _ := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
		return new(big.Int).SetBytes(b)
	}
	vk := verifyKey{kid: k.Kid, alg: k.Alg}
	switch k.Kty {
	case "RSA":
		if k.N == "" || k.E == "" {
			return vk, errors.New("RSA key needs n and e")
		}
		vk.key = &rsa.PublicKey{N: b64(k.N), E: int(b64(k.E).Int64())}
		vk.alg = cmp.Or(vk.alg, "RS256")
	case "EC":
		if k.Crv != "P-256" {
			return vk, fmt.Errorf("unsupported curve %q (want P-256)", k.Crv)
		}
		vk.key = &ecdsa.PublicKey{Curve: elliptic.P256(), X: b64(k.X), Y: b64(k.Y)}
		vk.alg = cmp.Or(vk.alg, "ES256")
	case "oct":
		s, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.K, "="))
		if err != nil || len(s) == 0 {
			return vk, errors.New("oct key needs k")
		}
		vk.key = s
		vk.alg = cmp.Or(vk.alg, "HS256")
	default:
		return vk, fmt.Errorf("unsupported kty %q", k.Kty)
	}
	if !slices.Contains(supportedAlgs, vk.alg) {
		return vk, fmt.Errorf("unsupported alg %q", vk.alg)
	}
	return vk, nil
}

// missingTokenError is validate-jwt's refusal of a request without a token
// (API Management: "JWT not present.").
type missingTokenError struct{ msg string }

func (e *missingTokenError) Error() string { return e.msg }
